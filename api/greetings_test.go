package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"switchboard/internal/testaudio"
	"switchboard/ivr"
	"switchboard/store"
)

const (
	aliceInHours = "/api/numbers/%2B15550100/greetings/in_hours"
	mp3Fixture   = "../ivr/testdata/tone1k_44k1_mono_-6dBFS.mp3"
)

// sineWAV returns a WAV file of a 1 kHz sine at -6 dBFS lasting seconds at
// rate Hz.
func sineWAV(rate int, seconds float64) []byte {
	n := int(seconds * float64(rate))
	return encodeWAV(testaudio.Sine(1000, float64(rate), n, testaudio.AmplitudeForDBFS(-6), nil), rate)
}

// multipartBody returns a multipart/form-data body with data in field
// under filename, and its Content-Type.
func multipartBody(t *testing.T, field, filename string, data []byte) (*bytes.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.WriteField("comment", "ignored"); err != nil {
		t.Fatal(err)
	}
	fw, err := mw.CreateFormFile(field, filename)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(buf.Bytes()), mw.FormDataContentType()
}

// upload PUTs a valid greeting and returns the reply, failing unless 201.
func (va *voiceAPI) upload(t *testing.T, path, auth string, wav []byte) store.Greeting {
	t.Helper()
	rec := send(va.srv, http.MethodPut, path+"?name=hello.wav", auth, bytes.NewReader(wav), "Content-Type", "audio/wav")
	if rec.Code != http.StatusCreated {
		t.Fatalf("PUT %s = %d %s, want 201", path, rec.Code, rec.Body)
	}
	var g store.Greeting
	if err := json.Unmarshal(rec.Body.Bytes(), &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func TestPutGreetingStoresEightKHzMono(t *testing.T) {
	mp3, err := os.ReadFile(mp3Fixture)
	if err != nil {
		t.Fatal(err)
	}
	wav := sineWAV(44100, 2)
	tests := []struct {
		name      string
		path      string
		multipart bool
		data      []byte
		upload    string // file name sent
		wantName  string // original_name stored
		minSec    float64
		maxSec    float64
	}{
		{"raw WAV, escaped +", "/api/numbers/%2B15550100/greetings/in_hours?name=hello.wav", false, wav, "", "hello.wav", 1.999, 2.001},
		{"raw WAV, literal +, no name", "/api/numbers/+15550100/greetings/after_hours", false, wav, "", "greeting", 1.999, 2.001},
		// The MP3 decoder adds up to a few frames of encoder delay and padding.
		{"multipart MP3", "/api/numbers/%2B15550100/greetings/after_hours", true, mp3, `C:\Users\alice\tone.mp3`, "tone.mp3", 1.0, 1.0 + 5*1152/44100.0},
		{"raw MP3 named by query", "/api/numbers/%2B15550100/greetings/in_hours?name=dir%2Fmsg.mp3", false, mp3, "", "msg.mp3", 1.0, 1.0 + 5*1152/44100.0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			va := newVoiceAPI(t, ivr.Limits{}, nil)
			var body io.Reader = bytes.NewReader(tt.data)
			contentType := "application/octet-stream"
			if tt.multipart {
				body, contentType = multipartBody(t, "file", tt.upload, tt.data)
			}
			rec := send(va.srv, http.MethodPut, tt.path, aliceAuth, body, "Content-Type", contentType)
			if rec.Code != http.StatusCreated {
				t.Fatalf("PUT = %d %s, want 201", rec.Code, rec.Body)
			}
			if loc := rec.Header().Get("Location"); loc != "/api/numbers/+15550100/greetings/"+string(kindOf(tt.path)) {
				t.Errorf("Location = %q", loc)
			}
			var g store.Greeting
			if err := json.Unmarshal(rec.Body.Bytes(), &g); err != nil {
				t.Fatal(err)
			}
			kind := kindOf(tt.path)
			wantFile := "greetings/15550100/" + string(kind) + ".wav"
			if g.Number != aliceNumber || g.Kind != kind || g.File != wantFile || g.OriginalName != tt.wantName ||
				g.UploadedBy != "alice" || time.Since(g.UploadedAt) > time.Minute ||
				g.DurationSeconds < tt.minSec || g.DurationSeconds > tt.maxSec {
				t.Errorf("greeting = %+v, want %s %s in %s named %q by alice, %.3f..%.3f s",
					g, aliceNumber, kind, wantFile, tt.wantName, tt.minSec, tt.maxSec)
			}
			data, err := os.ReadFile(filepath.Join(va.dataDir, filepath.FromSlash(wantFile)))
			if err != nil {
				t.Fatal(err)
			}
			h, samples := parseWAV(t, data)
			if h.channels != 1 || h.rate != 8000 || h.bits != 16 {
				t.Fatalf("stored WAV is %+v, want 8 kHz 16-bit mono", h)
			}
			if sec := float64(len(samples)) / 8000; sec < tt.minSec || sec > tt.maxSec || math.Abs(sec-g.DurationSeconds) > 0.001 {
				t.Errorf("stored WAV plays %.4f s, reply says %.4f, want %.3f..%.3f", sec, g.DurationSeconds, tt.minSec, tt.maxSec)
			}
			// The tone survived decoding and resampling at its level.
			if lvl := testaudio.ToneLevelDBFS(samples[800:len(samples)-800], 8000, 1000); math.Abs(lvl+6) > 1 {
				t.Errorf("stored tone is %.2f dBFS, want -6 ± 1", lvl)
			}
			stored, err := va.st.GetGreeting(aliceNumber, kind)
			if err != nil || stored.File != wantFile {
				t.Errorf("store has %+v, %v", stored, err)
			}
			if got := va.changes(); !slices.Equal(got, []string{aliceNumber + " " + string(kind)}) {
				t.Errorf("GreetingChanged calls = %q", got)
			}
			if files := filesUnder(t, va.dataDir); !slices.Equal(files, []string{wantFile}) {
				t.Errorf("data directory holds %v, want only %s (no temporary files)", files, wantFile)
			}
		})
	}
}

// kindOf is the greeting kind a test path names.
func kindOf(path string) store.GreetingKind {
	if strings.Contains(path, "after_hours") {
		return store.GreetingAfterHours
	}
	return store.GreetingInHours
}

func TestPutGreetingReplacesPrevious(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil)
	va.upload(t, aliceInHours, aliceAuth, sineWAV(8000, 1))
	g := va.upload(t, aliceInHours, aliceAuth, sineWAV(16000, 3))
	if math.Abs(g.DurationSeconds-3) > 0.001 {
		t.Errorf("second upload duration = %v, want 3", g.DurationSeconds)
	}
	data, err := os.ReadFile(filepath.Join(va.dataDir, "greetings", "15550100", "in_hours.wav"))
	if err != nil {
		t.Fatal(err)
	}
	if _, samples := parseWAV(t, data); len(samples) != 3*8000 {
		t.Errorf("file holds %d samples, want the second upload's %d", len(samples), 3*8000)
	}
	if files := filesUnder(t, va.dataDir); len(files) != 1 {
		t.Errorf("data directory holds %v, want one greeting file", files)
	}
}

