package ivr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"switchboard/media"
	"switchboard/metrics"
	"switchboard/store"
	"switchboard/wavfile"
)

// Voicemail defaults, used where a Message field is zero.
const (
	// DefaultMaxLength is the longest message recorded.
	DefaultMaxLength = 120 * time.Second
	// DefaultSilenceTimeout is how long a caller may say nothing before the
	// message ends.
	DefaultSilenceTimeout = 5 * time.Second
	// MinSpeech is how much speech a message needs to be kept: less is a
	// caller who hung up at the beep, and the call stays "missed".
	MinSpeech = time.Second
	// speechThreshold is the frame level (dBFS) above which a 20 ms frame
	// counts as speech. Telephone line noise sits around -60 dBFS and
	// speech between -35 and -15 dBFS.
	speechThreshold = -45.0
	// silenceTail is the silence kept after the last speech when a message
	// ends on its silence timeout; the rest of the silent wait is cut.
	silenceTail = 500 * time.Millisecond
	// maxGapFill bounds the silence written for a gap in the caller's RTP
	// timestamps (packet loss): a wild timestamp jump must not write
	// minutes of zeros.
	maxGapFill = 2 * media.ClockRate
	// flushEvery is how often the message reaches the file on disk, which
	// bounds what a crash can lose.
	flushEvery = time.Second
)

// End reasons of a voicemail message (store.Voicemail.EndReason).
const (
	EndHangup    = "hangup"
	EndDTMF      = "dtmf"
	EndSilence   = "silence"
	EndMaxLength = "max_length"
	EndShutdown  = "shutdown"
)

// Mailbox records voicemail messages: the audio under DataDir/voicemail and
// the records in the store.
type Mailbox struct {
	DataDir string
	Store   *store.Store
	Prompts *Prompts
	Log     *slog.Logger

	active atomic.Int64
}

// Active returns how many messages are being recorded now.
func (m *Mailbox) Active() int { return int(m.active.Load()) }

// Message is one caller about to leave a voicemail.
type Message struct {
	// Line carries the caller's media: the greeting and beep go out on it,
	// the message comes in on it, and so do RFC 4733 digits.
	Line *media.Line
	// Digits delivers keys signalled out of band (SIP INFO); may be nil.
	// It must never be closed.
	Digits <-chan media.Digit
	// Hangup is closed when the caller hangs up.
	Hangup <-chan struct{}
	// Greeting is what the caller hears first; Kind says which greeting it is.
	Greeting Source
	Kind     store.GreetingKind
	// MaxLength and SilenceTimeout end the message; zero takes the defaults.
	MaxLength      time.Duration
	SilenceTimeout time.Duration
	// Record is the voicemail's record as it starts: CallID, Number, Owner,
	// Caller and CallerID are kept; the rest is filled in.
	Record store.Voicemail
}

// Leave plays the greeting (the caller skips it with '*'), the beep, and
// records the caller's message until they hang up, press '#', stay silent
// for SilenceTimeout, or MaxLength passes, or ctx ends (the gateway is
// shutting down). It returns the stored voicemail, or nil when the caller
// left no message (hung up during the greeting, or spoke less than
// MinSpeech). The audio is a standard 8 kHz 16-bit mono WAV file, flushed
// to disk every second while recording and recorded in the store from the
// start, so a crash loses at most the last second (Recover repairs it).
func (m *Mailbox) Leave(ctx context.Context, msg Message) (*store.Voicemail, error) {
	log := m.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("call", msg.Record.CallID, "number", msg.Record.Number)
	m.active.Add(1)
	defer m.active.Add(-1)
	pt := msg.Line.Direction().PayloadType
	// Keys pressed earlier (during consent or ringback) must not skip the
	// greeting or end the message.
	drain(msg.Line.Digits())
	drain(msg.Digits)

	// Greeting: '*' skips it; '#' is not yet meaningful.
	frames, err := m.Prompts.Frames(ctx, msg.Greeting, pt)
	if err != nil {
		// A broken greeting must not lose the message: go straight to the beep.
		log.Error("voicemail greeting unavailable; playing the beep only", "greeting", msg.Greeting.String(), "error", err)
	}
	if ended := m.play(ctx, msg, frames, '*'); ended != "" {
		log.Info("caller left no voicemail", "during", "greeting", "reason", ended)
		return nil, nil
	}
	beep, err := m.Prompts.Frames(ctx, Source{Tone: ToneBeep}, pt)
	if err != nil {
		return nil, fmt.Errorf("ivr: voicemail beep: %w", err)
	}
	if ended := m.play(ctx, msg, beep, 0); ended != "" {
		log.Info("caller left no voicemail", "during", "beep", "reason", ended)
		return nil, nil
	}
	return m.record(ctx, msg, log)
}

