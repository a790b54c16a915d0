package ivr

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"switchboard/internal/testaudio"
	"switchboard/media"
)

// decodeFrames checks that every frame is one 20 ms G.711 payload and
// returns the frames decoded to linear samples.
func decodeFrames(t *testing.T, frames [][]byte, payloadType uint8) []int16 {
	t.Helper()
	if len(frames) == 0 {
		t.Fatal("no frames")
	}
	table := &media.ULawToLinear
	if payloadType == media.PayloadPCMA {
		table = &media.ALawToLinear
	}
	out := make([]int16, 0, len(frames)*FrameSamples)
	for i, f := range frames {
		if len(f) != FrameSamples {
			t.Fatalf("frame %d is %d bytes, want %d", i, len(f), FrameSamples)
		}
		for _, b := range f {
			out = append(out, table[b])
		}
	}
	return out
}

// newSpeakingPrompts returns a prompt library speaking with engine through a
// cache in dir.
func newSpeakingPrompts(t testing.TB, dir string, engine TTS) *Prompts {
	t.Helper()
	cache, err := NewCache(dir, engine)
	if err != nil {
		t.Fatal(err)
	}
	return NewPrompts(cache, "US", Limits{})
}

// copyFile copies the fixture src to dst.
func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestPromptsFramesSoundRight(t *testing.T) {
	ctx := context.Background()
	p := NewPrompts(nil, "US", Limits{})
	for _, pt := range []uint8{media.PayloadPCMU, media.PayloadPCMA} {
		t.Run("PT"+strconv.Itoa(int(pt)), func(t *testing.T) {
			t.Run("beep", func(t *testing.T) {
				frames, err := p.Frames(ctx, Source{Tone: ToneBeep}, pt)
				if err != nil {
					t.Fatal(err)
				}
				if len(frames) != 20 {
					t.Fatalf("beep is %d frames, want 20 (400 ms)", len(frames))
				}
				assertTone(t, decodeFrames(t, frames, pt), media.ClockRate, BeepFrequency, beepLevel, 0.5)
			})
			t.Run("ringback", func(t *testing.T) {
				frames, err := p.Frames(ctx, Source{Tone: ToneRingback}, pt)
				if err != nil {
					t.Fatal(err)
				}
				// US cadence: 2 s of 440+480 Hz, then 4 s of silence.
				if len(frames) != 300 {
					t.Fatalf("ringback is %d frames, want 300 (6 s)", len(frames))
				}
				s := decodeFrames(t, frames, pt)
				on := s[800:15200]
				for _, f := range []float64{440, 480} {
					if lvl := testaudio.ToneLevelDBFS(on, media.ClockRate, f); math.Abs(lvl-toneLevel) > 1 {
						t.Errorf("%v Hz at %.1f dBFS, want %d", f, lvl, toneLevel)
					}
				}
				if rms := testaudio.RMSDBFS(s[17000:]); rms > -60 {
					t.Errorf("the off part of the cadence is at %.1f dBFS RMS, want silence", rms)
				}
			})
			t.Run("mp3 file", func(t *testing.T) {
				abs, err := filepath.Abs(mp3Fixture)
				if err != nil {
					t.Fatal(err)
				}
				frames, err := p.Frames(ctx, Source{Audio: abs}, pt)
				if err != nil {
					t.Fatal(err)
				}
				// 1 s plus the encoder's delay and padding.
				if len(frames) < 50 || len(frames) > 55 {
					t.Fatalf("%d frames, want about 50 (1 s)", len(frames))
				}
				// MP3 is lossy and G.711 adds quantisation noise: 1 dB.
				assertTone(t, decodeFrames(t, frames, pt), media.ClockRate, 1000, -6, 1)
			})
		})
	}
}

func TestPromptsFramesSpeakText(t *testing.T) {
	requireEspeak(t)
	p := newSpeakingPrompts(t, t.TempDir(), Espeak{})
	src := Source{Text: "Please leave a message after the tone.", Language: "en-us"}
	frames, err := p.Frames(context.Background(), src, media.PayloadPCMU)
	if err != nil {
		t.Fatal(err)
	}
	s := decodeFrames(t, frames, media.PayloadPCMU)
	if len(s) < media.ClockRate {
		t.Fatalf("%d samples of speech, want over 1 s for seven words", len(s))
	}
	if rms := testaudio.RMSDBFS(s); rms < -40 {
		t.Fatalf("speech at %.1f dBFS RMS, want above -40", rms)
	}
}

