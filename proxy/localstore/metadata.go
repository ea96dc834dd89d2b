package localstore

import (
	"github.com/s3-batching-agent/s3-batching-agent/sigv4"

	"net/http"
	"path"
	"strings"
	"time"
)

// defaultContentType is the Content-Type that S3 returns for an object
// stored without one.
const defaultContentType = "binary/octet-stream"

// contentTypes maps lower-case file extensions to the Content-Type served
// for plain files that were never uploaded with one. The values match what
// the AWS CLI sends when it uploads such files. The table is fixed, instead
// of mime.TypeByExtension, so that the result does not depend on the
// machine's mime.types files.
var contentTypes = map[string]string{
	".css":     "text/css",
	".csv":     "text/csv",
	".gif":     "image/gif",
	".gz":      "application/gzip",
	".htm":     "text/html",
	".html":    "text/html",
	".jpeg":    "image/jpeg",
	".jpg":     "image/jpeg",
	".js":      "text/javascript",
	".json":    "application/json",
	".md":      "text/markdown",
	".parquet": "application/vnd.apache.parquet",
	".pdf":     "application/pdf",
	".png":     "image/png",
	".svg":     "image/svg+xml",
	".tar":     "application/x-tar",
	".txt":     "text/plain",
	".wasm":    "application/wasm",
	".webp":    "image/webp",
	".xml":     "application/xml",
	".yaml":    "application/yaml",
	".yml":     "application/yaml",
	".zip":     "application/zip",
}

func guessContentType(key string) string {
	if t, ok := contentTypes[strings.ToLower(path.Ext(key))]; ok {
		return t
	}
	return defaultContentType
}

// storableHeader reports whether a header that gofakes3 captured from a
// PutObject request describes the object, and so belongs to its stored
// metadata. gofakes3 keeps every X-Amz-*
// request header, including X-Amz-Date, X-Amz-Content-Sha256,
// X-Amz-Security-Token and checksums of the upload, and would send them back
// on every read of the object.
func storableHeader(name string) bool {
	switch name {
	case "Content-Type", "Content-Disposition", "Content-Encoding":
		return true
	}
	return strings.HasPrefix(name, "X-Amz-Meta-")
}

// storedMetadata returns the metadata to store for a PutObject request. It
// does not modify meta.
func storedMetadata(meta map[string]string) map[string]string {
	stored := make(map[string]string, len(meta))
	for name, value := range meta {
		if !storableHeader(name) {
			continue
		}
		if name == "Content-Encoding" {
			value = sigv4.StripAWSChunked(value)
		}
		if value != "" {
			stored[name] = value
		}
	}
	return stored
}

// responseMetadata returns the headers to send with an object read: the
// stored metadata without the empty values that erase older entries (see
// eraseOldMetadata), and a Last-Modified header taken from the file's
// modification time. When no Content-Type was stored, an object uploaded
// through the store gets S3's default and a file placed in the directory by
// other means gets a type guessed from its extension. It does not modify
// meta.
func responseMetadata(meta map[string]string, uploaded bool, key string, modTime time.Time) map[string]string {
	out := make(map[string]string, len(meta)+2)
	for name, value := range meta {
		if storableHeader(name) && value != "" {
			out[name] = value
		}
	}
	out["Last-Modified"] = modTime.UTC().Format(http.TimeFormat)
	if out["Content-Type"] == "" {
		if uploaded {
			out["Content-Type"] = defaultContentType
		} else {
			out["Content-Type"] = guessContentType(key)
		}
	}
	return out
}
