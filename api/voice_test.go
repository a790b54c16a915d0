package api

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"switchboard/ivr"
	"switchboard/store"
)

// Numbers and users of the voice fixture.
const (
	aliceNumber = "+15550100"
	bobNumber   = "+15550111"
	aliceAuth   = "Bearer tok-alice"
	bobAuth     = "Bearer tok-bob"
	adminAuth   = "Bearer " + testAdminToken
)

// voiceAPI is a Server with voice endpoints on, backed by a real store and
// a real data directory, with authentication and the admin token on.
type voiceAPI struct {
	srv     *Server
	st      *store.Store
	dataDir string

	mu      sync.Mutex
	changed []string // "number kind" per GreetingChanged call
}

// newVoiceAPI builds a voiceAPI; alice owns aliceNumber and bob bobNumber.
// limits bounds greeting uploads; tts may be nil.
func newVoiceAPI(t *testing.T, limits ivr.Limits, tts *ivr.Cache) *voiceAPI {
	t.Helper()
	srv, st := newTestAPI(t, nil)
	srv.RequireAuth(func(token string) (string, bool) {
		user, ok := map[string]string{"tok-alice": "alice", "tok-bob": "bob"}[token]
		return user, ok
	})
	srv.EnableTokenIssuing(testAdminToken, func(string) bool { return true }, st)
	va := &voiceAPI{srv: srv, st: st, dataDir: t.TempDir()}
	srv.SetVoice(Voice{
		DataDir: va.dataDir,
		Owner: func(number string) (string, bool) {
			owner, ok := map[string]string{aliceNumber: "alice", bobNumber: "bob"}[number]
			return owner, ok
		},
		TTS:    tts,
		Limits: limits,
		GreetingChanged: func(number string, kind store.GreetingKind) {
			va.mu.Lock()
			defer va.mu.Unlock()
			va.changed = append(va.changed, number+" "+string(kind))
		},
	})
	return va
}

// changes returns the GreetingChanged calls so far.
func (va *voiceAPI) changes() []string {
	va.mu.Lock()
	defer va.mu.Unlock()
	return append([]string(nil), va.changed...)
}

// send issues one request through ServeHTTP (so body caps apply). A body of
// type io.Reader other than *bytes.Reader or *strings.Reader is sent
// without a Content-Length, as a streaming client would.
func send(h http.Handler, method, path, auth string, body io.Reader, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, body)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// errorOf returns the "error" message of a JSON error reply.
func errorOf(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("reply %d is not a JSON error: %v: %.300s", rec.Code, err, rec.Body)
	}
	return e.Error
}

// wavHeader is the fmt of a canonical 44-byte-header WAV file.
type wavHeader struct {
	channels, rate, bits int
	dataBytes            int
}

// parseWAV checks data is a canonical PCM WAV file and returns its format
// and samples (downmixed by ivr.DecodeWAV when stereo).
func parseWAV(t *testing.T, data []byte) (wavHeader, []int16) {
	t.Helper()
	if len(data) < 44 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WAVE" ||
		string(data[12:16]) != "fmt " || string(data[36:40]) != "data" {
		t.Fatalf("not a canonical WAV file: % x", data[:min(len(data), 44)])
	}
	le := binary.LittleEndian
	h := wavHeader{
		channels:  int(le.Uint16(data[22:24])),
		rate:      int(le.Uint32(data[24:28])),
		bits:      int(le.Uint16(data[34:36])),
		dataBytes: int(le.Uint32(data[40:44])),
	}
	if format := le.Uint16(data[20:22]); format != 1 {
		t.Fatalf("WAV format tag %d, want 1 (PCM)", format)
	}
	if h.dataBytes != len(data)-44 || int(le.Uint32(data[4:8])) != len(data)-8 {
		t.Fatalf("WAV sizes %d/%d do not match the file's %d bytes", le.Uint32(data[4:8]), h.dataBytes, len(data))
	}
	samples, rate, err := ivr.DecodeWAV(bytes.NewReader(data))
	if err != nil || rate != h.rate {
		t.Fatalf("DecodeWAV = rate %d, %v", rate, err)
	}
	return h, samples
}

