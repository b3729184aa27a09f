// effusion's web UI: plain JavaScript over the daemon's own Transmission RPC
// (short polling) and its processes view (JSON, and Server-Sent Events for
// a live watch). No build step, nothing loaded from elsewhere.
'use strict';

const $ = (sel, root = document) => root.querySelector(sel);
const el = (tag, props = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.includes('-') || k === 'role' || k === 'scope' || k === 'tabindex') e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const kid of kids) if (kid != null) e.append(kid);
  return e;
};

// ---- RPC -------------------------------------------------------------

let sessionId = '';

async function rpc(method, args = {}) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const res = await fetch('transmission/rpc', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Transmission-Session-Id': sessionId },
      body: JSON.stringify({ method, arguments: args }),
      credentials: 'same-origin',
    });
    if (res.status === 409) {
      sessionId = res.headers.get('X-Transmission-Session-Id') || '';
      continue;
    }
    if (!res.ok) throw new Error(`${method}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
    const body = await res.json();
    if (body.result !== 'success') throw new Error(body.result);
    return body.arguments || {};
  }
  throw new Error(`${method}: the session id handshake failed`);
}

// ---- formatting --------------------------------------------------------

const units = ['B', 'kB', 'MB', 'GB', 'TB'];
function size(n) {
  if (!(n > 0)) return '0 B';
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${n >= 100 || i === 0 ? n.toFixed(0) : n.toFixed(1)} ${units[i]}`;
}
const rate = (n) => `${size(n)}/s`;
function duration(s) {
  if (s < 0) return 'unknown';
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}
const statusNames = ['stopped', 'waiting to verify', 'verifying', 'queued', 'downloading', 'queued to seed', 'seeding'];
function stateOf(t) {
  if (t.error) return `failed: ${t.errorString}`;
  if (t.status === 4 && t.metadataPercentComplete < 1) return `fetching metadata ${pct(t.metadataPercentComplete)}`;
  return statusNames[t.status] || 'unknown';
}
const pct = (x) => `${(Math.floor(x * 1000) / 10).toFixed(1)}%`;

// ---- notices -----------------------------------------------------------

function notify(msg, error = false) {
  const n = $('#notice');
  n.textContent = msg;
  n.classList.toggle('error', error);
}
function fail(err) { notify(String(err.message || err), true); }

// ---- the torrent list --------------------------------------------------

const listFields = ['id', 'name', 'hashString', 'status', 'error', 'errorString', 'percentDone', 'rateDownload',
  'rateUpload', 'eta', 'peersConnected', 'sizeWhenDone', 'leftUntilDone', 'uploadRatio', 'metadataPercentComplete'];
const rows = new Map(); // id -> {li, t}

function renderList(torrents) {
  const ul = $('#torrents');
  const seen = new Set();
  $('#list-h').textContent = `Torrents (${torrents.length})`;
  $('#empty').hidden = torrents.length > 0;
  torrents.sort((a, b) => a.id - b.id);
  let prev = null;
  for (const t of torrents) {
    seen.add(t.id);
    let row = rows.get(t.id);
    if (!row) {
      row = { li: makeRow(t.id), t };
      rows.set(t.id, row);
    }
    row.t = t;
    updateRow(row.li, t);
    const want = prev ? prev.nextSibling : ul.firstChild;
    if (want !== row.li) ul.insertBefore(row.li, want);
    prev = row.li;
  }
  for (const [id, row] of rows) {
    if (!seen.has(id)) {
      if (row.li.contains(document.activeElement)) $('#list-h').focus();
      row.li.remove();
      rows.delete(id);
    }
  }
}

