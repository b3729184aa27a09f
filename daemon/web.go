package daemon

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/effusion-bt/effusion/streamhttp"
)

// webFiles is the web UI: plain HTML, CSS and JavaScript, no build step,
// nothing fetched from elsewhere.
//
//go:embed web
var webFiles embed.FS

// contentPolicy lets the pages load only what the daemon serves.
const contentPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
	"connect-src 'self'; media-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// routes builds the daemon's handler.
func (d *Daemon) routes() http.Handler {
	d.rpcm = d.methods()
	sub, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	static := http.FileServerFS(sub)
	mux := http.NewServeMux()
	mux.HandleFunc("/transmission/rpc", d.serveRPC)
	mux.HandleFunc("/transmission/rpc/", d.serveRPC)
	mux.Handle("GET /transmission/web/", http.RedirectHandler("/", http.StatusFound))
	mux.HandleFunc("GET /debug/processes", d.serveProcesses)
	mux.HandleFunc("GET /debug/processes/{id}/events", d.serveWatch)
	mux.Handle("GET /metrics", d.metricsHandler())
	mux.Handle(streamhttp.Prefix, d.streamHandler())
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Security-Policy", contentPolicy)
		w.Header().Set("Cache-Control", "no-cache")
		static.ServeHTTP(w, r)
	}))
	return d.guard(mux)
}
