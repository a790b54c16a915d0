package ivr

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"switchboard/internal/testaudio"
)

// countingTTS wraps an engine and counts renders.
type countingTTS struct {
	TTS
	renders atomic.Int32
}

func (c *countingTTS) Render(ctx context.Context, text, language, voice string) ([]int16, error) {
	c.renders.Add(1)
	return c.TTS.Render(ctx, text, language, voice)
}

func TestCacheRendersOnce(t *testing.T) {
	requireEspeak(t)
	dir := filepath.Join(t.TempDir(), "prompts")
	engine := &countingTTS{TTS: Espeak{}}
	cache, err := NewCache(dir, engine)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const text = "Sorry we missed you. Please leave a message after the tone."

	first, err := cache.Prompt(ctx, text, "en-us", "default")
	if err != nil {
		t.Fatal(err)
	}
	if rms := testaudio.RMSDBFS(first); len(first) < 8000 || rms < -40 {
		t.Fatalf("prompt: %d samples at %.1f dBFS RMS, want > 1 s of speech", len(first), rms)
	}
	// Concurrent callers of a cached prompt read the file.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			again, err := cache.Prompt(ctx, text, "en-us", "default")
			if err != nil || !slices.Equal(again, first) {
				t.Errorf("cached prompt differs (err %v)", err)
			}
		})
	}
	wg.Wait()
	if n := engine.renders.Load(); n != 1 {
		t.Fatalf("engine rendered %d times, want 1", n)
	}

	// A new Cache on the same directory (a restart) still has it.
	engine2 := &countingTTS{TTS: Espeak{}}
	cache2, err := NewCache(dir, engine2)
	if err != nil {
		t.Fatal(err)
	}
	again, err := cache2.Prompt(ctx, text, "en-us", "default")
	if err != nil || !slices.Equal(again, first) || engine2.renders.Load() != 0 {
		t.Fatalf("after restart: equal=%v renders=%d err=%v", slices.Equal(again, first), engine2.renders.Load(), err)
	}

	// Another language is another prompt.
	if _, err := cache2.Prompt(ctx, text, "pl", "default"); err != nil || engine2.renders.Load() != 1 {
		t.Fatalf("other language: renders=%d err=%v", engine2.renders.Load(), err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 2 {
		t.Fatalf("cache dir holds %d files (err %v), want 2", len(entries), err)
	}
}

// fixedTTS returns a constant prompt, blocking until release is closed.
type fixedTTS struct {
	release chan struct{}
	started chan struct{} // closed by the first Render
	once    sync.Once
	renders atomic.Int32
}

func (*fixedTTS) Name() string { return "fixed" }

func (f *fixedTTS) Render(ctx context.Context, text, language, voice string) ([]int16, error) {
	f.renders.Add(1)
	f.once.Do(func() { close(f.started) })
	<-f.release
	return []int16{1, 2, 3}, nil
}

func TestCacheConcurrentMissRendersOnce(t *testing.T) {
	engine := &fixedTTS{release: make(chan struct{}), started: make(chan struct{})}
	cache, err := NewCache(t.TempDir(), engine)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			got, err := cache.Prompt(context.Background(), "hello", "en", "")
			if err != nil || !slices.Equal(got, []int16{1, 2, 3}) {
				t.Errorf("got %v, %v", got, err)
			}
		})
	}
	// Wait until the leader is inside Render before letting it finish, so
	// the other callers find it in flight or the file on disk.
	<-engine.started
	close(engine.release)
	wg.Wait()
	if n := engine.renders.Load(); n != 1 {
		t.Fatalf("engine rendered %d times, want 1", n)
	}
}

func TestCacheReplacesDamagedFile(t *testing.T) {
	engine := &fixedTTS{release: make(chan struct{}), started: make(chan struct{})}
	close(engine.release)
	dir := t.TempDir()
	cache, err := NewCache(dir, engine)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, promptKey("fixed", "en", "", "hello")+promptExt)
	if err := os.WriteFile(path, []byte{1, 2, 3}, 0o600); err != nil { // odd length
		t.Fatal(err)
	}
	got, err := cache.Prompt(context.Background(), "hello", "en", "")
	if err != nil || !slices.Equal(got, []int16{1, 2, 3}) || engine.renders.Load() != 1 {
		t.Fatalf("got %v, renders %d, err %v", got, engine.renders.Load(), err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 6 {
		t.Fatalf("cache file not rewritten: %v %v", fi, err)
	}
}