// play plays frames until done; skip (if non-zero) stops it early. It
// returns a non-empty end reason when the caller hung up or ctx ended.
func (m *Mailbox) play(ctx context.Context, msg Message, frames [][]byte, skip media.Digit) string {
	p := msg.Line.Start(frames, false)
	defer msg.Line.Stop(p)
	for {
		select {
		case <-p.Done():
			return ""
		case <-msg.Hangup:
			return EndHangup
		case <-ctx.Done():
			return EndShutdown
		case d := <-msg.Line.Digits():
			if skip != 0 && d == skip {
				return ""
			}
		case d := <-msg.Digits:
			if skip != 0 && d == skip {
				return ""
			}
		}
	}
}

// record records the message after the beep.
func (m *Mailbox) record(ctx context.Context, msg Message, log *slog.Logger) (*store.Voicemail, error) {
	maxLen := orDefault(msg.MaxLength, DefaultMaxLength)
	silence := orDefault(msg.SilenceTimeout, DefaultSilenceTimeout)

	vm := msg.Record
	vm.StartedAt = time.Now().UTC()
	vm.ID = store.NewID(vm.StartedAt)
	vm.State = store.VoicemailRecording
	vm.Greeting = string(msg.Kind)
	vm.File = "voicemail/" + digits(vm.Number) + "/" + vm.ID + ".wav"
	path := filepath.Join(m.DataDir, filepath.FromSlash(vm.File))
	w, err := wavfile.Create(path, 1, media.ClockRate)
	if err != nil {
		return nil, fmt.Errorf("ivr: voicemail file: %w", err)
	}
	if err := m.Store.CreateVoicemail(&vm); err != nil {
		_ = w.Abort()
		return nil, fmt.Errorf("ivr: voicemail record: %w", err)
	}
	rec := newRecording(w, msg.Line.Direction().PayloadType)
	msg.Line.SetSink(rec.write)
	metrics.VoicemailsRecording.Inc()
	defer metrics.VoicemailsRecording.Dec()

	reason := m.await(ctx, msg, rec, maxLen, silence)
	msg.Line.SetSink(nil)
	frames, speech, werr := rec.stop()
	if werr != nil {
		log.Error("voicemail audio write failed", "error", werr)
	}

	if speech < MinSpeech {
		log.Info("voicemail too short to keep", "speech", speech, "reason", reason)
		metrics.Voicemails.WithLabelValues("discarded").Inc()
		if err := w.Abort(); err != nil {
			log.Warn("removing short voicemail file", "error", err)
		}
		if _, err := m.Store.DeleteVoicemail(vm.ID); err != nil {
			log.Warn("removing short voicemail record", "error", err)
		}
		return nil, nil
	}
	if reason == EndSilence {
		// Cut the silent wait that ended the message, keeping a short tail.
		keep := rec.lastSpeechFrame() + int64(silenceTail)*media.ClockRate/int64(time.Second)
		if keep < frames {
			if err := w.Truncate(keep); err != nil {
				log.Warn("trimming voicemail silence", "error", err)
			}
		}
	}
	dur := w.Duration()
	cerr := w.Close()
	bytes := w.Bytes()
	metrics.Voicemails.WithLabelValues("kept").Inc()
	metrics.VoicemailBytes.Add(float64(bytes))
	stored, err := m.Store.UpdateVoicemail(vm.ID, func(v *store.Voicemail) error {
		v.State = store.VoicemailComplete
		v.EndReason = reason
		v.DurationSeconds = dur.Round(time.Millisecond).Seconds()
		v.Bytes = bytes
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ivr: voicemail record: %w", err)
	}
	if cerr != nil {
		log.Error("voicemail file close failed", "error", cerr)
	}
	log.Info("voicemail recorded", "voicemail", vm.ID, "duration", dur.Round(10*time.Millisecond), "reason", reason)
	return &stored, nil
}

// await waits for the message to end and flushes it every second.
func (m *Mailbox) await(ctx context.Context, msg Message, rec *recording, maxLen, silence time.Duration) string {
	start := time.Now()
	deadline := time.NewTimer(maxLen)
	defer deadline.Stop()
	tick := time.NewTicker(flushEvery / 4)
	defer tick.Stop()
	lastFlush := start
	for {
		select {
		case <-msg.Hangup:
			return EndHangup
		case <-ctx.Done():
			return EndShutdown
		case <-deadline.C:
			return EndMaxLength
		case d := <-msg.Line.Digits():
			if d == '#' {
				return EndDTMF
			}
		case d := <-msg.Digits:
			if d == '#' {
				return EndDTMF
			}
		case now := <-tick.C:
			if now.Sub(lastFlush) >= flushEvery {
				lastFlush = now
				rec.flush()
			}
			// Silence is measured by the wall clock from the last speech,
			// so a caller who stops sending RTP altogether is silent too.
			if now.Sub(rec.lastSpeechAt(start)) >= silence {
				return EndSilence
			}
		}
	}
}

// drain empties the keys queued on ch.
func drain(ch <-chan media.Digit) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func orDefault(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

// digits keeps the digits of a phone number, for a folder name.
func digits(number string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, number)
}

// recording is the message being written: the Line's reader goroutine
// feeds it (write), the Leave goroutine flushes and stops it.
type recording struct {
	mu       sync.Mutex
	w        *wavfile.Writer
	decode   *[256]int16
	pcm      []int16
	zeros    []int16
	started  bool
	nextTS   uint32
	frames   int64 // samples written, gap fills included
	speech   int64 // samples in frames that were speech
	lastSp   int64 // frames (samples) written up to the end of the last speech frame
	lastAt   atomic.Int64
	writeErr error
}

func newRecording(w *wavfile.Writer, pt uint8) *recording {
	dec := &media.ULawToLinear
	if pt == media.PayloadPCMA {
		dec = &media.ALawToLinear
	}
	return &recording{w: w, decode: dec, pcm: make([]int16, 0, 1024), zeros: make([]int16, 160)}
}

// write takes one received packet. RTP timestamps place the audio: a gap
// (lost packets) becomes silence of the same length, a late or duplicate
// packet is dropped rather than written out of place, and a timestamp far
// behind (a restarted stream) starts a new timeline.
func (r *recording) write(_ uint16, ts uint32, payload []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w == nil || r.writeErr != nil {
		return
	}
	if r.started {
		gap := int32(ts - r.nextTS)
		switch {
		case gap < -maxGapFill:
			// Too far behind for a late packet: the far end restarted its
			// stream (new SSRC, new random timestamp, RFC 3550 §5.1).
			// Dropping it as late would lose the rest of the message;
			// carry on from the new timeline instead.
			gap = 0
		case gap < 0:
			return
		}
		for fill := min(int64(gap), maxGapFill); fill > 0; {
			n := min(fill, int64(len(r.zeros)))
			if err := r.w.Write(r.zeros[:n]); err != nil {
				r.writeErr = err
				return
			}
			r.frames += n
			fill -= n
		}
	}
	r.pcm = r.pcm[:0]
	var sum float64
	for _, b := range payload {
		s := r.decode[b]
		r.pcm = append(r.pcm, s)
		sum += float64(s) * float64(s)
	}
	if err := r.w.Write(r.pcm); err != nil {
		r.writeErr = err
		return
	}
	r.frames += int64(len(r.pcm))
	r.started = true
	r.nextTS = ts + uint32(len(payload))
	if len(payload) > 0 {
		rms := math.Sqrt(sum / float64(len(payload)))
		if 20*math.Log10(rms/32768+1e-12) > speechThreshold {
			r.speech += int64(len(payload))
			r.lastSp = r.frames
			r.lastAt.Store(time.Now().UnixNano())
		}
	}
}

// flush pushes what was written to the file.
func (r *recording) flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w != nil && r.writeErr == nil {
		r.writeErr = r.w.Flush()
	}
}

