package daemon

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/effusion-bt/effusion/streamhttp"
)

// streamPolicy is the Content-Security-Policy of a file served at
// /stream/ that is not audio or video. A torrent's file is anybody's
// content: an HTML or SVG file opened from the daemon's origin would run
// its scripts with the web UI's rights (the RPC's session id is one
// request away). The sandbox gives such a document an origin of its own
// and no scripts. Audio and video are left out: the browser shows them in
// a player of its own making (no content of theirs can script it, and
// nosniff keeps their type), whose <video> a sandbox would make a
// cross-origin, credential-less request for the file, which fails.
const streamPolicy = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"

// sandboxWriter adds streamPolicy to a response whose type is not audio or
// video, when its header is written.
type sandboxWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *sandboxWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		ct := w.Header().Get("Content-Type")
		if !strings.HasPrefix(ct, "video/") && !strings.HasPrefix(ct, "audio/") {
			w.Header().Set("Content-Security-Policy", streamPolicy)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *sandboxWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

func (w *sandboxWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// streamHandler serves /stream/{infohash}/{index}[/{name}] (package
// streamhttp) behind guard: the Host check and Basic authentication apply
// as to every route. The RPC's session-id handshake does not: a <video>
// element cannot send a header, and a GET here changes nothing but which
// pieces come first. What that handshake keeps out, another site's page,
// is kept out by the browser's Fetch Metadata instead (crossSite).
func (d *Daemon) streamHandler() http.Handler {
	files := streamhttp.Handler(d.c)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if crossSite(r) {
			http.Error(w, "another site may not load the daemon's files: open the link from the daemon's page, or paste it into a player", http.StatusForbidden)
			return
		}
		// A paused player stops reading and the response's write blocks:
		// Shutdown must not wait for it. (Its reads end with the request's
		// context, which Shutdown ends.)
		rc := http.NewResponseController(w)
		stop := context.AfterFunc(d.ctx, func() { rc.SetWriteDeadline(time.Now()) })
		defer stop()
		files.ServeHTTP(&sandboxWriter{ResponseWriter: w}, r)
	})
}

// crossSite reports whether r comes from another site's page other than
// as a link the user followed: a <video> or fetch of a page elsewhere
// (even of another port of this host, which browsers count as the same
// site) would learn which torrents the daemon holds, and make it fetch
// their pieces first. A browser says where a request comes from in
// Sec-Fetch-Site, and in Origin for a cross-origin fetch; players (mpv,
// VLC, curl) send neither, and are let through. A top-level navigation
// (a link clicked on another page) shows the file to the user alone, so
// it is let through too.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return r.Header.Get("Sec-Fetch-Mode") != "navigate" || r.Header.Get("Sec-Fetch-Dest") != "document"
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		return err != nil || !strings.EqualFold(u.Host, r.Host)
	}
	return false
}

// streamPath is the path a file of a torrent is served at (index is the
// torrent's own, padding files counted).
func streamPath(ih [20]byte, index int, filePath string) string {
	return streamhttp.Path(ih, index, path.Base(filePath))
}
