// Package livestream streams a recorded call's audio, live, over a WebSocket
// to a consumer (a transcription or analytics service) at a configured URL.
//
// Per call, Start opens one client connection in the background and sends a
// JSON start event; Audio takes the recording's aligned stereo audio, encodes
// each channel to G.711 µ-law and cuts it into 20 ms frames that are sent as
// media events; Stop sends a stop event and closes. docs/livestream.md is the
// protocol for consumer authors.
//
// The consumer can never hurt the call: Audio copies into a preallocated
// bounded queue and returns at once; a consumer that is unreachable, refuses
// the handshake, closes the stream or stalls longer than WriteTimeout is
// dropped (logged once), and the rest of the call's audio is counted as
// dropped. There is no reconnect.
//
// The package knows WebSocket and G.711, nothing of SIP or of recordings.
package livestream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"switchboard/media"
)

// Audio format of the stream.
const (
	// SampleRate is the sample rate of the audio Audio takes and of the
	// µ-law frames sent.
	SampleRate = 8000
	// FrameMS is the length of one media frame in milliseconds.
	FrameMS = 20
	// FrameSamples is the number of samples (and µ-law bytes) of one
	// channel in one frame.
	FrameSamples = SampleRate * FrameMS / 1000
)

// Defaults for the zero values of Config.
const (
	// DefaultDialTimeout bounds connecting: TCP, TLS and the WebSocket
	// handshake.
	DefaultDialTimeout = 5 * time.Second
	// DefaultWriteTimeout is how long one message may take to send; a
	// consumer that stalls longer is dropped.
	DefaultWriteTimeout = 2 * time.Second
	// DefaultQueueFrames is 2 s of audio (100 steps of 20 ms, both
	// channels): enough to cover the dial and the recorder's 100 ms
	// batches with room to spare.
	DefaultQueueFrames = 100
)

// MaxConsumerMessage is the largest message the consumer may send. Its
// messages are read and discarded (only control frames matter); a bigger one
// closes the stream with 1009 (RFC 6455 §7.4.1).
const MaxConsumerMessage = 64 << 10

// ulawSilence is the µ-law byte of a zero sample, used to pad the last
// partial frame.
const ulawSilence = 0xFF

// Errors that Start returns, or that Stats.Err wraps.
var (
	// ErrConfig is returned by Start (and ParseURL) for an invalid
	// Config; the wrapped message names the field.
	ErrConfig = errors.New("livestream: invalid config")
	// ErrRefused is wrapped by Stats.Err when the consumer answered the
	// WebSocket handshake with something other than 101 (an HTTP 4xx or
	// 5xx); the message carries the status.
	ErrRefused = errors.New("livestream: consumer refused the WebSocket handshake")
	// ErrConsumerClosed is wrapped by Stats.Err when the consumer closed
	// the stream (or sent more than MaxConsumerMessage) before Stop.
	ErrConsumerClosed = errors.New("livestream: consumer closed the stream")
	// ErrConsumerStalled is wrapped by Stats.Err when a message could not
	// be sent within WriteTimeout: the consumer stopped reading.
	ErrConsumerStalled = errors.New("livestream: consumer stalled")
	// ErrStoppedBeforeConnect is Stats.Err when Stop came while the
	// connection was still being set up: the dial was cancelled and the
	// consumer got nothing.
	ErrStoppedBeforeConnect = errors.New("livestream: stopped before the consumer was connected")
)

// Config describes where and how to stream a call.
type Config struct {
	// URL is the consumer's ws:// or wss:// URL (see ParseURL).
	URL string
	// DialTimeout bounds connecting; 0 means DefaultDialTimeout.
	DialTimeout time.Duration
	// WriteTimeout bounds sending each message, the stop event included;
	// a consumer that stalls longer is dropped. 0 means
	// DefaultWriteTimeout.
	WriteTimeout time.Duration
	// QueueFrames is how many 20 ms steps of audio (both channels'
	// frames) wait for the network at most, before the connection is up
	// or while the consumer is slow; beyond it new frames are dropped and
	// counted. 0 means DefaultQueueFrames.
	QueueFrames int
	// TLSConfig is the TLS client configuration for wss://; nil means
	// the system roots. It is cloned, and its NextProtos ignored: a
	// WebSocket handshake is HTTP/1.1.
	TLSConfig *tls.Config
	// Logger receives the stream's one warning, if it fails; nil means
	// slog.Default().
	Logger *slog.Logger
}

