// Package recorder writes two-channel call recordings, as the call happens,
// from copies of the RTP packets a media bridge relays.
//
// The relay hands each packet to Offer, which copies it into a preallocated
// slot of a bounded queue and returns at once: a slow disk costs recorded
// audio (counted as Dropped), never relay latency. Shared writer goroutines
// (writers.go) take each recording's queued packets every 100 ms, decode
// G.711, place each channel's audio on a shared timeline by RTP timestamp
// (see align.go) and append it to a standard stereo 8 kHz 16-bit WAV file
// (channel 0 left, channel 1 right), flushing at least every FlushEvery.
// After a crash, wavfile.Repair makes the file playable up to at most
// FlushEvery plus 160 ms (the drain interval and the reordering window)
// before the crash: under a second by default.
//
// The package knows RTP and G.711, nothing of SIP or WebSocket.
package recorder

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"switchboard/media"
	"switchboard/wavfile"
)

// MaxPayload is the largest RTP payload a recorder accepts: 60 ms of G.711,
// the longest packetisation in common use. Offer drops longer packets.
const MaxPayload = 480

// DefaultQueuePackets is the queue length when Config.QueuePackets is 0:
// 128 slots is about 1.3 s of both legs at 20 ms, so the writer may stall on
// the disk for over a second before a packet is dropped. A longer queue rides
// out longer stalls but is cold memory for the relay to write into: 256
// slots cost measurably more gateway CPU (docs/BENCHMARKS.md, section 6).
const DefaultQueuePackets = 128

// slotPayload is the audio one queue slot holds: 20 ms of G.711, the usual
// packet. A longer G.711 packet is queued as consecutive 20 ms parts, each
// placed by its own timestamp, so slots stay small (three cache lines
// rather than nine): 300 recorded calls' queues are 7 MB, not 20 MB, of
// memory the relay writes into.
const slotPayload = 160

// DefaultFlushEvery is the flush interval when Config.FlushEvery is 0: 800
// ms, so that with the 100 ms drain interval and the 60 ms reordering window
// a crash loses less than a second of audio.
const DefaultFlushEvery = 800 * time.Millisecond

// bytesPerSecond is the stereo 16-bit WAV data rate at 8 kHz.
const bytesPerSecond = 2 * 2 * sampleRate

// ErrConfig is returned by Start for an invalid Config; the wrapped message
// names the field.
var ErrConfig = errors.New("recorder: invalid config")

// Packet is one RTP packet copied off the relay: which channel (0 the caller,
// 1 the answering side), its RTP header fields and payload, and when it
// arrived. Offer copies it, so the caller may reuse it and its payload at
// once. Placement uses the timestamp and SSRC (RFC 3550 §5.1); Seq and Marker
// are carried for completeness, as reordering and gaps are already exact in
// timestamp terms.
type Packet struct {
	// Channel is 0 for the caller, 1 for the answering side.
	Channel int
	// PT, Seq, TS, SSRC and Marker are the RTP header fields.
	PT     uint8
	Seq    uint16
	TS     uint32
	SSRC   uint32
	Marker bool
	// Arrival is when the packet arrived, in monotonic nanoseconds on any
	// clock shared by both channels. It places a new stream (a new SSRC)
	// and gaps the timestamps do not show (a hold with a stopped clock).
	Arrival int64
	// Payload is the RTP payload, at most MaxPayload bytes.
	Payload []byte
}

// Config describes one recording.
type Config struct {
	// Path is the WAV file to create (truncated if it exists).
	Path string
	// Live, when set, also receives the audio as it is written (see
	// LiveSink); nil streams nothing.
	Live LiveSink
	// QueuePackets is the queue length in slots of up to 20 ms of audio
	// (a 60 ms packet takes three); 0 means DefaultQueuePackets.
	QueuePackets int
	// FlushEvery bounds how long audio stays in memory before reaching the
	// file; 0 means DefaultFlushEvery.
	FlushEvery time.Duration
	// Prelude is audio written at the start of the recording before any
	// packet, per channel (e.g. the consent announcement on channel 1); the
	// shorter one is padded with silence and live audio follows.
	Prelude [2][]int16
	// Logger receives write errors; nil means slog.Default().
	Logger *slog.Logger

	// beforeDrain, when set, runs in the writer goroutine before it takes
	// packets off the queue: tests use it to stall the writer.
	beforeDrain func()
}