function makeRow(id) {
  const li = $('#torrent-template').content.firstElementChild.cloneNode(true);
  li.dataset.id = id;
  const detail = $('.detail', li);
  detail.id = `detail-${id}`;
  const name = $('.name', li);
  name.setAttribute('aria-controls', detail.id);
  name.addEventListener('click', () => {
    const open = detail.hidden;
    detail.hidden = !open;
    name.setAttribute('aria-expanded', String(open));
    if (open) refreshDetail(id);
  });
  for (const d of detail.querySelectorAll('details')) d.addEventListener('toggle', () => { if (d.open) refreshDetail(id); });
  $('.toggle', li).addEventListener('click', async (ev) => {
    const t = rows.get(id).t;
    const stopped = t.status === 0;
    ev.target.disabled = true;
    try {
      await rpc(stopped ? 'torrent-start' : 'torrent-stop', { ids: [id] });
      notify(`${stopped ? 'Started' : 'Stopped'} ${t.name}`);
    } catch (e) { fail(e); }
    ev.target.disabled = false;
    refresh();
  });
  $('.remove', li).addEventListener('click', () => askRemove(id));
  return li;
}

function updateRow(li, t) {
  const name = $('.name', li);
  if (name.textContent !== t.name) name.textContent = t.name;
  const prog = $('progress', li);
  prog.value = t.percentDone;
  prog.setAttribute('aria-label', `${t.name}: ${pct(t.percentDone)} done`);
  $('.pct', li).textContent = pct(t.percentDone);
  const meta = $('.meta', li);
  meta.replaceChildren(
    el('span', { class: `state${t.error ? ' failed' : ''}`, text: stateOf(t) }),
    ` · down ${rate(t.rateDownload)} · up ${rate(t.rateUpload)}`,
    t.leftUntilDone > 0 ? ` · ETA ${duration(t.eta)}` : '',
    ` · ${t.peersConnected} peer${t.peersConnected === 1 ? '' : 's'}`,
    ` · ${size(t.sizeWhenDone)}`,
  );
  const toggle = $('.toggle', li);
  const label = t.status === 0 ? 'Start' : 'Stop';
  if (toggle.textContent !== label) toggle.textContent = label;
  toggle.setAttribute('aria-label', `${label} ${t.name}`);
  $('.remove', li).setAttribute('aria-label', `Remove ${t.name}`);
}

// ---- a torrent's detail ---------------------------------------------------

async function refreshDetail(id) {
  const row = rows.get(id);
  if (!row) return;
  const detail = $('.detail', row.li);
  if (detail.hidden) return;
  const open = (cls) => $(`details.${cls}`, detail).open;
  const fields = ['id', 'name'];
  if (open('files')) fields.push('files', 'fileStats', 'streams');
  if (open('peers')) fields.push('peers');
  if (open('trackers')) fields.push('trackerStats');
  if (open('pieces')) fields.push('pieces', 'pieceCount');
  if (fields.length === 2) return;
  let t;
  try {
    const r = await rpc('torrent-get', { ids: [id], fields });
    t = r.torrents[0];
  } catch (e) { fail(e); return; }
  if (!t) return;
  if (t.files) renderFiles(detail, t);
  if (t.peers) renderPeers(detail, t);
  if (t.trackerStats) renderTrackers(detail, t);
  if (t.pieces !== undefined) renderPieces(detail, t);
}

function table(caption, heads, body) {
  const tbl = el('table', {}, el('caption', { class: 'visually-hidden', text: caption }));
  const tr = el('tr');
  for (const h of heads) tr.append(el('th', { scope: 'col', text: h.text || h, class: h.num ? 'num' : '' }));
  tbl.append(el('thead', {}, tr), body);
  return tbl;
}