func TestPutGreetingBodyCapIsRouteSpecific(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil)
	// Over the 1 MiB cap of the other routes, under the 5 MB upload limit.
	wav := sineWAV(44100, 25)
	if len(wav) <= maxBody {
		t.Fatalf("test WAV is only %d bytes", len(wav))
	}
	streamed := io.MultiReader(bytes.NewReader(wav)) // no Content-Length: the cap alone decides
	rec := send(va.srv, http.MethodPut, aliceInHours, aliceAuth, streamed)
	if rec.Code != http.StatusCreated {
		t.Fatalf("PUT %d bytes = %d %s, want 201", len(wav), rec.Code, rec.Body)
	}
	// A small limit shrinks the upload cap with it.
	small := newVoiceAPI(t, ivr.Limits{MaxBytes: 100 << 10}, nil)
	rec = send(small.srv, http.MethodPut, aliceInHours, aliceAuth, io.MultiReader(bytes.NewReader(wav)))
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(errorOf(t, rec), "the limit is 0.1 MB") {
		t.Errorf("PUT %d bytes over a 100 KiB limit = %d %s, want 413", len(wav), rec.Code, rec.Body)
	}
}

func TestPutGreetingTooLargeKeepsPrevious(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil) // the default 5 MB limit
	va.upload(t, aliceInHours, aliceAuth, sineWAV(8000, 1))
	path := filepath.Join(va.dataDir, "greetings", "15550100", "in_hours.wav")
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	big := sineWAV(44100, 6<<20/88200+1) // just over 6 MB
	if len(big) < 6<<20 {
		t.Fatalf("test WAV is only %d bytes", len(big))
	}
	multi, multiType := multipartBody(t, "file", "big.wav", big)
	multiStreamed, multiStreamedType := multipartBody(t, "file", "big.wav", big)
	tests := []struct {
		name        string
		body        io.Reader
		contentType string
	}{
		{"raw with Content-Length", bytes.NewReader(big), "audio/wav"},
		{"raw streamed", io.MultiReader(bytes.NewReader(big)), "audio/wav"},
		{"multipart with Content-Length", multi, multiType},
		{"multipart streamed", io.MultiReader(multiStreamed), multiStreamedType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := send(va.srv, http.MethodPut, aliceInHours, aliceAuth, tt.body, "Content-Type", tt.contentType)
			if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(errorOf(t, rec), "; the limit is 5 MB") {
				t.Fatalf("PUT 6 MB = %d %s, want 413 naming the 5 MB limit", rec.Code, rec.Body)
			}
			after, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(before, after) {
				t.Errorf("the previous greeting file changed (%v)", err)
			}
			if files := filesUnder(t, va.dataDir); len(files) != 1 {
				t.Errorf("data directory holds %v, want only the previous greeting", files)
			}
		})
	}
	if got := va.changes(); len(got) != 1 {
		t.Errorf("GreetingChanged calls = %q, want only the first upload's", got)
	}
}