// CallInfo identifies the streamed call in the start event.
type CallInfo struct {
	// CallID is the call's ID; it is also sent in the handshake as the
	// X-Switchboard-Call-Id header.
	CallID string
	// Number is the company number the call is on.
	Number string
	// Caller and Callee are the two parties (E.164 or user names).
	Caller, Callee string
	// Direction is "inbound" or "outbound".
	Direction string
	// StartedAt is when the call started.
	StartedAt time.Time
}

// Stats says what became of a stream.
type Stats struct {
	// FramesSent and FramesDropped count media frames, each channel's
	// separately (one 20 ms step is two frames). Every frame of the
	// call's audio is one or the other once Stop has returned: dropped
	// are those the queue had no room for, those still queued when the
	// stream failed, and all after it failed.
	FramesSent, FramesDropped uint64
	// Connected reports whether the WebSocket handshake succeeded.
	Connected bool
	// Err is why the consumer did not get the whole stream, nil if it
	// did: a dial or handshake error (ErrRefused), a write error,
	// ErrConsumerStalled, ErrConsumerClosed, ErrStoppedBeforeConnect, or the
	// cancellation cause of Start's context.
	Err error
}

// frame is one queue entry: one 20 ms step of both channels.
type frame struct {
	seq  uint64
	ulaw [2][FrameSamples]byte
}

// Stream is one call's live stream. Audio may be called from any goroutine
// (the recorder calls it from one); Stop ends the stream.
type Stream struct {
	id        string
	url       *url.URL
	info      CallInfo
	start     []byte
	dial      time.Duration
	writeWait time.Duration
	tlsConfig *tls.Config
	log       *slog.Logger
	ctx       context.Context

	// Producer side, guarded by mu: Audio and Stop only, never the
	// sender, so Audio never waits on the network.
	mu      sync.Mutex
	closed  bool
	fill    int                   // samples of cur filled
	cur     [2][FrameSamples]byte // the frame being filled
	nextSeq uint64                // seq of the frame being filled

	// The queue: a single-producer single-consumer ring. Audio (under mu)
	// fills slot tail%n and then publishes it by advancing tail; the
	// sender reads slot head%n and then frees it by advancing head. A
	// slot is touched by one side at a time, so no lock.
	slots []frame
	head  atomic.Uint64
	tail  atomic.Uint64

	notify   chan struct{} // wakes the sender; capacity 1, never blocks Audio
	stopping chan struct{} // closed by Stop
	done     chan struct{} // closed when the sender goroutine has ended
	reason   string        // Stop's reason; written before stopping is closed

	// failed is set once the stream stops sending for good (before Stop);
	// Audio then only counts frames as dropped.
	failed    atomic.Bool
	connected atomic.Bool
	sent      atomic.Uint64
	dropped   atomic.Uint64

	errMu sync.Mutex
	err   error

	stopOnce  sync.Once
	finalOnce sync.Once
}

// Start validates cfg and starts streaming the call described by info: the
// connection is made in the background, and audio given to Audio meanwhile
// is queued. It returns an error (wrapping ErrConfig) only for an invalid
// cfg; a consumer that cannot be reached shows in Stop's Stats. Cancelling
// ctx ends the stream at once, without a stop event. The caller must call
// Stop.
func Start(ctx context.Context, cfg Config, info CallInfo) (*Stream, error) {
	s, err := newStream(ctx, cfg, info)
	if err != nil {
		return nil, err
	}
	go s.run()
	return s, nil
}