func TestPromptsMemo(t *testing.T) {
	ctx := context.Background()
	p := NewPrompts(nil, "GB", Limits{})
	beep := Source{Tone: ToneBeep}
	first, err := p.Frames(ctx, beep, media.PayloadPCMU)
	if err != nil {
		t.Fatal(err)
	}
	if hits, misses := p.Stats(); hits != 0 || misses != 1 {
		t.Fatalf("after the first call: hits %d misses %d, want 0/1", hits, misses)
	}
	again, err := p.Frames(ctx, beep, media.PayloadPCMU)
	if err != nil {
		t.Fatal(err)
	}
	if hits, misses := p.Stats(); hits != 1 || misses != 1 {
		t.Fatalf("after the second call: hits %d misses %d, want 1/1", hits, misses)
	}
	// A hit hands out the very same frames, not a copy.
	if len(again) != len(first) || &again[0][0] != &first[0][0] || &again[len(again)-1][0] != &first[len(first)-1][0] {
		t.Fatal("the second call returned other frames than the first")
	}

	// The same tone in A-law is a separate entry with other bytes.
	alaw, err := p.Frames(ctx, beep, media.PayloadPCMA)
	if err != nil {
		t.Fatal(err)
	}
	if hits, misses := p.Stats(); hits != 1 || misses != 2 {
		t.Fatalf("after PCMA: hits %d misses %d, want 1/2", hits, misses)
	}
	if slices.Equal(alaw[5], first[5]) {
		t.Fatal("PCMA frames equal the PCMU frames")
	}
	if again, err := p.Frames(ctx, beep, media.PayloadPCMA); err != nil || &again[0][0] != &alaw[0][0] {
		t.Fatalf("PCMA second call: err %v, same frames %v", err, err == nil && &again[0][0] == &alaw[0][0])
	}
	if hits, misses := p.Stats(); hits != 2 || misses != 2 {
		t.Fatalf("after PCMA again: hits %d misses %d, want 2/2", hits, misses)
	}

	// The region is part of what a ringback sounds like: a library for
	// another region renders its own cadence.
	gb, err := p.Frames(ctx, Source{Tone: ToneRingback}, media.PayloadPCMU)
	if err != nil {
		t.Fatal(err)
	}
	us, err := NewPrompts(nil, "US", Limits{}).Frames(ctx, Source{Tone: ToneRingback}, media.PayloadPCMU)
	if err != nil {
		t.Fatal(err)
	}
	if len(gb) != 150 || len(us) != 300 {
		t.Fatalf("ringback GB %d frames, US %d frames; want 150 and 300", len(gb), len(us))
	}
}

