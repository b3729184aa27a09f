// Package streamhttp serves the files of a client's torrents over HTTP
// while they download, for a video player (mpv, VLC, a browser's <video>)
// to open: http.ServeContent over a client.Reader, so that Range requests
// (206, 416, multiple ranges), HEAD, If-None-Match and If-Range behave as
// net/http's own file server does, and a request's bytes are fetched first.
//
// # Using it
//
// A front end mounts Handler under its own authentication:
//
//	mux.Handle("/stream/", auth(streamhttp.Handler(c)))  // c is the *client.Client
//
// which serves GET and HEAD /stream/{infohash}/{index}, where infohash is
// the torrent's in 40 hex digits and index a file's (client.File.Index),
// optionally followed by /{name} (any name: players show it and guess the
// format from its extension; Path builds such a URL path). A torrent
// added from a magnet is served once its metadata has arrived: the request
// waits for it.
//
// ServeFile serves one file of a torrent from any handler.
//
// Every response carries the file's Content-Type (from its extension), a
// strong ETag made of the info-hash and the index (a torrent's content
// never changes), and Accept-Ranges. A body is read as the client asks for
// it: the reader's window follows the response, and a request that goes
// away (its context ends) ends the read waiting for it.
package streamhttp
