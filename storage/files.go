package storage

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"sync"
)

// handle is an open file; refs counts the operations using it right now.
type handle struct {
	idx      int
	f        *os.File
	refs     int
	writable bool
	sized    bool // extended to its full length
	dirty    bool // written since the last fsync
	// d is the file opened again with O_DIRECT for aligned pieces, at the
	// first one; noDirect once the file system refused it (under wmu).
	d        *os.File
	noDirect bool
	// wmu serializes writes to the file. Linux takes the inode's lock for
	// a buffered write and spins on it while another write holds it: two
	// hashers writing pieces of one file at once burned a third more CPU
	// on the writes. Waiting here parks the goroutine instead.
	wmu sync.Mutex
	// prev and next link the handle into the idle list when refs == 0
	// (intrusive, so releasing a handle does not allocate).
	prev, next *handle
	idle       bool
}

// idleList is a doubly linked list of idle handles, least recently used
// first.
type idleList struct {
	head, tail *handle
}

func (l *idleList) pushBack(h *handle) {
	h.prev, h.next, h.idle = l.tail, nil, true
	if l.tail != nil {
		l.tail.next = h
	} else {
		l.head = h
	}
	l.tail = h
}

func (l *idleList) remove(h *handle) {
	if h.prev != nil {
		h.prev.next = h.next
	} else {
		l.head = h.next
	}
	if h.next != nil {
		h.next.prev = h.prev
	} else {
		l.tail = h.prev
	}
	h.prev, h.next, h.idle = nil, nil, false
}

// fileCache keeps at most max files open. Handles in use are never closed;
// when all max are in use, acquire waits for one to be released.
type fileCache struct {
	root     *os.Root
	files    []fileEntry
	readOnly bool
	max      int
	limit    *FileLimit // shared with other caches; nil: none

	mu     sync.Mutex
	cond   sync.Cond
	open   map[int]*handle
	idle   idleList
	closed bool
	// unsynced marks files closed (evicted) after a write and not fsynced
	// since: Sync opens them again to cover them.
	unsynced map[int]bool
	fsync    func(*os.File) error // (*os.File).Sync; tests count the calls
	opens    int                  // files opened over the cache's life (for tests)
	peak     int                  // most files open at once (for tests)
}

func newFileCache(root *os.Root, files []fileEntry, max int, readOnly bool, limit *FileLimit) *fileCache {
	c := &fileCache{root: root, files: files, max: max, readOnly: readOnly, open: make(map[int]*handle),
		fsync: (*os.File).Sync, limit: limit}
	c.cond.L = &c.mu
	if limit != nil {
		limit.register(c)
	}
	return c
}

// acquire returns file idx open, creating it (and its directories) and
// extending it to its length when write is set. Without write it never
// creates anything: a missing file yields an error wrapping fs.ErrNotExist.
func (c *fileCache) acquire(idx int, write bool) (*handle, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if c.closed {
			return nil, ErrClosed
		}
		if h := c.open[idx]; h != nil {
			if write && !h.writable {
				return nil, &fs.PathError{Op: "open", Path: c.files[idx].rel, Err: fs.ErrPermission}
			}
			if write && !h.sized {
				if err := c.size(h); err != nil {
					return nil, err
				}
			}
			if h.idle {
				c.idle.remove(h)
			}
			h.refs++
			return h, nil
		}
		if len(c.open) < c.max {
			if c.limit == nil || c.limit.take() {
				break
			}
			// The shared cap is reached: close an idle file of ours, or
			// of another Storage, or wait for one to be released.
			if h := c.idle.head; h != nil {
				c.evict(h)
				continue
			}
			c.mu.Unlock()
			c.limit.reclaim(c)
			c.mu.Lock()
			continue
		}
		if h := c.idle.head; h != nil {
			c.evict(h)
			continue
		}
		c.cond.Wait()
	}
	h, err := c.openFile(idx, write)
	if err != nil {
		if c.limit != nil {
			c.limit.give()
		}
		return nil, err
	}
	c.open[idx] = h
	c.opens++
	c.peak = max(c.peak, len(c.open))
	h.refs = 1
	return h, nil
}