// newStream is Start without the sender goroutine.
func newStream(ctx context.Context, cfg Config, info CallInfo) (*Stream, error) {
	u, err := ParseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	dial, err := orDefault("DialTimeout", cfg.DialTimeout, DefaultDialTimeout)
	if err != nil {
		return nil, err
	}
	writeWait, err := orDefault("WriteTimeout", cfg.WriteTimeout, DefaultWriteTimeout)
	if err != nil {
		return nil, err
	}
	queue, err := orDefault("QueueFrames", cfg.QueueFrames, DefaultQueueFrames)
	if err != nil {
		return nil, err
	}
	var tlsConfig *tls.Config
	if cfg.TLSConfig != nil {
		tlsConfig = cfg.TLSConfig.Clone()
		tlsConfig.NextProtos = nil
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	id := uuid.NewString()
	return &Stream{
		id:        id,
		url:       u,
		info:      info,
		start:     encodeStart(id, info),
		dial:      dial,
		writeWait: writeWait,
		tlsConfig: tlsConfig,
		log:       log.With("call_id", info.CallID, "stream_id", id, "url", logURL(u)),
		ctx:       ctx,
		slots:     make([]frame, queue),
		notify:    make(chan struct{}, 1),
		stopping:  make(chan struct{}),
		done:      make(chan struct{}),
	}, nil
}

// orDefault returns v, or def if v is zero; a negative v is a config error.
func orDefault[T int | time.Duration](field string, v, def T) (T, error) {
	switch {
	case v < 0:
		return 0, fmt.Errorf("%w: %s is negative (%v)", ErrConfig, field, v)
	case v == 0:
		return def, nil
	}
	return v, nil
}

// ID returns the stream's ID, the stream_id of its start event.
func (s *Stream) ID() string { return s.id }

// Audio takes the next block of the call's audio: interleaved stereo 8 kHz
// 16-bit linear samples, channel 0 the caller and channel 1 the answering
// side (an odd trailing sample is ignored). It encodes both channels to
// µ-law and queues every completed 20 ms frame for sending. It never blocks
// on the network and does not allocate: when the queue is full the frame is
// dropped and counted, and after the stream failed or stopped the audio is
// only counted. The caller may reuse interleaved as soon as it returns.
func (s *Stream) Audio(interleaved []int16) {
	frames := len(interleaved) / 2
	if frames == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if s.failed.Load() {
		// Keep the frame count going so Stats adds up; no encoding.
		s.fill += frames
		n := uint64(s.fill / FrameSamples)
		s.fill %= FrameSamples
		s.nextSeq += n
		s.dropped.Add(2 * n)
		return
	}
	queued := false
	for i := 0; i < frames; {
		n := min(FrameSamples-s.fill, frames-i)
		c0, c1 := s.cur[0][s.fill:s.fill+n], s.cur[1][s.fill:s.fill+n]
		src := interleaved[2*i : 2*(i+n)]
		for k := range n {
			c0[k] = media.LinearToULaw(src[2*k])
			c1[k] = media.LinearToULaw(src[2*k+1])
		}
		s.fill += n
		i += n
		if s.fill == FrameSamples {
			queued = s.push() || queued
			s.fill = 0
		}
	}
	if queued {
		select {
		case s.notify <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// push queues the completed frame cur, or drops it if the queue is full, and
// reports whether it was queued. It is called with mu held.
func (s *Stream) push() bool {
	seq := s.nextSeq
	s.nextSeq++
	tail := s.tail.Load()
	n := uint64(len(s.slots))
	if tail-s.head.Load() >= n {
		s.dropped.Add(2)
		return false
	}
	f := &s.slots[tail%n]
	f.seq = seq
	f.ulaw = s.cur
	s.tail.Store(tail + 1)
	return true
}

// Stop ends the stream: the last partial frame is padded with silence and
// queued, the queue is sent, then the stop event with reason, and the
// connection is closed (RFC 6455 §7: close frame, then the consumer's). All
// of that shares one WriteTimeout, so with a write already under way Stop
// takes at most twice WriteTimeout; a stream that failed returns at once,
// and one still connecting has its dial cancelled. Stop waits for the
// stream's goroutines and returns its Stats; later calls return the same.
func (s *Stream) Stop(reason string) Stats {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		if s.fill > 0 {
			for c := range s.cur {
				for k := s.fill; k < FrameSamples; k++ {
					s.cur[c][k] = ulawSilence
				}
			}
			s.push()
			s.fill = 0
		}
		s.mu.Unlock()
		s.reason = reason
		close(s.stopping)
	})
	<-s.done
	s.finalOnce.Do(func() {
		// Whatever the sender left queued (it failed, or ran out of
		// time) was not sent; Audio can no longer add to the queue.
		tail := s.tail.Load()
		s.dropped.Add(2 * (tail - s.head.Load()))
		s.head.Store(tail)
	})
	s.errMu.Lock()
	err := s.err
	s.errMu.Unlock()
	return Stats{
		FramesSent:    s.sent.Load(),
		FramesDropped: s.dropped.Load(),
		Connected:     s.connected.Load(),
		Err:           err,
	}
}

// end records why the stream stopped sending before Stop and makes Audio
// stop queueing. Only the first reason counts and is logged: at warn when
// the consumer or the network failed, at debug when the stream was stopped
// or cancelled by its owner (not a fault).
func (s *Stream) end(err error, fault bool) {
	s.failed.Store(true)
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if s.err != nil {
		return
	}
	s.err = err
	if fault {
		s.log.Warn("live stream consumer dropped; the call goes on without it", "err", err)
	} else {
		s.log.Debug("live stream ended early", "err", err)
	}
}