// filesUnder lists the regular files below dir, relative and slash
// separated.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return files
}

func TestDataPathStaysUnderDataDir(t *testing.T) {
	v := &Voice{DataDir: t.TempDir()}
	for _, tc := range []struct {
		rel string
		ok  bool
	}{
		{"greetings/15550100/in_hours.wav", true},
		{"voicemail/15550100/18e9fdf74e6da1d45f49643a.wav", true},
		{"", false},
		{".", false},
		{"..", false},
		{"../secret", false},
		{"greetings/../../secret", false},
		{"/etc/passwd", false},
		{"greetings/../..", false},
	} {
		p, err := v.dataPath(tc.rel)
		if (err == nil) != tc.ok {
			t.Errorf("dataPath(%q) = %q, %v; want ok=%v", tc.rel, p, err, tc.ok)
			continue
		}
		if tc.ok && !strings.HasPrefix(p, v.DataDir+string(filepath.Separator)) {
			t.Errorf("dataPath(%q) = %q, not under %q", tc.rel, p, v.DataDir)
		}
	}
}

func TestVoiceEndpointsOffUntilSetVoice(t *testing.T) {
	srv, _ := newTestAPI(t, nil)
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/api/numbers/%2B15550100/greetings/in_hours"},
		{http.MethodPut, "/api/numbers/%2B15550100/greetings/in_hours"},
		{http.MethodDelete, "/api/numbers/%2B15550100/greetings/in_hours"},
		{http.MethodGet, "/api/numbers/%2B15550100/voicemails"},
		{http.MethodGet, "/api/voicemails/18e9fdf74e6da1d45f49643a"},
		{http.MethodPost, "/api/tts/preview"},
	} {
		rec := send(srv, tc.method, tc.path, "", strings.NewReader(`{"text":"hi"}`))
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(errorOf(t, rec), "not configured") {
			t.Errorf("%s %s without SetVoice = %d %s, want 503 not configured", tc.method, tc.path, rec.Code, rec.Body)
		}
	}
}

func TestVoiceEndpointsRejectPathTraversal(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil)
	// A file next to the data directory that a traversal would reach.
	secret := filepath.Join(filepath.Dir(va.dataDir), "secret.wav")
	if err := os.WriteFile(secret, encodeWAV(make([]int16, 800), 8000), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(secret) })
	wav := encodeWAV(make([]int16, 8000), 8000)
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/api/numbers/..%2F..%2Fsecret/greetings/in_hours"},
		{http.MethodPut, "/api/numbers/..%2F..%2Fsecret/greetings/in_hours"},
		{http.MethodGet, "/api/numbers/%2B15550100%2F..%2F..%2F..%2Fsecret/greetings/in_hours"},
		{http.MethodPut, "/api/numbers/%2B15550100/greetings/..%2F..%2F..%2Fsecret"},
		{http.MethodGet, "/api/numbers/%2B15550100/greetings/..%2F..%2F..%2Fsecret"},
		{http.MethodDelete, "/api/numbers/%2B15550100/greetings/..%2Fin_hours"},
		{http.MethodGet, "/api/numbers/..%2F..%2Fsecret/voicemails"},
		{http.MethodGet, "/api/voicemails/..%2F..%2Fsecret"},
		{http.MethodGet, "/api/voicemails/..%2F..%2Fsecret/audio"},
		{http.MethodDelete, "/api/voicemails/..%2F..%2Fsecret"},
		{http.MethodPatch, "/api/voicemails/..%2F..%2Fsecret"},
	} {
		rec := send(va.srv, tc.method, tc.path, adminAuth, bytes.NewReader(wav))
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s %s = %d %s, want 404", tc.method, tc.path, rec.Code, rec.Body)
		}
	}
	if got, err := os.ReadFile(secret); err != nil || len(got) != 44+1600 {
		t.Errorf("the file outside the data directory changed: %d bytes, %v", len(got), err)
	}
	if files := filesUnder(t, va.dataDir); len(files) != 0 {
		t.Errorf("files written under the data directory: %v", files)
	}
}