// Stats counts what became of a recording's packets and how much audio the
// file holds.
type Stats struct {
	// Frames is the number of stereo sample frames written, prelude
	// included; Duration is the same as time.
	Frames   int64
	Duration time.Duration
	// Bytes is the file's size once flushed, header included.
	Bytes int64
	// Dropped counts packets Offer refused: queue full, payload longer
	// than MaxPayload, or a channel other than 0 and 1.
	Dropped uint64
	// Late counts packets that arrived too late to place: their audio
	// lay entirely in what was already written.
	Late uint64
	// Packets counts packets Offer accepted.
	Packets uint64
	// Ignored counts accepted packets without audio to record: a payload
	// type other than G.711 (comfort noise, DTMF), or an empty payload.
	Ignored uint64
}

// LiveSink receives a recording's audio as it reaches the file: interleaved
// stereo 8 kHz frames (caller left, answering side right), aligned, in
// order, in blocks of up to 1024 frames about every 100 ms. The prelude is
// not sent. Audio is called on a writer goroutine shared with other
// recordings, so it must not block; the slice is reused after it returns.
type LiveSink interface {
	Audio(interleaved []int16)
}

// liveTee writes the aligned audio to the file and hands it to a live sink.
type liveTee struct {
	file *wavfile.Writer
	live LiveSink
}

// Write implements frameSink. The stream follows the recording: after a
// write error ends the recording (see fail), no more audio reaches it.
func (t liveTee) Write(interleaved []int16) error {
	t.live.Audio(interleaved)
	return t.file.Write(interleaved)
}

// sinkFor returns where the aligner writes: the file, and live if set.
func sinkFor(wf *wavfile.Writer, live LiveSink) frameSink {
	if live == nil {
		return wf
	}
	return liveTee{file: wf, live: live}
}

// slot is one queue entry. seq is the slot's turn (see Offer); the rest is
// the copied packet, or one 20 ms part of it.
type slot struct {
	seq     atomic.Uint64
	arrival int64
	ts      uint32
	ssrc    uint32
	n       uint16
	channel uint8
	pt      uint8
	payload [slotPayload]byte
}

// Recorder records one call. Offer may be called from any number of
// goroutines (one per relayed direction); Stop ends the recording.
type Recorder struct {
	// tail is the next queue position to claim; it is written by every
	// Offer, so it gets a cache line of its own.
	_    [64]byte
	tail atomic.Uint64
	_    [56]byte
	// Each channel's counters are written by that channel's relay
	// goroutine alone, on a line of their own: shared with the other
	// direction or the writer, every Offer would pull the line across
	// cores (perf put Offer at 450 ns in the gateway, 26 ns alone).
	counts [2]struct {
		packets, dropped atomic.Uint64
		_                [48]byte
	}
	// Read-mostly from here.
	closed  atomic.Bool
	refused atomic.Uint64 // packets for no channel (0 or 1): dropped, never expected

	slots []slot
	w     *writer // the shard that services the queue

	// mu is held by whoever works on the file: the shard's sweep
	// (service) or Stop (finish). The fields below are theirs.
	mu          sync.Mutex
	finished    bool
	late        atomic.Uint64 // atomic only for Stats
	ignored     atomic.Uint64 // atomic only for Stats
	head        uint64
	wf          *wavfile.Writer
	align       *aligner
	flushEvery  time.Duration
	lastFlush   time.Time
	err         error
	log         *slog.Logger
	beforeDrain func()

	stopOnce sync.Once
	stats    Stats
}

// lawFor returns the G.711 decoding table of payload type pt, or nil if pt is
// not a G.711 type.
func lawFor(pt uint8) *[256]int16 {
	switch pt {
	case media.PayloadPCMU:
		return &media.ULawToLinear
	case media.PayloadPCMA:
		return &media.ALawToLinear
	}
	return nil
}

// Start creates the stereo WAV at cfg.Path, writes the prelude and hands the
// recording to a shared writer (writers.go). The caller must call Stop.
func Start(cfg Config) (*Recorder, error) {
	r, err := newRecorder(cfg)
	if err != nil {
		return nil, err
	}
	r.w = writerFor()
	r.w.add(r)
	return r, nil
}

