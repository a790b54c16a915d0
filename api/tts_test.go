package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"switchboard/internal/testaudio"
	"switchboard/ivr"
)

// requireEspeak skips (or, on CI, fails) a test that needs espeak-ng.
func requireEspeak(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("espeak-ng is required on CI: %v", err)
		}
		t.Skipf("espeak-ng is not installed (%v); install it to run the text-to-speech preview test", err)
	}
}

// fakeTTS is an engine that returns a fixed tone or a fixed error, and
// records what it was asked.
type fakeTTS struct {
	err  error
	last string // "text|language|voice" of the last Render
}

func (f *fakeTTS) Name() string { return "fake" }

func (f *fakeTTS) Render(_ context.Context, text, language, voice string) ([]int16, error) {
	f.last = text + "|" + language + "|" + voice
	if f.err != nil {
		return nil, f.err
	}
	return testaudio.Sine(440, 8000, 4000, 0.5, nil), nil
}

// fakeVoiceAPI is a voiceAPI whose previews render with engine.
func fakeVoiceAPI(t *testing.T, engine ivr.TTS) *voiceAPI {
	t.Helper()
	cache, err := ivr.NewCache(t.TempDir(), engine)
	if err != nil {
		t.Fatal(err)
	}
	return newVoiceAPI(t, ivr.Limits{}, cache)
}

func TestTTSPreviewSpeaks(t *testing.T) {
	requireEspeak(t)
	va := fakeVoiceAPI(t, ivr.Espeak{})
	body := `{"text": "Thank you for calling. Please leave a message after the tone.", "language": "en-us", "voice": "default"}`
	rec := send(va.srv, http.MethodPost, "/api/tts/preview", bobAuth, strings.NewReader(body))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "audio/wav" {
		t.Fatalf("preview = %d %q: %.300s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	if cl := rec.Header().Get("Content-Length"); cl != fmt.Sprint(rec.Body.Len()) {
		t.Errorf("Content-Length = %q for %d bytes", cl, rec.Body.Len())
	}
	h, samples := parseWAV(t, rec.Body.Bytes())
	if h.channels != 1 || h.rate != 8000 || h.bits != 16 {
		t.Fatalf("preview WAV is %+v, want 8 kHz 16-bit mono", h)
	}
	if sec := float64(len(samples)) / 8000; sec < 1.5 || sec > 15 {
		t.Errorf("preview plays %.2f s, want the length of a spoken sentence", sec)
	}
	if lvl := testaudio.RMSDBFS(samples); lvl <= -40 {
		t.Errorf("preview RMS level %.1f dBFS, want speech above -40", lvl)
	}

	// Names espeak-ng would take as options or paths never reach it.
	for _, body := range []string{
		`{"text": "hi", "voice": "../x"}`,
		`{"text": "hi", "language": "--help"}`,
	} {
		rec := send(va.srv, http.MethodPost, "/api/tts/preview", bobAuth, strings.NewReader(body))
		if msg := errorOf(t, rec); rec.Code != http.StatusBadRequest || !strings.Contains(msg, "invalid TTS language or voice") {
			t.Errorf("preview %s = %d %q, want 400 invalid TTS language or voice", body, rec.Code, msg)
		}
	}
}

func TestTTSPreviewDefaultsAndLimits(t *testing.T) {
	engine := &fakeTTS{}
	va := fakeVoiceAPI(t, engine)
	tests := []struct {
		name     string
		body     string
		status   int
		errorHas string
		rendered string // engine's last request when 200
	}{
		{"defaults", `{"text": "  Hello  "}`, http.StatusOK, "", "Hello|en-us|default"},
		{"language and voice", `{"text": "Dzień dobry", "language": "pl", "voice": "f3"}`, http.StatusOK, "", "Dzień dobry|pl|f3"},
		{"1000 characters", `{"text": "` + strings.Repeat("ą", 1000) + `"}`, http.StatusOK, "", strings.Repeat("ą", 1000) + "|en-us|default"},
		{"1001 characters", `{"text": "` + strings.Repeat("a", 1001) + `"}`, http.StatusBadRequest, "1001 characters; the limit is 1000", ""},
		{"empty text", `{"text": ""}`, http.StatusBadRequest, "text is empty", ""},
		{"blank text", `{"text": " \n\t "}`, http.StatusBadRequest, "text is empty", ""},
		{"no text", `{}`, http.StatusBadRequest, "text is empty", ""},
		{"unknown field", `{"text": "hi", "speed": 2}`, http.StatusBadRequest, "speed", ""},
		{"not JSON", `text=hi`, http.StatusBadRequest, "body must be JSON", ""},
		{"two objects", `{"text": "a"} {"text": "b"}`, http.StatusBadRequest, "one object", ""},
		{"body over 16 KiB", `{"text": "hi", "voice": "` + strings.Repeat("x", 16<<10) + `"}`, http.StatusBadRequest, "16 KiB", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			engine.last = ""
			rec := send(va.srv, http.MethodPost, "/api/tts/preview", aliceAuth, strings.NewReader(tt.body))
			if rec.Code != tt.status {
				t.Fatalf("preview = %d %.300s, want %d", rec.Code, rec.Body, tt.status)
			}
			if tt.status != http.StatusOK {
				if msg := errorOf(t, rec); !strings.Contains(msg, tt.errorHas) {
					t.Errorf("error %q does not mention %q", msg, tt.errorHas)
				}
				return
			}
			if engine.last != tt.rendered {
				t.Errorf("engine rendered %q, want %q", engine.last, tt.rendered)
			}
			if h, samples := parseWAV(t, rec.Body.Bytes()); h.rate != 8000 || len(samples) != 4000 {
				t.Errorf("preview = %+v with %d samples, want the engine's 4000 at 8 kHz", h, len(samples))
			}
		})
	}
}