function renderFiles(detail, t) {
  const box = $('details.files .scroll', detail);
  box.setAttribute('aria-label', `Files of ${t.name}`);
  const active = document.activeElement;
  const keep = box.contains(active) ? `${active.localName}[data-file="${active.dataset.file}"]` : null;
  const body = el('tbody');
  t.files.forEach((f, i) => {
    const st = t.fileStats[i];
    const sel = el('select', { 'aria-label': `Priority of ${f.name}`, 'data-file': String(i) },
      el('option', { value: 'skip', text: 'Skip' }),
      el('option', { value: 'normal', text: 'Normal' }),
      el('option', { value: 'high', text: 'High' }));
    sel.value = !st.wanted ? 'skip' : st.priority > 0 ? 'high' : 'normal';
    sel.addEventListener('change', async () => {
      const args = { ids: [t.id] };
      if (sel.value === 'skip') args['files-unwanted'] = [i];
      else {
        args['files-wanted'] = [i];
        args[sel.value === 'high' ? 'priority-high' : 'priority-normal'] = [i];
      }
      try {
        await rpc('torrent-set', args);
        notify(`${f.name}: ${sel.options[sel.selectedIndex].text}`);
      } catch (e) { fail(e); }
      refreshDetail(t.id);
    });
    body.append(el('tr', {},
      el('td', { class: 'wrap', text: f.name }),
      el('td', { class: 'num', text: size(f.length) }),
      el('td', { class: 'num', text: f.length ? pct(f.bytesCompleted / f.length) : '100%' }),
      el('td', {}, sel),
      el('td', {}, t.streams && t.streams[i] ? streamLink(f.name, t.streams[i], i) : '—')));
  });
  box.replaceChildren(table(`Files of ${t.name}`, ['Name', { text: 'Size', num: true }, { text: 'Done', num: true }, 'Priority', 'Stream'], body));
  if (keep) $(keep, box)?.focus();
}

