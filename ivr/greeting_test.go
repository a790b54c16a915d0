package ivr

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func TestLoadGreetingAccepts(t *testing.T) {
	mp3, err := os.ReadFile(mp3Fixture)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		tol  float64
	}{
		// Names deliberately disagree with content: sniffing decides.
		{"greeting.mp3", makeWAV(t, tone(1000, 44100, 1, -6), 44100, 2, 16), 0.5},
		{"closed.wav", mp3, 1},
		{"upload", makeWAV(t, tone(1000, 16000, 1, -6), 16000, 1, 8), 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			samples, err := LoadGreeting(bytes.NewReader(tc.data), tc.name, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			assertTone(t, samples, 8000, 1000, -6, tc.tol)
		})
	}
}

func TestLoadGreetingRejects(t *testing.T) {
	sixMB := make([]byte, 6<<20)
	copy(sixMB, makeWAV(t, tone(1000, 8000, 1, -6), 8000, 1, 16))
	long := makeWAV(t, tone(1000, 8000, 3, -6), 8000, 1, 16)
	for _, tc := range []struct {
		name    string
		r       io.Reader
		limits  Limits
		want    error
		message string
	}{
		{"big.wav", bytes.NewReader(sixMB), Limits{}, ErrTooLarge, "big.wav is 6.0 MB; the limit is 5 MB"},
		// A reader without Len: the size is found by draining.
		{"stream.wav", io.MultiReader(bytes.NewReader(sixMB)), Limits{}, ErrTooLarge, "stream.wav is 6.0 MB; the limit is 5 MB"},
		{"huge.wav", io.MultiReader(bytes.NewReader(sixMB)), Limits{MaxBytes: 1 << 20}, ErrTooLarge, "huge.wav is more than 5.0 MB; the limit is 1 MB"},
		{"greeting.mp3", strings.NewReader("Hello! This is a text file that someone renamed.\n"), Limits{}, ErrNotAudio, "greeting.mp3 is neither WAV nor MP3"},
		{"empty.wav", bytes.NewReader(nil), Limits{}, ErrEmpty, "empty.wav has no content"},
		{"silent.wav", bytes.NewReader(makeWAV(t, nil, 8000, 1, 16)), Limits{}, ErrEmpty, "contains no audio samples"},
		{"long.wav", bytes.NewReader(long), Limits{MaxDuration: 2 * time.Second}, ErrTooLong, "long.wav plays for at least 3s; the limit is 2s"},
		{"long.mp3", openFixture(t), Limits{MaxDuration: 500 * time.Millisecond}, ErrTooLong, "the limit is 500ms"},
		{"layer2.mp2", bytes.NewReader([]byte{0xFF, 0xFD, 0x90, 0x00, 1, 2, 3}), Limits{}, ErrUnsupported, "layer I or II"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			samples, err := LoadGreeting(tc.r, tc.name, tc.limits)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("message %q does not contain %q", err, tc.message)
			}
			if samples != nil {
				t.Errorf("got %d samples with an error", len(samples))
			}
		})
	}
}

func openFixture(t *testing.T) io.Reader {
	t.Helper()
	f, err := os.Open(mp3Fixture)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// FuzzLoadGreeting feeds arbitrary bytes through sniffing and both decoders:
// whatever arrives as an upload must produce samples or an error, never a
// panic or an unbounded allocation. `go test` runs the seeds below.
func FuzzLoadGreeting(f *testing.F) {
	mp3, err := os.ReadFile(mp3Fixture)
	if err != nil {
		f.Fatal(err)
	}
	wav := makeWAV(f, tone(1000, 8000, 0.1, -6), 8000, 2, 16)
	f.Add(wav)
	f.Add(wav[:30])
	f.Add(mp3)
	f.Add(mp3[:500])
	f.Add(mp3[:4])
	f.Add([]byte("ID3\x04\x00\x10\x00\x00\x00\x05abcde\xff\xfb\x90\x00"))
	f.Add([]byte{0xFF, 0xFB, 0x90, 0x00})
	f.Add([]byte{0xFF, 0xFB, 0x90, 0x64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte("RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00\x01\x00\x02\x00\x40\x1f\x00\x00\x00\x7d\x00\x00\x04\x00\x10\x00data\xff\xff\xff\xff\x01"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEjunk\xff\xff\xff\x7f"))
	f.Add([]byte("not audio at all"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		samples, err := LoadGreeting(bytes.NewReader(data), "fuzz", Limits{MaxDuration: 10 * time.Second})
		if err == nil && len(samples) == 0 {
			t.Fatal("no error and no samples")
		}
		if err != nil && samples != nil {
			t.Fatalf("samples returned with error %v", err)
		}
	})
}