func TestPutGreetingRejectsUnusableAudio(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{MaxDuration: 3 * time.Second}, nil)
	float := sineWAV(8000, 1)
	float[20] = 3 // WAVE_FORMAT_IEEE_FLOAT
	text, textType := multipartBody(t, "file", "x.mp3", []byte("this is a text file, not an MP3\n"))
	noFile, noFileType := multipartBody(t, "attachment", "x.wav", sineWAV(8000, 1))
	tests := []struct {
		name        string
		body        io.Reader
		contentType string
		status      int
		errorHas    []string
	}{
		{"text named x.mp3", text, textType, http.StatusUnprocessableEntity, []string{"x.mp3", "neither WAV nor MP3"}},
		{"empty body", strings.NewReader(""), "audio/wav", http.StatusUnprocessableEntity, []string{"no content"}},
		{"too long", bytes.NewReader(sineWAV(8000, 4)), "audio/wav", http.StatusUnprocessableEntity, []string{"the limit is 3s"}},
		{"float WAV", bytes.NewReader(float), "audio/wav", http.StatusUnprocessableEntity, []string{"unsupported"}},
		{"multipart without file", noFile, noFileType, http.StatusBadRequest, []string{`"file"`}},
		{"broken multipart", strings.NewReader("--x\r\nnot a part"), "multipart/form-data; boundary=x", http.StatusBadRequest, []string{"could not read the upload"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := send(va.srv, http.MethodPut, aliceInHours, aliceAuth, tt.body, "Content-Type", tt.contentType)
			if rec.Code != tt.status {
				t.Fatalf("PUT = %d %s, want %d", rec.Code, rec.Body, tt.status)
			}
			msg := errorOf(t, rec)
			for _, want := range tt.errorHas {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
			if strings.Contains(msg, "ivr:") {
				t.Errorf("error %q shows a package prefix", msg)
			}
		})
	}
	if files := filesUnder(t, va.dataDir); len(files) != 0 {
		t.Errorf("rejected uploads wrote %v", files)
	}
	if _, err := va.st.GetGreeting(aliceNumber, store.GreetingInHours); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rejected uploads left a greeting record: %v", err)
	}
	if got := va.changes(); len(got) != 0 {
		t.Errorf("GreetingChanged called for rejected uploads: %q", got)
	}
}