// streamLink is a file's link to the daemon's /stream/ address (relative:
// the UI may sit behind a proxy's prefix): media plays in the page's
// player, other files open in a tab. A modified click, or copying the
// link for a player, still gets the address.
function streamLink(name, s, i) {
  const href = s.path.replace(/^\//, '');
  const media = /^(video|audio)\//.test(s.type);
  const a = el('a', { href, class: 'stream', text: media ? 'Play' : 'Open', 'aria-label': `${media ? 'Play' : 'Open'} ${name}`, 'data-file': String(i) });
  if (!media) {
    a.target = '_blank';
    a.rel = 'noopener';
    return a;
  }
  a.addEventListener('click', (ev) => {
    if (ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey) return;
    ev.preventDefault();
    play(name, href, a);
  });
  return a;
}

// ---- the player ------------------------------------------------------------

let playerOpener = null; // the torrent's row and the file's index, to focus its link again on close

function play(name, href, opener) {
  const dlg = $('#player-dialog');
  const v = $('#player');
  playerOpener = { li: opener.closest('li.torrent'), file: opener.dataset.file };
  $('#player-h').textContent = name;
  $('#player-state').textContent = 'Waiting for the first pieces…';
  $('#player-link').href = href;
  v.src = href;
  dlg.showModal();
  v.focus();
  v.play().catch(() => {}); // refused autoplay or an error: the controls and the state say so
}

function closePlayer() {
  const v = $('#player');
  // Unloading ends the request, so that the daemon stops fetching for it.
  v.pause();
  v.removeAttribute('src');
  v.load();
  // The files table is redrawn while the player is open: find the link anew.
  if (playerOpener?.li) $(`a.stream[data-file="${playerOpener.file}"]`, playerOpener.li)?.focus();
  playerOpener = null;
}

function playerEvents() {
  const v = $('#player');
  const state = (text) => { if (v.getAttribute('src')) $('#player-state').textContent = text; };
  v.addEventListener('waiting', () => state('Waiting for pieces…'));
  v.addEventListener('playing', () => state(''));
  v.addEventListener('canplay', () => state(''));
  v.addEventListener('error', () => state(`Cannot play this here (${v.error?.message || 'unsupported format'}): try a player with the address below.`));
  $('#player-dialog').addEventListener('close', closePlayer);
}

function renderPeers(detail, t) {
  const box = $('details.peers .scroll', detail);
  box.setAttribute('aria-label', `Peers of ${t.name}`);
  if (!t.peers.length) { box.replaceChildren(el('p', { text: 'No peers connected.' })); return; }
  const body = el('tbody');
  for (const p of t.peers) {
    body.append(el('tr', {},
      el('td', { class: 'mono', text: `${p.address}:${p.port}` }),
      el('td', { text: p.clientName || '—' }),
      el('td', { class: 'mono', text: p.flagStr }),
      el('td', { class: 'num', text: rate(p.rateToClient) }),
      el('td', { class: 'num', text: rate(p.rateToPeer) }),
      el('td', { class: 'num', text: pct(p.progress) })));
  }
  box.replaceChildren(table(`Peers of ${t.name}`, ['Address', 'Client', 'Flags', { text: 'Down', num: true },
    { text: 'Up', num: true }, { text: 'Has', num: true }], body));
}

function renderTrackers(detail, t) {
  const box = $('details.trackers .content', detail);
  if (!t.trackerStats.length) { box.replaceChildren(el('p', { text: 'No trackers: peers come from other peers.' })); return; }
  const ul = el('ul');
  for (const s of t.trackerStats) {
    let what = s.lastAnnounceResult || 'not announced yet';
    if (s.hasAnnounced) what += `, ${s.lastAnnouncePeerCount} peers, ${s.seederCount} seeders, ${s.leecherCount} leechers`;
    if (s.nextAnnounceTime > 0) what += `; next announce in ${duration(Math.max(0, s.nextAnnounceTime - Math.floor(Date.now() / 1000)))}`;
    ul.append(el('li', {}, el('span', { class: 'mono', text: s.announce }), ` (tier ${s.tier}): ${what}`));
  }
  box.replaceChildren(ul);
}

function renderPieces(detail, t) {
  const canvas = $('canvas.map', detail);
  const bits = atob(t.pieces);
  const n = t.pieceCount;
  let have = 0;
  const cols = Math.min(n, 64) || 1;
  const rowsN = Math.ceil(n / cols);
  const cell = 8;
  canvas.width = cols * cell;
  canvas.height = rowsN * cell;
  const ctx = canvas.getContext('2d');
  const styles = getComputedStyle(document.documentElement);
  ctx.fillStyle = styles.getPropertyValue('--line');
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = styles.getPropertyValue('--accent');
  for (let i = 0; i < n; i++) {
    if (bits.charCodeAt(i >> 3) & (0x80 >> (i & 7))) {
      have++;
      ctx.fillRect((i % cols) * cell, Math.floor(i / cols) * cell, cell - 1, cell - 1);
    }
  }
  const text = `${have} of ${n} pieces verified`;
  canvas.setAttribute('aria-label', `Pieces map: ${text}`);
  $('.ptext', detail).textContent = text;
}

// ---- removing ----------------------------------------------------------------

function askRemove(id) {
  const t = rows.get(id).t;
  const dlg = $('#remove-dialog');
  $('#remove-text').textContent = `Remove “${t.name}” from the daemon?`;
  dlg.returnValue = 'cancel';
  dlg.onclose = async () => {
    if (dlg.returnValue !== 'keep' && dlg.returnValue !== 'delete') {
      $('.remove', rows.get(id)?.li || document)?.focus();
      return;
    }
    const del = dlg.returnValue === 'delete';
    try {
      await rpc('torrent-remove', { ids: [id], 'delete-local-data': del });
      notify(`Removed ${t.name}${del ? ' and deleted its data' : ''}`);
    } catch (e) { fail(e); }
    await refresh();
    $('#list-h').focus();
  };
  dlg.showModal();
}

// ---- adding ------------------------------------------------------------------

function readBase64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ''));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

