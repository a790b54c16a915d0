package ivr

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"

	"switchboard/internal/testaudio"
)

// requireEspeak skips without espeak-ng on a developer machine but fails in
// CI, where scripts/install-test-deps.sh must have installed it.
func requireEspeak(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("espeak-ng is required in CI (scripts/install-test-deps.sh): %v", err)
		}
		t.Skipf("espeak-ng not installed (run scripts/install-test-deps.sh): %v", err)
	}
}

func TestEspeakRendersSpeech(t *testing.T) {
	requireEspeak(t)
	for _, tc := range []struct{ language, voice string }{
		{"en-us", "default"},
		{"pl", ""},
		{"de", "f3"},
	} {
		samples, err := Espeak{}.Render(context.Background(), "This call may be recorded for quality and training.", tc.language, tc.voice)
		if err != nil {
			t.Fatalf("%s+%s: %v", tc.language, tc.voice, err)
		}
		// A sentence of ten words lasts well over a second.
		if len(samples) < 8000 {
			t.Errorf("%s+%s: %d samples (< 1 s)", tc.language, tc.voice, len(samples))
		}
		// Speech sits around -20 dBFS RMS; silence is -Inf.
		if rms := testaudio.RMSDBFS(samples); rms < -40 {
			t.Errorf("%s+%s: RMS %.1f dBFS, want speech energy above -40", tc.language, tc.voice, rms)
		}
	}
}

func TestEspeakRejects(t *testing.T) {
	requireEspeak(t)
	for _, tc := range []struct {
		name, text, language, voice string
		want                        error
	}{
		{"empty text", "  ", "en", "", ErrEmpty},
		{"option as language", "hi", "--help", "", ErrBadVoice},
		{"path as voice", "hi", "en", "../x", ErrBadVoice},
	} {
		if _, err := (Espeak{}).Render(context.Background(), tc.text, tc.language, tc.voice); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := (Espeak{}).Render(context.Background(), "hi", "xx-nope", ""); err == nil {
		t.Error("unknown language: no error")
	}
	if _, err := (Espeak{Binary: "/nonexistent/espeak-ng"}).Render(context.Background(), "hi", "en", ""); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing binary: err = %v, want ErrNotExist", err)
	}
}