// newRecorder is Start without a writer servicing the queue.
func newRecorder(cfg Config) (*Recorder, error) {
	if cfg.Path == "" {
		return nil, fmt.Errorf("%w: Path is empty", ErrConfig)
	}
	queue := cfg.QueuePackets
	switch {
	case queue < 0:
		return nil, fmt.Errorf("%w: QueuePackets is %d", ErrConfig, queue)
	case queue == 0:
		queue = DefaultQueuePackets
	}
	flushEvery := cfg.FlushEvery
	switch {
	case flushEvery < 0:
		return nil, fmt.Errorf("%w: FlushEvery is %v", ErrConfig, flushEvery)
	case flushEvery == 0:
		flushEvery = DefaultFlushEvery
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}

	// The file's buffer holds a flush interval's audio (32 KiB by
	// default), so each flush is one write(2) and nothing reaches the
	// file in between: four overflows a second of a small buffer cost 300
	// recorded calls 900 more write(2)s a second.
	buffer := int(int64(bytesPerSecond) * int64(flushEvery+drainEvery) / int64(time.Second))
	wf, err := wavfile.Create(cfg.Path, 2, sampleRate, wavfile.BufferSize(buffer))
	if err != nil {
		return nil, fmt.Errorf("recorder: %w", err)
	}
	if err := writePrelude(wf, cfg.Prelude); err != nil {
		_ = wf.Close()
		return nil, fmt.Errorf("recorder: prelude: %w", err)
	}
	// The prelude is on disk before the first packet: a crash early in
	// the call still leaves the announcement the caller heard.
	if err := wf.Flush(); err != nil {
		_ = wf.Close()
		return nil, fmt.Errorf("recorder: prelude: %w", err)
	}

	r := &Recorder{
		slots:       make([]slot, queue),
		wf:          wf,
		align:       newAligner(sinkFor(wf, cfg.Live)),
		flushEvery:  flushEvery,
		lastFlush:   time.Now(),
		log:         log.With("path", cfg.Path),
		beforeDrain: cfg.beforeDrain,
	}
	for i := range r.slots {
		r.slots[i].seq.Store(uint64(i))
	}
	return r, nil
}

// writePrelude writes the two prelude channels interleaved, the shorter
// padded with silence.
func writePrelude(wf *wavfile.Writer, prelude [2][]int16) error {
	frames := max(len(prelude[0]), len(prelude[1]))
	var block [2 * blockFrames]int16
	for off := 0; off < frames; off += blockFrames {
		n := min(blockFrames, frames-off)
		for k := range n {
			block[2*k], block[2*k+1] = 0, 0
			for c, p := range prelude {
				if off+k < len(p) {
					block[2*k+c] = p[off+k]
				}
			}
		}
		if err := wf.Write(block[:2*n]); err != nil {
			return err
		}
	}
	return nil
}

// Offer queues a copy of p for recording and reports whether it was taken. It
// never blocks and does not allocate: a full queue (the writer is behind, a
// slow disk) refuses the packet and counts it as Dropped, so the relay calling
// it is never delayed. After Stop it returns false; a packet offered while
// Stop runs may be counted in Packets yet miss the file.
func (r *Recorder) Offer(p *Packet) bool {
	if r.closed.Load() {
		return false
	}
	if p.Channel != 0 && p.Channel != 1 {
		r.refused.Add(1)
		return false
	}
	counts := &r.counts[p.Channel]
	if len(p.Payload) > MaxPayload {
		counts.dropped.Add(1)
		return false
	}
	// Only G.711 is recorded, one byte a sample, so a longer packet splits
	// into 20 ms parts exactly; the writer counts anything else as ignored
	// and needs only its header.
	payload := p.Payload
	if lawFor(p.PT) == nil {
		payload = nil
	}
	parts := max(1, (len(payload)+slotPayload-1)/slotPayload)
	pos, ok := r.claim(uint64(parts))
	if !ok {
		counts.dropped.Add(1)
		return false
	}
	n := uint64(len(r.slots))
	for i := range parts {
		part := payload[min(i*slotPayload, len(payload)):min((i+1)*slotPayload, len(payload))]
		s := &r.slots[(pos+uint64(i))%n]
		s.channel, s.pt, s.ssrc = uint8(p.Channel), p.PT, p.SSRC
		s.ts = p.TS + uint32(i*slotPayload)
		s.arrival = p.Arrival + int64(i*slotPayload)*nsPerSample
		s.n = uint16(copy(s.payload[:], part))
		s.seq.Store(pos + uint64(i) + 1)
	}
	counts.packets.Add(1)
	// No wake-up per packet: the shared writer drains on its own clock
	// (drainEvery). Waking a writer for each packet cost 300 recorded
	// calls 30,000 goroutine switches a second.
	return true
}

