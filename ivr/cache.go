package ivr

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"switchboard/metrics"
)

// promptExt names cached prompt files: raw 8 kHz mono signed 16-bit
// little-endian PCM, no header (the rate is fixed by the package contract).
const promptExt = ".s16"

// Cache keeps rendered TTS prompts on disk (normally data_dir/prompts) so
// each distinct prompt is synthesised once, however many calls play it and
// across restarts. Files are keyed by sha256 of (engine, language, voice,
// text). A Cache is safe for concurrent use; concurrent requests for the
// same uncached prompt share one rendering.
type Cache struct {
	dir    string
	engine TTS

	mu       sync.Mutex
	inflight map[string]*render
}

// render is one in-progress synthesis that other callers wait on.
type render struct {
	done    chan struct{}
	samples []int16
	err     error
}

// NewCache returns a cache that stores prompts in dir (created if missing)
// and renders misses with engine.
func NewCache(dir string, engine TTS) (*Cache, error) {
	if engine == nil {
		return nil, errors.New("ivr: NewCache: nil TTS engine")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("ivr: prompt cache dir: %w", err)
	}
	return &Cache{dir: dir, engine: engine, inflight: make(map[string]*render)}, nil
}

// Prompt returns text spoken in language and voice as 8 kHz mono samples.
// The first request renders it with the engine and writes it to disk; later
// requests, including from a new Cache on the same directory, read the file.
// The returned slice is the caller's own.
func (c *Cache) Prompt(ctx context.Context, text, language, voice string) ([]int16, error) {
	key := promptKey(c.engine.Name(), language, voice, text)
	path := filepath.Join(c.dir, key+promptExt)
	if samples, err := readPrompt(path); err == nil {
		return samples, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		// A damaged file is replaced by a fresh rendering rather than
		// failing every call that needs the prompt.
		slog.Warn("ivr: re-rendering unreadable cached prompt", "path", path, "err", err)
	}

	for {
		c.mu.Lock()
		r, ok := c.inflight[key]
		if !ok {
			break // leaves c.mu held for registering our own rendering
		}
		c.mu.Unlock()
		select {
		case <-r.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("ivr: waiting for prompt: %w", ctx.Err())
		}
		// Another caller's cancellation is not our failure: try again.
		if r.err != nil && (errors.Is(r.err, context.Canceled) || errors.Is(r.err, context.DeadlineExceeded)) {
			continue
		}
		if r.err != nil {
			return nil, r.err
		}
		return append([]int16(nil), r.samples...), nil
	}
	r := &render{done: make(chan struct{})}
	c.inflight[key] = r
	c.mu.Unlock()

	r.samples, r.err = c.renderAndStore(ctx, path, text, language, voice)
	c.mu.Lock()
	delete(c.inflight, key)
	c.mu.Unlock()
	close(r.done)
	if r.err != nil {
		return nil, r.err
	}
	return append([]int16(nil), r.samples...), nil
}

// Preview returns text spoken in language and voice like Prompt, but a
// prompt not yet cached is rendered without being stored: previews of
// arbitrary text must not grow the cache without bound. A previewed text
// that is then configured is rendered again once, by Prompt.
func (c *Cache) Preview(ctx context.Context, text, language, voice string) ([]int16, error) {
	key := promptKey(c.engine.Name(), language, voice, text)
	if samples, err := readPrompt(filepath.Join(c.dir, key+promptExt)); err == nil {
		return samples, nil
	}
	metrics.TTSRenders.Inc()
	samples, err := c.engine.Render(ctx, text, language, voice)
	if err != nil {
		return nil, fmt.Errorf("ivr: render preview with %s: %w", c.engine.Name(), err)
	}
	return samples, nil
}

// renderAndStore synthesises a prompt and writes it atomically (temporary
// file, then rename) so a crash or a concurrent reader never sees half a
// prompt.
func (c *Cache) renderAndStore(ctx context.Context, path, text, language, voice string) ([]int16, error) {
	metrics.TTSRenders.Inc()
	samples, err := c.engine.Render(ctx, text, language, voice)
	if err != nil {
		return nil, fmt.Errorf("ivr: render prompt with %s: %w", c.engine.Name(), err)
	}
	buf := make([]byte, 2*len(samples))
	for i, s := range samples {
		binary.LittleEndian.PutUint16(buf[2*i:], uint16(s))
	}
	tmp, err := os.CreateTemp(c.dir, "prompt-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("ivr: cache prompt: %w", err)
	}
	_, werr := tmp.Write(buf)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return nil, fmt.Errorf("ivr: cache prompt: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return nil, fmt.Errorf("ivr: cache prompt: %w", err)
	}
	return samples, nil
}

// readPrompt loads a cached prompt file.
func readPrompt(path string) ([]int16, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(buf) == 0 || len(buf)%2 != 0 {
		return nil, fmt.Errorf("ivr: cached prompt %s has %d bytes", path, len(buf))
	}
	samples := make([]int16, len(buf)/2)
	for i := range samples {
		samples[i] = int16(binary.LittleEndian.Uint16(buf[2*i:]))
	}
	return samples, nil
}

// promptKey hashes the fields that determine a prompt's audio. Each field is
// length-prefixed so ("ab","c") and ("a","bc") cannot collide.
func promptKey(fields ...string) string {
	h := sha256.New()
	var n [8]byte
	for _, f := range fields {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}
