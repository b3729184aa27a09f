package streamhttp

import (
	"mime"
	"path"
	"strings"
)

// mediaTypes are the types of media files that Go's built-in table and a
// machine's mime.types may lack: a player or browser given
// application/octet-stream may refuse to play.
var mediaTypes = map[string]string{
	".3gp":  "video/3gpp",
	".avi":  "video/x-msvideo",
	".flv":  "video/x-flv",
	".m2ts": "video/mp2t",
	".m4v":  "video/mp4",
	".mkv":  "video/x-matroska",
	".mov":  "video/quicktime",
	".mp4":  "video/mp4",
	".mpeg": "video/mpeg",
	".mpg":  "video/mpeg",
	".ogv":  "video/ogg",
	".ts":   "video/mp2t",
	".webm": "video/webm",
	".wmv":  "video/x-ms-wmv",
	".aac":  "audio/aac",
	".flac": "audio/flac",
	".m4a":  "audio/mp4",
	".mka":  "audio/x-matroska",
	".mp3":  "audio/mpeg",
	".oga":  "audio/ogg",
	".ogg":  "audio/ogg",
	".opus": "audio/ogg",
	".wav":  "audio/wav",
	".srt":  "application/x-subrip",
	".vtt":  "text/vtt; charset=utf-8",
	".ass":  "text/x-ssa",
	".ssa":  "text/x-ssa",
	".nfo":  "text/plain; charset=utf-8",
	".txt":  "text/plain; charset=utf-8",
}

// ContentType returns the media type for a file name, from its extension
// (case-insensitive): the common video, audio and subtitle types first,
// then the system's table, else application/octet-stream.
func ContentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := mediaTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}
