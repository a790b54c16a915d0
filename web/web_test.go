package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func get(t *testing.T, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	return rec
}

func TestHandlerServesFiles(t *testing.T) {
	tests := []struct {
		path        string
		contentType string
		contains    string
	}{
		{"/", "text/html; charset=utf-8", "<title>Switchboard</title>"},
		{"/index.html", "text/html; charset=utf-8", "<title>Switchboard</title>"},
		{"/app.js", "text/javascript; charset=utf-8", "window.switchboard"},
		{"/signaling.js", "text/javascript; charset=utf-8", "class SignalingClient"},
		{"/media.js", "text/javascript; charset=utf-8", "AUDIO_CONSTRAINTS"},
		{"/app.css", "text/css; charset=utf-8", ".keypad"},
		{"/favicon.svg", "image/svg+xml", "<svg"},
		{"/phone.svg", "image/svg+xml", "<svg"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := get(t, http.MethodGet, tt.path, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200", rec.Code)
			}
			if got := rec.Header().Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control = %q, want no-cache", got)
			}
			if !strings.Contains(rec.Body.String(), tt.contains) {
				t.Errorf("body does not contain %q", tt.contains)
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	for _, path := range []string{"/", "/app.js", "/nope"} {
		rec := get(t, http.MethodGet, path, nil)
		h := rec.Header()
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "connect-src 'self' ws: wss:", "object-src 'none'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP %q allows inline code", path, csp)
		}
		if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options = %q", path, got)
		}
		if got := h.Get("Referrer-Policy"); got != "no-referrer" {
			t.Errorf("%s: Referrer-Policy = %q", path, got)
		}
	}
}

func TestNotFound(t *testing.T) {
	for _, path := range []string{"/nope", "/app.js/", "/static/app.js", "/../web.go", "//app.js", "/index.html/", "/.hidden"} {
		if rec := get(t, http.MethodGet, path, nil); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: status = %d, want 404", path, rec.Code)
		}
	}
}

func TestMethods(t *testing.T) {
	rec := get(t, http.MethodHead, "/", nil)
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("HEAD /: status %d, %d body bytes; want 200 and none", rec.Code, rec.Body.Len())
	}
	rec = get(t, http.MethodPost, "/", nil)
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: status %d, Allow %q; want 405 and GET, HEAD", rec.Code, rec.Header().Get("Allow"))
	}
}

func TestETagRevalidation(t *testing.T) {
	first := get(t, http.MethodGet, "/app.js", nil)
	etag := first.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	again := get(t, http.MethodGet, "/app.js", map[string]string{"If-None-Match": etag})
	if again.Code != http.StatusNotModified {
		t.Errorf("If-None-Match with current ETag: status = %d, want 304", again.Code)
	}
	if other := get(t, http.MethodGet, "/app.css", nil).Header().Get("ETag"); other == etag {
		t.Errorf("app.css and app.js share ETag %s", etag)
	}
}

// TestIndexHasAccessibleNames checks the names the browser tests find
// controls by (role + accessible name) are in the page itself, not only
// created by script.
func TestIndexHasAccessibleNames(t *testing.T) {
	body := get(t, http.MethodGet, "/", nil).Body.String()
	want := []string{
		`<label for="token">Token</label>`,
		`>Sign in</button>`,
		`>Set available</button>`,
		`>Answer</button>`,
		`>Decline</button>`,
		`role="dialog" aria-label="Incoming call"`,
		`>Hang up</button>`,
		`>Mute</button>`,
		`>Hold</button>`,
		`<label for="number">Number</label>`,
		`<label for="caller-id">Caller ID</label>`,
		`>Call</button>`,
		`<audio id="remote-audio" autoplay>`,
		`>Recent calls</h2>`,
	}
	for _, key := range []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "*", "#"} {
		want = append(want, `data-key="`+key+`">`+key+`</button>`)
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("index.html lacks %s", w)
		}
	}
	// The page must not need anything the CSP forbids.
	for _, bad := range []string{"<script>", " style=", " onclick=", "http://", "https://"} {
		if strings.Contains(body, bad) {
			t.Errorf("index.html contains %q, which the CSP blocks or which loads off-site", bad)
		}
	}
}

// TestScriptsParse runs `node --check` over every embedded script, so a
// syntax error fails `go test` rather than a browser.
func TestScriptsParse(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH; cannot syntax-check the JavaScript")
	}
	dir := t.TempDir()
	// An .mjs name makes node parse the files as ES modules, as the browser does.
	var n int
	err = fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".js" {
			return err
		}
		src, err := fs.ReadFile(staticFS, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, strings.TrimSuffix(filepath.Base(p), ".js")+".mjs")
		if err := os.WriteFile(dst, src, 0o600); err != nil {
			return err
		}
		n++
		if out, err := exec.Command(node, "--check", dst).CombinedOutput(); err != nil {
			t.Errorf("node --check %s: %v\n%s", p, err, out)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 {
		t.Errorf("checked %d scripts, want at least 3", n)
	}
}

func TestEveryAssetTyped(t *testing.T) {
	// mustLoad panics on an untyped file; make sure a real tree loads and
	// that "/" and "/index.html" are the same document.
	a := mustLoad(staticFS)
	if string(a["/"].body) != string(a["/index.html"].body) || len(a["/"].body) == 0 {
		t.Error(`"/" is not index.html`)
	}
	for p, x := range a {
		if x.contentType == "" || x.etag == "" {
			t.Errorf("%s: content type %q, etag %q", p, x.contentType, x.etag)
		}
	}
}