func TestPutGreetingStoreFailureKeepsPreviousFile(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil)
	va.upload(t, aliceInHours, aliceAuth, sineWAV(8000, 1))
	path := filepath.Join(va.dataDir, "greetings", "15550100", "in_hours.wav")
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := va.st.Close(); err != nil {
		t.Fatal(err)
	}
	rec := send(va.srv, http.MethodPut, aliceInHours, aliceAuth, bytes.NewReader(sineWAV(8000, 2)))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(errorOf(t, rec), "previous one is unchanged") {
		t.Fatalf("PUT with the store down = %d %s, want 500", rec.Code, rec.Body)
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(before, after) {
		t.Errorf("the previous greeting file changed (%v)", err)
	}
	if files := filesUnder(t, va.dataDir); len(files) != 1 {
		t.Errorf("data directory holds %v, want only the previous greeting", files)
	}
}

func TestGreetingAuthorization(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil)
	wav := sineWAV(8000, 1)
	tests := []struct {
		name     string
		method   string
		path     string
		auth     string
		status   int
		errorHas string
	}{
		{"no token", http.MethodPut, aliceInHours, "", http.StatusUnauthorized, "sign in"},
		{"bad token", http.MethodPut, aliceInHours, "Bearer nope", http.StatusUnauthorized, "sign in"},
		{"other user's number", http.MethodPut, aliceInHours, bobAuth, http.StatusForbidden, "only the owner of +15550100"},
		{"other user's GET", http.MethodGet, aliceInHours, bobAuth, http.StatusForbidden, "only the owner"},
		{"other user's DELETE", http.MethodDelete, aliceInHours, bobAuth, http.StatusForbidden, "only the owner"},
		{"unknown number", http.MethodPut, "/api/numbers/%2B15550199/greetings/in_hours", adminAuth, http.StatusNotFound, `no number "+15550199"`},
		{"not E.164", http.MethodPut, "/api/numbers/15550100/greetings/in_hours", adminAuth, http.StatusNotFound, "E.164"},
		{"bad kind", http.MethodPut, "/api/numbers/%2B15550100/greetings/weekend", aliceAuth, http.StatusNotFound, "in_hours, after_hours"},
		{"owner", http.MethodPut, aliceInHours, aliceAuth, http.StatusCreated, ""},
		{"admin", http.MethodPut, "/api/numbers/%2B15550111/greetings/after_hours", adminAuth, http.StatusCreated, ""},
		{"owner of another number", http.MethodPut, "/api/numbers/%2B15550111/greetings/in_hours", aliceAuth, http.StatusForbidden, "only the owner"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := send(va.srv, tt.method, tt.path, tt.auth, bytes.NewReader(wav))
			if rec.Code != tt.status {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, rec.Code, rec.Body, tt.status)
			}
			if tt.errorHas != "" && !strings.Contains(errorOf(t, rec), tt.errorHas) {
				t.Errorf("error %q does not mention %q", errorOf(t, rec), tt.errorHas)
			}
		})
	}
	g, err := va.st.GetGreeting(bobNumber, store.GreetingAfterHours)
	if err != nil || g.UploadedBy != "admin" {
		t.Errorf("admin's upload = %+v, %v; want uploaded_by admin", g, err)
	}
}

func TestGreetingAuthOff(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil)
	va.srv.RequireAuth(nil)
	g := va.upload(t, aliceInHours, "", sineWAV(8000, 1))
	if g.UploadedBy != "" {
		t.Errorf("uploaded_by = %q with auth off, want empty", g.UploadedBy)
	}
}

