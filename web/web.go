// Package web serves the softphone: a single page of plain HTML, CSS and
// JavaScript modules embedded in the binary, so running the gateway is all a
// team needs to do to get a browser phone (no build step, no CDN).
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"time"
)

//go:embed static
var staticFS embed.FS

// contentSecurityPolicy allows only the page's own files. connect-src names
// ws: and wss: explicitly because older browsers do not count a WebSocket to
// the same host as 'self'. Nothing is inline, so neither scripts nor styles
// need 'unsafe-inline'; a remote MediaStream reaches <audio> via srcObject,
// which CSP does not govern.
const contentSecurityPolicy = "default-src 'self'; connect-src 'self' ws: wss:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// contentTypes maps the extensions the page uses to their media types. It is
// explicit rather than mime.TypeByExtension because that consults the host's
// mime tables, and a module script served with the wrong type is refused by
// the browser (HTML Standard, "fetch a single module script").
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".json": "application/json",
	".txt":  "text/plain; charset=utf-8",
}

// asset is one embedded file ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// assets holds every embedded file by URL path ("/app.js"); "/" is index.html.
var assets = mustLoad(staticFS)

// mustLoad reads the embedded tree once. It panics on an unknown extension so
// that adding a file the handler cannot type fails every test run, not a
// browser in production.
func mustLoad(fsys fs.FS) map[string]asset {
	sub, err := fs.Sub(fsys, "static")
	if err != nil {
		panic(fmt.Errorf("web: static dir: %w", err))
	}
	out := make(map[string]asset)
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			return fmt.Errorf("no content type for %s", p)
		}
		body, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		out["/"+p] = asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic(fmt.Errorf("web: loading embedded files: %w", err))
	}
	index, ok := out["/index.html"]
	if !ok {
		panic("web: static/index.html missing")
	}
	out["/"] = index
	return out
}

// Handler serves the embedded softphone page: "/" is index.html, every other
// path must name an embedded file exactly (404 otherwise, no directory
// listings). Responses carry Cache-Control: no-cache with an ETag, so a new
// gateway build is picked up on the next load while unchanged files cost a
// 304, and the security headers the page relies on.
func Handler() http.Handler {
	return http.HandlerFunc(serve)
}

func serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// The page needs the microphone for itself and nothing else.
	h.Set("Permissions-Policy", "microphone=(self), camera=(), geolocation=()")
	h.Set("Cache-Control", "no-cache")

	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// Only exact names are served; "..", "//" and the like never match a
	// key, so no path cleaning (and no redirect) is needed.
	a, ok := assets[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h.Set("Content-Type", a.contentType)
	h.Set("ETag", a.etag)
	// ServeContent answers If-None-Match with 304 and handles HEAD and Range.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
