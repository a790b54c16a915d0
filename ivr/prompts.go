package ivr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"switchboard/metrics"
)

// ErrNoTTS is returned for a spoken prompt when no TTS engine is configured.
var ErrNoTTS = errors.New("ivr: no text-to-speech engine")

// Source is one prompt to play: a generated tone, an audio file, or text to
// speak, tried in that order.
type Source struct {
	Tone     string // ToneBeep or ToneRingback
	Audio    string // absolute path of a WAV or MP3 file
	Text     string // spoken by TTS
	Language string
	Voice    string
}

// String describes the source for logs.
func (s Source) String() string {
	switch {
	case s.Tone != "":
		return "tone " + s.Tone
	case s.Audio != "":
		return "file " + s.Audio
	}
	return "tts " + s.Language + "/" + s.Voice + " " + strconv.Quote(s.Text)
}

// maxMemo bounds the encoded prompts kept in memory. A gateway has a few
// per number (consent, two greetings, in two codecs); when re-uploads push
// past the bound the memo starts over and refills on demand.
const maxMemo = 512

// Prompts turns Sources into encoded 20 ms frames, rendering or decoding
// each (source, codec) when first asked (calls arriving together for a new
// file may each decode it; TTS renders once, see Cache) and serving every
// later call from memory: a
// call that plays a cached prompt costs no synthesis, no decoding and no
// disk read. Audio files are keyed by path, size and modification time, so
// an uploaded replacement is picked up by the next call. It is safe for
// concurrent use.
type Prompts struct {
	tts    *Cache
	region string
	limits Limits

	mu   sync.Mutex
	memo map[memoKey][][]byte

	hits, misses atomic.Uint64
}

// NewPrompts returns a prompt library speaking text with tts (nil: text
// prompts fail with ErrNoTTS), generating ringback for region and
// accepting audio files within limits.
func NewPrompts(tts *Cache, region string, limits Limits) *Prompts {
	return &Prompts{tts: tts, region: region, limits: limits, memo: make(map[memoKey][][]byte)}
}

// Stats returns how many Frames calls were served from memory and how many
// had to render or decode.
func (p *Prompts) Stats() (hits, misses uint64) { return p.hits.Load(), p.misses.Load() }

// Frames returns src encoded for payloadType (media.PayloadPCMU or
// PayloadPCMA) as 20 ms frames. The frames are shared: callers must not
// modify them.
func (p *Prompts) Frames(ctx context.Context, src Source, payloadType uint8) ([][]byte, error) {
	key, err := p.key(src, payloadType)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	f, ok := p.memo[key]
	p.mu.Unlock()
	if ok {
		p.hits.Add(1)
		metrics.PromptFrames.WithLabelValues("hit").Inc()
		return f, nil
	}
	p.misses.Add(1)
	metrics.PromptFrames.WithLabelValues("miss").Inc()
	samples, err := p.Samples(ctx, src)
	if err != nil {
		return nil, err
	}
	f = EncodeFrames(samples, payloadType)
	if f == nil {
		return nil, fmt.Errorf("ivr: %s: payload type %d is not G.711", src, payloadType)
	}
	p.mu.Lock()
	if len(p.memo) >= maxMemo {
		clear(p.memo)
	}
	p.memo[key] = f
	p.mu.Unlock()
	return f, nil
}

// memoKey identifies what a source sounds like in one payload type. It is
// a comparable struct rather than a formatted or hashed string so that a
// memo hit, on every call's path, allocates nothing.
type memoKey struct {
	kind    byte // 't' tone, 'f' audio file, 's' speech
	a, b, c string
	size    int64 // audio file size in bytes
	mtime   int64 // audio file modification time, Unix nanoseconds
	pt      uint8
}

// key identifies what src sounds like in payloadType.
func (p *Prompts) key(src Source, payloadType uint8) (memoKey, error) {
	switch {
	case src.Tone != "":
		return memoKey{kind: 't', a: src.Tone, b: p.region, pt: payloadType}, nil
	case src.Audio != "":
		fi, err := os.Stat(src.Audio)
		if err != nil {
			return memoKey{}, fmt.Errorf("ivr: greeting file: %w", err)
		}
		return memoKey{kind: 'f', a: src.Audio, size: fi.Size(), mtime: fi.ModTime().UnixNano(), pt: payloadType}, nil
	}
	return memoKey{kind: 's', a: src.Text, b: src.Language, c: src.Voice, pt: payloadType}, nil
}

// Samples renders src as 8 kHz mono samples (not memoised: Frames is the
// per-call path; this serves previews and tests).
func (p *Prompts) Samples(ctx context.Context, src Source) ([]int16, error) {
	switch {
	case src.Tone == ToneBeep:
		return Beep(), nil
	case src.Tone == ToneRingback:
		return Ringback(p.region), nil
	case src.Tone != "":
		return nil, fmt.Errorf("ivr: unknown tone %q", src.Tone)
	case src.Audio != "":
		f, err := os.Open(src.Audio)
		if err != nil {
			return nil, fmt.Errorf("ivr: greeting file: %w", err)
		}
		defer f.Close()
		return LoadGreeting(f, src.Audio, p.limits)
	case src.Text == "":
		return nil, fmt.Errorf("%w: the prompt has no text", ErrEmpty)
	case p.tts == nil:
		return nil, ErrNoTTS
	}
	return p.tts.Prompt(ctx, src.Text, src.Language, src.Voice)
}