async function addTorrents(ev) {
  ev.preventDefault();
  const files = [...$('#add-file').files];
  const magnet = $('#add-magnet').value.trim();
  const paused = !$('#add-start').checked;
  if (!files.length && !magnet) { notify('Choose a .torrent file or paste a magnet link.', true); return; }
  const done = [];
  try {
    for (const f of files) {
      const r = await rpc('torrent-add', { metainfo: await readBase64(f), paused });
      done.push(r['torrent-added'] ? `Added ${r['torrent-added'].name}` : `Already there: ${r['torrent-duplicate'].name}`);
    }
    if (magnet) {
      const r = await rpc('torrent-add', { filename: magnet, paused });
      done.push(r['torrent-added'] ? `Added ${r['torrent-added'].name}` : `Already there: ${r['torrent-duplicate'].name}`);
    }
    $('#add-form').reset();
    notify(done.join('; '));
  } catch (e) {
    fail(e);
  }
  refresh();
}

// ---- speed limits --------------------------------------------------------------

async function loadLimits() {
  try {
    const s = await rpc('session-get', { fields: ['speed-limit-down', 'speed-limit-down-enabled', 'speed-limit-up', 'speed-limit-up-enabled'] });
    $('#limit-down').value = s['speed-limit-down'];
    $('#limit-down-on').checked = s['speed-limit-down-enabled'];
    $('#limit-up').value = s['speed-limit-up'];
    $('#limit-up-on').checked = s['speed-limit-up-enabled'];
  } catch (e) { fail(e); }
}

async function saveLimits(ev) {
  ev.preventDefault();
  const num = (id) => Math.max(1, Math.floor(Number($(id).value) || 0));
  try {
    await rpc('session-set', {
      'speed-limit-down': num('#limit-down'), 'speed-limit-down-enabled': $('#limit-down-on').checked,
      'speed-limit-up': num('#limit-up'), 'speed-limit-up-enabled': $('#limit-up-on').checked,
    });
    notify('Speed limits saved');
  } catch (e) { fail(e); }
}

// ---- processes -------------------------------------------------------------------

const groupOpen = new Map(); // group key -> open

async function refreshProcesses() {
  let ps;
  try {
    const res = await fetch('debug/processes', { credentials: 'same-origin', cache: 'no-store' });
    if (!res.ok) throw new Error(`processes: HTTP ${res.status}`);
    ps = await res.json();
  } catch (e) { fail(e); return; }
  $('#proc-h').textContent = `Processes (${ps.count})`;
  const box = $('#groups');
  const active = document.activeElement;
  const keep = box.contains(active) ? active.dataset.proc : null;
  const frag = document.createDocumentFragment();
  for (const g of ps.groups || []) {
    const key = g.infohash || 'client';
    const title = g.infohash ? `${g.torrent} (#${g.torrent_id || '?'})` : 'Client: peer listener';
    const det = el('details', { class: 'group' }, el('summary', { text: `${title}: ${g.processes.length} machine${g.processes.length === 1 ? '' : 's'}` }));
    det.open = groupOpen.has(key) ? groupOpen.get(key) : true;
    det.addEventListener('toggle', () => groupOpen.set(key, det.open));
    const body = el('tbody');
    for (const p of g.processes) {
      const touts = (p.timeouts || []).map((t) => `${t.type}${t.name ? ' ' + t.name : ''}: ${(t.remaining_ns / 1e9).toFixed(1)} s`).join(', ') || '—';
      const recent = el('ol', { class: 'proc-events' });
      for (const line of (p.log || []).slice(-3)) recent.append(el('li', { text: line }));
      const watch = el('button', { type: 'button', text: 'Watch', 'data-proc': String(p.id), 'aria-label': `Watch ${p.kind} ${p.name} live` });
      watch.addEventListener('click', () => startWatch(p));
      body.append(el('tr', {},
        el('td', { text: p.kind }),
        el('td', { class: 'mono', text: p.name }),
        el('td', { text: p.state }),
        el('td', { class: 'num', text: String(p.queue) }),
        el('td', { text: touts }),
        el('td', { class: 'wrap' }, (p.log || []).length ? recent : '—'),
        el('td', {}, watch)));
    }
    const scroll = el('div', { class: 'scroll', tabindex: 0, role: 'region', 'aria-label': `Machines of ${title}` },
      table(`Machines of ${title}`, ['Kind', 'Name', 'State', { text: 'Mailbox', num: true }, 'Time-outs', 'Recent events', ''], body));
    det.append(scroll);
    frag.append(det);
  }
  box.replaceChildren(frag);
  if (keep) $(`button[data-proc="${keep}"]`, box)?.focus();
}