func TestGetGreetingServesWAVWithRanges(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil)
	rec := send(va.srv, http.MethodGet, aliceInHours, aliceAuth, nil)
	if rec.Code != http.StatusNotFound || errorOf(t, rec) != "no uploaded greeting; the configured one is used" {
		t.Fatalf("GET before upload = %d %s", rec.Code, rec.Body)
	}
	va.upload(t, aliceInHours, aliceAuth, sineWAV(8000, 1))
	onDisk, err := os.ReadFile(filepath.Join(va.dataDir, "greetings", "15550100", "in_hours.wav"))
	if err != nil {
		t.Fatal(err)
	}

	rec = send(va.srv, http.MethodGet, "/api/numbers/+15550100/greetings/in_hours", aliceAuth, nil)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "audio/wav" || !bytes.Equal(rec.Body.Bytes(), onDisk) {
		t.Fatalf("GET = %d %q, %d bytes; want 200 audio/wav with the %d-byte file",
			rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len(), len(onDisk))
	}
	if rec.Header().Get("Accept-Ranges") != "bytes" {
		t.Errorf("Accept-Ranges = %q", rec.Header().Get("Accept-Ranges"))
	}

	rec = send(va.srv, http.MethodGet, aliceInHours, aliceAuth, nil, "Range", "bytes=0-43")
	if rec.Code != http.StatusPartialContent || rec.Body.Len() != 44 || !strings.HasPrefix(rec.Body.String(), "RIFF") {
		t.Fatalf("GET Range 0-43 = %d, %d bytes %.4q; want 206 with the 44-byte header", rec.Code, rec.Body.Len(), rec.Body.String())
	}

	if err := os.Remove(filepath.Join(va.dataDir, "greetings", "15550100", "in_hours.wav")); err != nil {
		t.Fatal(err)
	}
	rec = send(va.srv, http.MethodGet, aliceInHours, aliceAuth, nil)
	if rec.Code != http.StatusGone || !strings.Contains(errorOf(t, rec), "missing") {
		t.Errorf("GET with the file gone = %d %s, want 410", rec.Code, rec.Body)
	}
}

func TestDeleteGreeting(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil)
	va.upload(t, aliceInHours, aliceAuth, sineWAV(8000, 1))
	va.upload(t, "/api/numbers/%2B15550100/greetings/after_hours", aliceAuth, sineWAV(8000, 1))

	rec := send(va.srv, http.MethodDelete, aliceInHours, aliceAuth, nil)
	if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
		t.Fatalf("DELETE = %d %s, want 204", rec.Code, rec.Body)
	}
	if _, err := va.st.GetGreeting(aliceNumber, store.GreetingInHours); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("record after DELETE: %v, want not found", err)
	}
	if files := filesUnder(t, va.dataDir); !slices.Equal(files, []string{"greetings/15550100/after_hours.wav"}) {
		t.Errorf("data directory holds %v, want only the after-hours greeting", files)
	}
	want := []string{"+15550100 in_hours", "+15550100 after_hours", "+15550100 in_hours"}
	if got := va.changes(); !slices.Equal(got, want) {
		t.Errorf("GreetingChanged calls = %q, want %q", got, want)
	}
	rec = send(va.srv, http.MethodDelete, aliceInHours, aliceAuth, nil)
	if rec.Code != http.StatusNotFound || !strings.Contains(errorOf(t, rec), "no uploaded greeting") {
		t.Errorf("second DELETE = %d %s, want 404", rec.Code, rec.Body)
	}
	rec = send(va.srv, http.MethodGet, aliceInHours, aliceAuth, nil)
	if rec.Code != http.StatusNotFound {
		t.Errorf("GET after DELETE = %d, want 404", rec.Code)
	}
}

func TestUploadName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"hello.wav", "hello.wav"},
		{"", "greeting"},
		{"  ", "greeting"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\a\b.mp3`, "b.mp3"},
		{"dir/", "greeting"},
		{"..", "greeting"},
		{"a\x00b\nc.wav", "abc.wav"},
		{strings.Repeat("é", 150), strings.Repeat("é", 100)},
	} {
		if got := uploadName(tc.in); got != tc.want {
			t.Errorf("uploadName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