func TestPromptsRendersSpeechOnce(t *testing.T) {
	requireEspeak(t)
	ctx := context.Background()
	dir := t.TempDir()
	engine := &countingTTS{TTS: Espeak{}}
	p := newSpeakingPrompts(t, dir, engine)
	src := Source{Text: "Thank you for calling.", Language: "en-us", Voice: "default"}

	var wg sync.WaitGroup
	results := make([][][]byte, 20)
	for i := range results {
		wg.Go(func() {
			f, err := p.Frames(ctx, src, media.PayloadPCMU)
			if err != nil {
				t.Error(err)
			}
			results[i] = f
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for i := range 10 {
		if _, err := p.Frames(ctx, src, media.PayloadPCMU); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if n := engine.renders.Load(); n != 1 {
		t.Fatalf("espeak-ng ran %d times for 30 calls, want 1", n)
	}
	for i, f := range results[1:] {
		if !slices.EqualFunc(f, results[0], slices.Equal) {
			t.Fatalf("goroutine %d got other audio than goroutine 0", i+1)
		}
	}
	// A-law is encoded from the cached rendering, not spoken again.
	if _, err := p.Frames(ctx, src, media.PayloadPCMA); err != nil {
		t.Fatal(err)
	}
	if n := engine.renders.Load(); n != 1 {
		t.Fatalf("espeak-ng ran %d times after PCMA, want 1", n)
	}

	// A restart: a new cache and library on the same directory read the
	// rendering from disk.
	p2 := newSpeakingPrompts(t, dir, engine)
	f, err := p2.Frames(ctx, src, media.PayloadPCMU)
	if err != nil {
		t.Fatal(err)
	}
	if n := engine.renders.Load(); n != 1 {
		t.Fatalf("espeak-ng ran %d times after a restart, want 1", n)
	}
	if !slices.EqualFunc(f, results[0], slices.Equal) {
		t.Fatal("the prompt read back from disk sounds different")
	}

	// Another voice is another prompt.
	if _, err := p2.Frames(ctx, Source{Text: src.Text, Language: "en-us", Voice: "f3"}, media.PayloadPCMU); err != nil {
		t.Fatal(err)
	}
	if n := engine.renders.Load(); n != 2 {
		t.Fatalf("espeak-ng ran %d times for a second voice, want 2", n)
	}
}

func TestPromptsPicksUpReplacedFile(t *testing.T) {
	ctx := context.Background()
	p := NewPrompts(nil, "US", Limits{})
	path := filepath.Join(t.TempDir(), "greeting")
	copyFile(t, mp3Fixture, path)
	mp3, err := p.Frames(ctx, Source{Audio: path}, media.PayloadPCMU)
	if err != nil {
		t.Fatal(err)
	}

	// An upload of another size: a 440 Hz WAV.
	if err := os.WriteFile(path, makeWAV(t, tone(440, 16000, 0.5, -10), 16000, 1, 16), 0o600); err != nil {
		t.Fatal(err)
	}
	wav, err := p.Frames(ctx, Source{Audio: path}, media.PayloadPCMU)
	if err != nil {
		t.Fatal(err)
	}
	if len(wav) != 25 {
		t.Fatalf("replacement is %d frames, want 25 (0.5 s)", len(wav))
	}
	assertTone(t, decodeFrames(t, wav, media.PayloadPCMU), media.ClockRate, 440, -10, 0.5)

	// An upload of the same size (another 440 Hz level): only the
	// modification time tells it apart.
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, makeWAV(t, tone(440, 16000, 0.5, -20), 16000, 1, 16), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, time.Time{}, fi.ModTime().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	quieter, err := p.Frames(ctx, Source{Audio: path}, media.PayloadPCMU)
	if err != nil {
		t.Fatal(err)
	}
	assertTone(t, decodeFrames(t, quieter, media.PayloadPCMU), media.ClockRate, 440, -20, 0.5)
	if hits, misses := p.Stats(); hits != 0 || misses != 3 {
		t.Fatalf("hits %d misses %d, want 0/3: every replacement is decoded", hits, misses)
	}
	if &quieter[0][0] == &wav[0][0] || &wav[0][0] == &mp3[0][0] {
		t.Fatal("a replaced file was served from the memo")
	}
	// The unchanged file is now a hit.
	if again, err := p.Frames(ctx, Source{Audio: path}, media.PayloadPCMU); err != nil || &again[0][0] != &quieter[0][0] {
		t.Fatalf("unchanged file: err %v, not the memoised frames", err)
	}
}

func TestPromptsErrors(t *testing.T) {
	ctx := context.Background()
	p := NewPrompts(nil, "US", Limits{})
	garbage := filepath.Join(t.TempDir(), "greeting.mp3")
	if err := os.WriteFile(garbage, []byte("this is not audio at all, only text in a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		src  Source
		pt   uint8
		want error // nil: any error
	}{
		{"missing file", Source{Audio: filepath.Join(t.TempDir(), "nope.wav")}, media.PayloadPCMU, os.ErrNotExist},
		{"not audio", Source{Audio: garbage}, media.PayloadPCMU, ErrNotAudio},
		{"text without TTS", Source{Text: "hello"}, media.PayloadPCMU, ErrNoTTS},
		{"empty source", Source{}, media.PayloadPCMU, ErrEmpty},
		{"unknown tone", Source{Tone: "howler"}, media.PayloadPCMU, nil},
		{"not G.711", Source{Tone: ToneBeep}, 18, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := p.Frames(ctx, tc.src, tc.pt)
			if err == nil || f != nil {
				t.Fatalf("got %d frames, err %v; want an error", len(f), err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// Failures are not memoised: once the file exists it plays.
	path := filepath.Join(t.TempDir(), "late.mp3")
	if _, err := p.Frames(ctx, Source{Audio: path}, media.PayloadPCMU); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want ErrNotExist", err)
	}
	copyFile(t, mp3Fixture, path)
	if f, err := p.Frames(ctx, Source{Audio: path}, media.PayloadPCMU); err != nil || len(f) < 50 {
		t.Fatalf("after upload: %d frames, err %v", len(f), err)
	}
}

// TestPromptsMemoBound fills the memo past its bound: it starts over and
// keeps serving.
func TestPromptsMemoBound(t *testing.T) {
	engine := &fixedTTS{release: make(chan struct{}), started: make(chan struct{})}
	close(engine.release)
	p := newSpeakingPrompts(t, t.TempDir(), engine)
	ctx := context.Background()
	for i := range maxMemo {
		if _, err := p.Frames(ctx, Source{Text: "prompt " + strconv.Itoa(i)}, media.PayloadPCMU); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Frames(ctx, Source{Text: "prompt 0"}, media.PayloadPCMU); err != nil {
		t.Fatal(err)
	}
	if hits, misses := p.Stats(); hits != 1 || misses != maxMemo {
		t.Fatalf("full memo: hits %d misses %d, want 1/%d", hits, misses, maxMemo)
	}
	// One more entry clears it; earlier prompts are rendered (from the
	// disk cache) again.
	if _, err := p.Frames(ctx, Source{Text: "one too many"}, media.PayloadPCMU); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Frames(ctx, Source{Text: "prompt 1"}, media.PayloadPCMU); err != nil {
		t.Fatal(err)
	}
	if hits, misses := p.Stats(); hits != 1 || misses != maxMemo+2 {
		t.Fatalf("after the bound: hits %d misses %d, want 1/%d", hits, misses, maxMemo+2)
	}
	p.mu.Lock()
	n := len(p.memo)
	p.mu.Unlock()
	if n != 2 {
		t.Fatalf("memo holds %d entries after starting over, want 2", n)
	}
	if r := engine.renders.Load(); r != maxMemo+1 {
		t.Fatalf("TTS rendered %d times, want %d (once per text)", r, maxMemo+1)
	}
}

// cachedSources are prompts a call plays over and over: serving them from
// memory must not allocate.
func cachedSources(t testing.TB) (*Prompts, map[string]Source) {
	engine := &fixedTTS{release: make(chan struct{}), started: make(chan struct{})}
	close(engine.release)
	p := newSpeakingPrompts(t, t.TempDir(), engine)
	srcs := map[string]Source{
		"tone": {Tone: ToneRingback},
		"tts":  {Text: "Please hold while we connect you.", Language: "en-us", Voice: "default"},
	}
	for _, src := range srcs {
		if _, err := p.Frames(context.Background(), src, media.PayloadPCMU); err != nil {
			t.Fatal(err)
		}
	}
	return p, srcs
}

func TestPromptsCachedFramesDoNotAllocate(t *testing.T) {
	p, srcs := cachedSources(t)
	ctx := context.Background()
	for name, src := range srcs {
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := p.Frames(ctx, src, media.PayloadPCMU); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: a cached Frames call makes %.0f allocations, want 0", name, allocs)
		}
	}
}

func BenchmarkFramesCached(b *testing.B) {
	p, srcs := cachedSources(b)
	ctx := context.Background()
	abs, err := filepath.Abs(mp3Fixture)
	if err != nil {
		b.Fatal(err)
	}
	// A file is checked on disk (stat) on every call so that a replaced
	// upload is noticed; that costs a system call and its allocations.
	srcs["file"] = Source{Audio: abs}
	for _, name := range []string{"tone", "tts", "file"} {
		src := srcs[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Frames(ctx, src, media.PayloadPCMU); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
