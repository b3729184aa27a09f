package streamhttp

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/effusion-bt/effusion/client"
)

// Prefix is the path under which Handler serves files.
const Prefix = "/stream/"

// Handler serves the files of c's torrents at GET and HEAD
// /stream/{infohash}/{index}[/{name}] (see the package documentation):
// 404 for a torrent c does not have or a file it does not hold, 400 for a
// malformed path, 405 for other methods. It does no authentication: mount
// it behind the front end's. It is safe for concurrent use.
func Handler(c *client.Client) http.Handler { return handler{c} }

type handler struct{ c *client.Client }

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "only GET and HEAD", http.StatusMethodNotAllowed)
		return
	}
	ih, index, err := parsePath(r.URL.Path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	t, ok := h.c.Torrent(ih)
	if !ok {
		http.Error(w, "no such torrent", http.StatusNotFound)
		return
	}
	ServeFile(w, r, t, index)
}

// parsePath reads /stream/{infohash}/{index}[/{name}].
func parsePath(p string) (ih [20]byte, index int, err error) {
	rest, ok := strings.CutPrefix(p, Prefix)
	if !ok {
		return ih, 0, fmt.Errorf("not under %s", Prefix)
	}
	hexIH, rest, _ := strings.Cut(rest, "/")
	idx, _, _ := strings.Cut(rest, "/")
	if len(hexIH) != 40 {
		return ih, 0, errors.New("the info-hash must be 40 hex digits")
	}
	if _, err := hex.Decode(ih[:], []byte(hexIH)); err != nil {
		return ih, 0, errors.New("the info-hash must be 40 hex digits")
	}
	if idx == "" || len(idx) > 9 || strings.TrimLeft(idx, "0123456789") != "" {
		return ih, 0, errors.New("the file index must be a number")
	}
	index, _ = strconv.Atoi(idx)
	return ih, index, nil
}

// Path returns the path Handler serves file index of the torrent ih at,
// ending with the file's name (escaped) for players to show and to guess
// the format from.
func Path(ih [20]byte, index int, name string) string {
	p := fmt.Sprintf("%s%x/%d", Prefix, ih, index)
	if name != "" {
		p += "/" + url.PathEscape(name)
	}
	return p
}

// ETag is the strong entity tag of file index of torrent ih: its content
// never changes (the info-hash covers every piece).
func ETag(ih [20]byte, index int) string { return fmt.Sprintf(`"%x-%d"`, ih, index) }

// ServeFile serves file index of t (an index of client.File.Index) to a
// GET or HEAD request, with Range requests, through a client.Reader whose
// reads end when the request's context does. It waits for a magnet's
// metadata (as long as the request lasts), and answers 404 for a file the
// torrent does not hold or a torrent removed.
func ServeFile(w http.ResponseWriter, r *http.Request, t *client.Torrent, index int) {
	select {
	case <-t.InfoReady():
	case <-r.Context().Done():
		return // gone: nobody to answer
	}
	mi := t.MetaInfo()
	if mi == nil || index < 0 || index >= len(mi.Info.Files) || mi.Info.Files[index].Padding {
		http.Error(w, "no such file", http.StatusNotFound)
		return
	}
	f := mi.Info.Files[index]
	rd, err := t.NewReader(index)
	if errors.Is(err, client.ErrClosed) {
		http.Error(w, "no such torrent", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer rd.Close()
	name := f.Path[len(f.Path)-1]
	h := w.Header()
	h.Set("Content-Type", ContentType(name))
	h.Set("ETag", ETag(mi.InfoHash, index))
	h.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": name}))
	// Not kept in the browser's cache: the file is on this machine
	// already, a private video should leave no copy behind, and Chromium's
	// media document fails to play from an entry that a page's <video>
	// left there (a range of it).
	h.Set("Cache-Control", "no-store")
	http.ServeContent(w, r, name, time.Time{}, ctxReader{r.Context(), rd})
}

// ctxReader reads with the request's context, so that a request that goes
// away ends a read waiting for its bytes.
type ctxReader struct {
	ctx context.Context
	r   *client.Reader
}

func (c ctxReader) Read(p []byte) (int, error) { return c.r.ReadContext(c.ctx, p) }

func (c ctxReader) Seek(off int64, whence int) (int64, error) { return c.r.Seek(off, whence) }

var _ io.ReadSeeker = ctxReader{}