// lastSpeechAt returns when speech was last heard, or start if never.
func (r *recording) lastSpeechAt(start time.Time) time.Time {
	if ns := r.lastAt.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return start
}

func (r *recording) lastSpeechFrame() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastSp
}

// stop detaches the writer; later packets are ignored. It returns the
// samples written, the speech heard and the first write error.
func (r *recording) stop() (frames int64, speech time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.w = nil
	return r.frames, time.Duration(r.speech) * time.Second / media.ClockRate, r.writeErr
}

// Recover repairs voicemails whose recording a crash interrupted: the WAV
// header is fixed to cover the audio that reached the disk, and the record
// becomes "interrupted" with that duration. Nothing the caller said and the
// disk kept is thrown away. Call it at startup, before calls arrive.
func (m *Mailbox) Recover() (int, error) {
	open, err := m.Store.RecordingVoicemails()
	if err != nil {
		return 0, fmt.Errorf("ivr: voicemail recovery: %w", err)
	}
	for _, vm := range open {
		path := filepath.Join(m.DataDir, filepath.FromSlash(vm.File))
		dur, rerr := wavfile.Repair(path)
		var size int64
		if fi, err := os.Stat(path); err == nil {
			size = fi.Size()
		}
		if rerr != nil {
			m.logger().Error("voicemail file could not be repaired", "voicemail", vm.ID, "file", path, "error", rerr)
		}
		if errors.Is(rerr, os.ErrNotExist) {
			size = 0
		}
		if _, err := m.Store.UpdateVoicemail(vm.ID, func(v *store.Voicemail) error {
			v.State = store.VoicemailInterrupted
			v.EndReason = "interrupted"
			v.DurationSeconds = dur.Round(time.Millisecond).Seconds()
			v.Bytes = size
			return nil
		}); err != nil {
			return 0, fmt.Errorf("ivr: voicemail recovery: %w", err)
		}
		m.logger().Info("voicemail interrupted by a restart recovered", "voicemail", vm.ID, "duration", dur.Round(10*time.Millisecond))
	}
	return len(open), nil
}

func (m *Mailbox) logger() *slog.Logger {
	if m.Log != nil {
		return m.Log
	}
	return slog.Default()
}