// claim reserves k consecutive queue positions and returns the first, or
// reports false when the queue has no room for them.
//
// A bounded multi-producer queue after Dmitry Vyukov's: slot i%n is free for
// position i when its seq is i, and holds position i's part when seq is
// i+1. The writer frees positions in order, so if the last of the k slots is
// free, all k are. Producers claim positions with one CAS on tail and never
// wait for each other or for the writer.
func (r *Recorder) claim(k uint64) (uint64, bool) {
	n := uint64(len(r.slots))
	if k > n {
		return 0, false
	}
	pos := r.tail.Load()
	for {
		last := pos + k - 1
		seq := r.slots[last%n].seq.Load()
		switch {
		case seq == last:
			if r.tail.CompareAndSwap(pos, pos+k) {
				return pos, true
			}
		case int64(seq-last) < 0:
			// The slot still holds the part from n positions ago: the
			// queue is full.
			return 0, false
		}
		// Another producer claimed pos first.
		pos = r.tail.Load()
	}
}

// Stop takes what is still queued, writes it, pads the shorter channel,
// writes the final WAV header, fsyncs and closes the file, and returns the
// recording's stats and the first write error, if any. Later calls return the
// same stats and error.
func (r *Recorder) Stop() (Stats, error) {
	r.stopOnce.Do(func() {
		r.closed.Store(true)
		if r.w != nil {
			r.w.remove(r)
		}
		r.mu.Lock() // waits for a sweep servicing r right now
		defer r.mu.Unlock()
		r.finish()
		r.finished = true
		r.stats = r.Stats()
	})
	return r.stats, r.err
}

// Stats returns the counters so far; it may be called at any time, from any
// goroutine.
func (r *Recorder) Stats() Stats {
	return Stats{
		Frames:   r.wf.Frames(),
		Duration: r.wf.Duration(),
		Bytes:    r.wf.Bytes(),
		Dropped:  r.counts[0].dropped.Load() + r.counts[1].dropped.Load() + r.refused.Load(),
		Late:     r.late.Load(),
		Packets:  r.counts[0].packets.Load() + r.counts[1].packets.Load(),
		Ignored:  r.ignored.Load(),
	}
}

// service is one sweep's work for r, on its shard's goroutine: take the
// queued packets, write them and flush when due.
func (r *Recorder) service() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return
	}
	if r.beforeDrain != nil {
		r.beforeDrain()
	}
	// A bounded batch at a time, so flushing keeps its schedule even if
	// packets never stop coming.
	for r.drain() {
		r.maybeFlush()
	}
	r.maybeFlush()
}

// drain processes queued packets, at most one queue's worth, and reports
// whether more may be waiting.
func (r *Recorder) drain() bool {
	n := uint64(len(r.slots))
	for range n {
		s := &r.slots[r.head%n]
		if s.seq.Load() != r.head+1 {
			// Empty, or the next packet is still being copied in; the
			// next drain takes it.
			return false
		}
		r.process(s)
		s.seq.Store(r.head + n) // free for the position n ahead
		r.head++
	}
	return true
}

// process records one queued packet.
func (r *Recorder) process(s *slot) {
	// Each packet is decoded by its own payload type, not one negotiated
	// at the start: PCMU (0) and PCMA (8) are static types (RFC 3551 §6)
	// that no SDP can rebind, so a re-INVITE switching codecs mid-call
	// keeps being recorded.
	law := lawFor(s.pt)
	if law == nil || s.n == 0 {
		// RFC 3389 comfort noise and RFC 4733 telephone-events share the
		// stream but are not audio samples; their timestamps are not used
		// either (an event's stays at its start, RFC 4733 §2.5.1.2).
		r.ignored.Add(1)
		return
	}
	if r.err != nil {
		return // the file is broken; keep emptying the queue
	}
	res, err := r.align.push(int(s.channel), law, s.ts, s.ssrc, s.arrival, s.payload[:s.n])
	if res == late {
		r.late.Add(1)
	}
	r.fail(err)
}

// maybeFlush flushes when FlushEvery would pass before the next sweep.
func (r *Recorder) maybeFlush() {
	// Flush at the last sweep before FlushEvery has passed: the next one
	// would be late.
	if r.err != nil || time.Since(r.lastFlush) < r.flushEvery-drainEvery {
		return
	}
	r.lastFlush = time.Now()
	r.fail(r.wf.Flush())
}

// finish drains the queue, writes the audio still held for reordering and
// closes the file.
func (r *Recorder) finish() {
	for r.drain() {
	}
	if r.err == nil {
		r.fail(r.align.finish())
	}
	if err := r.wf.Close(); err != nil && r.err == nil {
		r.err = fmt.Errorf("recorder: %w", err)
		r.log.Error("recording close failed", "err", err)
	}
}

// fail records the first write error and logs it; later packets are
// discarded so the queue keeps draining.
func (r *Recorder) fail(err error) {
	if err == nil || r.err != nil {
		return
	}
	r.err = fmt.Errorf("recorder: %w", err)
	r.log.Error("recording write failed; the rest of the call is not recorded", "err", err)
}