let watching = null;

function startWatch(p) {
  stopWatch();
  const panel = $('#watch');
  panel.hidden = false;
  $('#watch-h').textContent = `Watching ${p.kind} ${p.name}`;
  $('#watch-state').textContent = 'Connecting…';
  const log = $('#watch-log');
  log.replaceChildren();
  const es = new EventSource(`debug/processes/${p.id}/events`);
  watching = es;
  es.addEventListener('snapshot', (ev) => {
    const s = JSON.parse(ev.data);
    $('#watch-state').textContent = `State ${s.state}; ${s.queue} waiting in the mailbox; live events follow.`;
  });
  es.addEventListener('trace', (ev) => {
    const l = JSON.parse(ev.data);
    const at = new Date(l.at).toLocaleTimeString();
    if (l.dropped) log.append(el('li', { text: `(${l.dropped} events dropped)` }));
    log.append(el('li', { text: `${at} ${l.line}` }));
    while (log.children.length > 500) log.firstElementChild.remove();
    log.scrollTop = log.scrollHeight;
  });
  es.addEventListener('end', () => {
    $('#watch-state').textContent = 'The machine has ended.';
    es.close();
  });
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) $('#watch-state').textContent = 'The stream closed.';
  };
  $('#watch-stop').focus();
}

function stopWatch() {
  if (watching) { watching.close(); watching = null; }
  $('#watch').hidden = true;
}

// ---- views and refresh -------------------------------------------------------------

function route() {
  const procs = location.hash === '#processes';
  $('#view-torrents').hidden = procs;
  $('#view-processes').hidden = !procs;
  $('#nav-torrents').toggleAttribute('aria-current', !procs);
  $('#nav-processes').toggleAttribute('aria-current', procs);
  if (!procs) stopWatch();
  for (const a of document.querySelectorAll('nav a')) if (a.hasAttribute('aria-current')) a.setAttribute('aria-current', 'page');
  document.title = procs ? 'Processes · effusion' : 'Torrents · effusion';
  refresh();
}

let busy = false;
async function refresh() {
  if (busy) return;
  busy = true;
  try {
    const [list, stats] = await Promise.all([
      rpc('torrent-get', { fields: listFields }),
      rpc('session-stats'),
    ]);
    renderList(list.torrents);
    $('#totals').textContent = `down ${rate(stats.downloadSpeed)} · up ${rate(stats.uploadSpeed)} · ${stats.torrentCount} torrent${stats.torrentCount === 1 ? '' : 's'}`;
    for (const id of rows.keys()) refreshDetail(id);
    if (!$('#view-processes').hidden) await refreshProcesses();
  } catch (e) {
    fail(e);
  } finally {
    busy = false;
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('#add-form').addEventListener('submit', addTorrents);
  $('#limits-form').addEventListener('submit', saveLimits);
  $('#limits').addEventListener('toggle', () => { if ($('#limits').open) loadLimits(); });
  $('#watch-stop').addEventListener('click', () => { stopWatch(); $('#proc-h').focus(); });
  playerEvents();
  $('#list-h').tabIndex = -1;
  $('#proc-h').tabIndex = -1;
  window.addEventListener('hashchange', () => { route(); $(location.hash === '#processes' ? '#proc-h' : '#list-h').focus(); });
  route();
  setInterval(() => { if (!document.hidden) refresh(); }, 2000);
});