func (c *fileCache) openFile(idx int, write bool) (*handle, error) {
	fe := c.files[idx]
	flag := os.O_RDWR
	if c.readOnly {
		flag = os.O_RDONLY
	}
	if write {
		if dir := path.Dir(fe.rel); dir != "." {
			if err := c.root.MkdirAll(dir, 0o755); err != nil {
				return nil, err
			}
		}
		flag |= os.O_CREATE
	}
	f, err := c.root.OpenFile(fe.rel, flag, 0o644)
	if err != nil && !write && !c.readOnly && errors.Is(err, fs.ErrPermission) {
		// A file we may read but not write (seeding someone else's data).
		f, err = c.root.OpenFile(fe.rel, os.O_RDONLY, 0)
		if err == nil {
			return &handle{idx: idx, f: f}, nil
		}
	}
	if err != nil {
		return nil, err
	}
	h := &handle{idx: idx, f: f, writable: !c.readOnly}
	if write {
		if err := c.size(h); err != nil {
			f.Close()
			return nil, err
		}
	}
	return h, nil
}

// size extends a file to its length (sparse). A longer file is left alone:
// its extra bytes are never read, and they may be someone's data.
func (c *fileCache) size(h *handle) error {
	st, err := h.f.Stat()
	if err != nil {
		return err
	}
	if want := c.files[h.idx].length; st.Size() < want {
		if err := h.f.Truncate(want); err != nil {
			return err
		}
	}
	h.sized = true
	return nil
}

func (c *fileCache) release(h *handle, wrote bool) {
	c.mu.Lock()
	if wrote {
		h.dirty = true
	}
	h.refs--
	if h.refs == 0 {
		if c.closed {
			c.closeHandle(h)
		} else {
			c.idle.pushBack(h)
			if c.limit != nil {
				c.limit.poke()
			}
		}
		c.cond.Signal()
	}
	c.mu.Unlock()
}

// evictIdle closes the least recently used idle file, if any (for the
// shared limit, on behalf of another cache).
func (c *fileCache) evictIdle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.idle.head
	if c.closed || h == nil {
		return false
	}
	c.evict(h)
	return true
}

// evict closes an idle handle. It does not fsync (that would stall every
// acquire behind the disk): a file closed with unsynced writes is
// remembered, and the next Sync opens it again to cover it.
func (c *fileCache) evict(h *handle) {
	c.idle.remove(h)
	if h.dirty {
		if c.unsynced == nil {
			c.unsynced = make(map[int]bool)
		}
		c.unsynced[h.idx] = true
	}
	c.closeHandle(h)
}

// closeHandle closes h without fsyncing it: the data is with the kernel,
// which survives the process; only Sync asks for it to be on the disk.
func (c *fileCache) closeHandle(h *handle) error {
	if h.d != nil {
		h.d.Close()
		h.d = nil
	}
	err := h.f.Close()
	delete(c.open, h.idx)
	if c.limit != nil {
		c.limit.give()
	}
	return err
}

// sync fsyncs every file written since its last sync: the open ones, and
// those evicted since, which it opens again (fsync covers a file's data
// whichever descriptor wrote it).
func (c *fileCache) sync() error {
	c.mu.Lock()
	var dirty []*handle
	for _, h := range c.open {
		if h.dirty || c.unsynced[h.idx] {
			h.dirty = false
			h.refs++ // keep it open while syncing outside the lock
			if h.idle {
				c.idle.remove(h)
			}
			dirty = append(dirty, h)
		}
	}
	var reopen []int
	for idx := range c.unsynced {
		if c.open[idx] == nil {
			reopen = append(reopen, idx)
		}
	}
	clear(c.unsynced)
	c.mu.Unlock()
	var first error
	for _, h := range dirty {
		err := c.fsync(h.f)
		if err != nil && first == nil {
			first = err
		}
		c.release(h, err != nil) // still dirty if the sync failed
	}
	for _, idx := range reopen {
		h, err := c.acquire(idx, false)
		if err == nil {
			err = c.fsync(h.f)
			c.release(h, err != nil)
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

// close closes every idle handle, without fsyncing (call sync first for
// that), and makes later acquires fail; handles still in use are closed
// when released.
func (c *fileCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	var first error
	for h := c.idle.head; h != nil; h = c.idle.head {
		c.idle.remove(h)
		if err := c.closeHandle(h); err != nil && first == nil {
			first = err
		}
	}
	c.cond.Broadcast()
	if c.limit != nil {
		c.limit.unregister(c)
	}
	return first
}

// stats reports open handles, total opens and the peak (for tests).
func (c *fileCache) stats() (open, opens, peak int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.open), c.opens, c.peak
}