func TestTTSPreviewFailures(t *testing.T) {
	t.Run("engine fails", func(t *testing.T) {
		va := fakeVoiceAPI(t, &fakeTTS{err: errors.New("espeak-ng: exit status 1: no such voice")})
		rec := send(va.srv, http.MethodPost, "/api/tts/preview", aliceAuth, strings.NewReader(`{"text": "hi"}`))
		if msg := errorOf(t, rec); rec.Code != http.StatusBadGateway || !strings.HasPrefix(msg, "text-to-speech failed: ") || !strings.Contains(msg, "no such voice") {
			t.Errorf("failing engine = %d %q, want 502 text-to-speech failed", rec.Code, msg)
		}
	})
	t.Run("engine says nothing", func(t *testing.T) {
		va := fakeVoiceAPI(t, &fakeTTS{err: fmt.Errorf("%w: no audio for %q", ivr.ErrEmpty, "...")})
		rec := send(va.srv, http.MethodPost, "/api/tts/preview", aliceAuth, strings.NewReader(`{"text": "..."}`))
		if rec.Code != http.StatusBadRequest || !strings.Contains(errorOf(t, rec), "speaks nothing") {
			t.Errorf("silent text = %d %s, want 400", rec.Code, rec.Body)
		}
	})
	t.Run("no TTS configured", func(t *testing.T) {
		va := newVoiceAPI(t, ivr.Limits{}, nil)
		rec := send(va.srv, http.MethodPost, "/api/tts/preview", aliceAuth, strings.NewReader(`{"text": "hi"}`))
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(errorOf(t, rec), "text-to-speech is not configured") {
			t.Errorf("no TTS = %d %s, want 503", rec.Code, rec.Body)
		}
	})
	t.Run("not signed in", func(t *testing.T) {
		va := fakeVoiceAPI(t, &fakeTTS{})
		for _, auth := range []string{"", "Bearer wrong"} {
			rec := send(va.srv, http.MethodPost, "/api/tts/preview", auth, strings.NewReader(`{"text": "hi"}`))
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("preview with %q = %d, want 401", auth, rec.Code)
			}
		}
		if rec := send(va.srv, http.MethodPost, "/api/tts/preview", adminAuth, strings.NewReader(`{"text": "hi"}`)); rec.Code != http.StatusOK {
			t.Errorf("preview with the admin token = %d, want 200", rec.Code)
		}
	})
}

func TestEncodeWAVRoundTrips(t *testing.T) {
	in := testaudio.Sine(1000, 16000, 1600, 0.25, nil)
	h, out := parseWAV(t, encodeWAV(in, 16000))
	if h.channels != 1 || h.rate != 16000 || h.bits != 16 || h.dataBytes != 3200 {
		t.Fatalf("header = %+v", h)
	}
	for i := range in {
		if in[i] != out[i] {
			t.Fatalf("sample %d = %d, want %d", i, out[i], in[i])
		}
	}
}
