// Package web holds Parley's browser client: a dependency-free single-page chat app
// (static HTML, CSS and ES modules, no build step) embedded into the binary, and the
// http.Handler that serves it. `parley local` mounts Handler at "/".
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var files embed.FS

// contentTypes fixes the type of every kind of file the client ships, so the result does not
// depend on the host's mime tables (some map .js to a type browsers refuse for modules).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".json": "application/json",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".txt":  "text/plain; charset=utf-8",
}

// contentSecurityPolicy lets the page load only its own files: nothing comes from another
// origin. WebSockets may go to any host because a pasted token may be for a deployed stack.
const contentSecurityPolicy = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; " +
	"style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// Static returns the client's files, rooted at the directory that holds index.html.
func Static() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		// fs.Sub fails only for an invalid path name, and "static" is valid.
		panic(fmt.Sprintf("web: sub static: %v", err))
	}
	return sub
}

// Handler serves the browser client: index.html at "/", the other files under their paths.
// Only GET and HEAD are allowed. Every response carries a strong ETag (the SHA-256 of the
// file) and "Cache-Control: no-cache", so browsers revalidate and get 304 until the binary
// changes. Directories are not listed.
func Handler() http.Handler {
	static := Static()
	etags := map[string]string{}
	err := fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		if d.IsDir() {
			return nil
		}
		b, err := fs.ReadFile(static, p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		sum := sha256.Sum256(b)
		etags["/"+p] = `"` + hex.EncodeToString(sum[:16]) + `"`
		return nil
	})
	if err != nil {
		// The files are compiled in; reading them cannot fail.
		panic(fmt.Sprintf("web: index embedded files: %v", err))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := path.Clean("/" + r.URL.Path)
		if name == "/" {
			name = "/index.html"
		}
		etag, ok := etags[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		f, err := static.Open(name[1:])
		if err != nil {
			http.Error(w, "web: open "+name, http.StatusInternalServerError)
			return
		}
		defer f.Close()
		content, ok := f.(io.ReadSeeker)
		if !ok {
			http.Error(w, "web: "+name+" is not seekable", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		if ct, ok := contentTypes[strings.ToLower(path.Ext(name))]; ok {
			h.Set("Content-Type", ct)
		}
		h.Set("ETag", etag)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if name == "/index.html" {
			h.Set("Content-Security-Policy", contentSecurityPolicy)
		}
		// Embedded files have no modification time; the ETag drives revalidation.
		http.ServeContent(w, r, name, time.Time{}, content)
	})
}
