package media

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// FrameDuration is the packetisation of every stream a Line sends: 20 ms,
// the default for G.711 (RFC 3551 §4.5).
const FrameDuration = 20 * time.Millisecond

// maxStall is how far behind its schedule a Line's sender may fall (a
// stalled process, a descheduled goroutine) before it drops the frames it
// missed (heard as one short gap) rather than delaying the rest of the
// prompt by that much.
const maxStall = 3 * FrameDuration

// ErrNoDeadline is returned by NewLine for a port whose reads cannot be
// interrupted without closing it; a Line must hand the port back open.
var ErrNoDeadline = errors.New("media: port does not support read deadlines")

// ErrNotDetachable is returned by Bridge.Detach when the side to keep is not
// a UDP endpoint (its reader cannot be stopped without closing it).
var ErrNotDetachable = errors.New("media: bridge side cannot be detached")

// ErrStopped is returned by Bridge.Detach on a bridge already stopped.
var ErrStopped = errors.New("media: bridge already stopped")

// readDeadliner is a Port whose blocking ReadRTP can be interrupted.
type readDeadliner interface {
	SetReadDeadline(t time.Time) error
}

// StreamState is where an outgoing RTP stream stands as its far end saw it:
// the last packet sent. A Line or Bridge taking over the stream continues
// from it (same SSRC, next sequence number, timestamp advanced by the time
// that passed), so the far end hears one continuous stream across the
// switch from announcement to conversation (RFC 3550 §5.1, §8). The zero
// value means nothing was sent.
type StreamState struct {
	SSRC uint32
	Seq  uint16    // sequence number of the last packet sent
	TS   uint32    // RTP timestamp of the last packet sent
	At   time.Time // when it was sent; zero when nothing was sent
}

// next returns the first sequence number and timestamp of a stream that
// continues st at now: contiguous sequence numbers, and a timestamp that
// advances with the wall clock (at least one frame) so the receiver's
// playout clock stays right.
func (st StreamState) next(now time.Time) (seq uint16, ts uint32) {
	adv := max(int64(now.Sub(st.At))/nsPerSample, samplesPerFrame)
	return st.Seq + 1, st.TS + uint32(adv)
}

// Digit is one RFC 4733 DTMF event: '0'-'9', '*', '#' or 'A'-'D'.
type Digit rune

// digitOf maps an RFC 4733 §3.2 event code to its digit.
func digitOf(event byte) (Digit, bool) {
	const codes = "0123456789*#ABCD"
	if int(event) < len(codes) {
		return Digit(codes[event]), true
	}
	return 0, false
}

// Sink receives the audio a Line reads: the packet's sequence number, RTP
// timestamp and payload in the Line's payload type. It runs on the Line's
// reader goroutine; payload is reused after it returns.
type Sink func(seq uint16, ts uint32, payload []byte)

// Line drives one leg's media port while it is not in a bridge: it sends a
// steady 20 ms stream toward the far end (prompt frames while a Playback
// runs, encoded silence otherwise, which keeps NAT bindings and the far
// end's RTP timeout alive) and reads what the far end sends (DTMF events,
// and audio for a Sink). Release hands the port back open with the
// stream's state, for a Bridge to continue.
type Line struct {
	port Port
	dl   readDeadliner
	dir  Direction

	digits chan Digit
	sink   atomic.Pointer[Sink]

	mu       sync.Mutex
	cur      *Playback
	released bool

	// The outgoing stream, touched only by the pacer's ticks (and read
	// after the line left the pacer).
	pacer   *pacer
	pkt     [rtpHeaderLen + samplesPerFrame]byte
	silence [samplesPerFrame]byte
	from    StreamState // the stream to continue, until the first packet
	started bool
	marker  byte
	ssrc    uint32
	seq     uint16
	ts      uint32
	state   StreamState // the last packet sent
	dead    bool        // the port is closed: send nothing more

	stop chan struct{}
	wg   sync.WaitGroup
}

// digitQueue bounds the DTMF events waiting to be read: a caller pressing
// keys faster than a prompt consumes them loses the oldest ones, never
// blocks the reader.
const digitQueue = 16

// NewLine starts driving port, which speaks dir, until Release. When from
// is non-zero the outgoing stream continues it (same SSRC); otherwise the
// stream starts with a random SSRC, sequence number and timestamp
// (RFC 3550 §5.1). The port must support read deadlines (a UDP Endpoint
// does).
func NewLine(port Port, dir Direction, from StreamState) (*Line, error) {
	dl, ok := port.(readDeadliner)
	if !ok {
		return nil, ErrNoDeadline
	}
	if dir.PayloadType != PayloadPCMU && dir.PayloadType != PayloadPCMA {
		return nil, errors.New("media: a Line speaks PCMU or PCMA only")
	}
	l := &Line{
		port:   port,
		dl:     dl,
		dir:    dir,
		digits: make(chan Digit, digitQueue),
		from:   from,
		stop:   make(chan struct{}),
	}
	for i := range l.silence {
		l.silence[i] = silenceByte(dir.PayloadType)
	}
	l.wg.Add(1)
	go l.read()
	l.pacer = pacerFor()
	l.pacer.add(l)
	return l, nil
}

// Direction returns what the line speaks.
func (l *Line) Direction() Direction { return l.dir }

// Digits delivers the DTMF keys the far end pressed (RFC 4733), one per
// event. It is never closed.
func (l *Line) Digits() <-chan Digit { return l.digits }

// SetSink sets (or with nil clears) where received audio goes.
func (l *Line) SetSink(s Sink) {
	if s == nil {
		l.sink.Store(nil)
		return
	}
	l.sink.Store(&s)
}

// Playback is one prompt being played on a Line.
type Playback struct {
	frames [][]byte
	loop   bool
	next   int
	done   chan struct{}
	once   sync.Once
}

// Done is closed when the playback has finished or was stopped.
func (p *Playback) Done() <-chan struct{} { return p.done }

func (p *Playback) finish() { p.once.Do(func() { close(p.done) }) }

// Start plays frames (payloads of one 20 ms frame each, already encoded in
// the line's payload type), replacing whatever was playing. With loop the
// frames repeat until Stop or the next Start (ringback). The frames are
// only read, so one encoded prompt can play on many lines at once.
func (l *Line) Start(frames [][]byte, loop bool) *Playback {
	p := &Playback{frames: frames, loop: loop, done: make(chan struct{})}
	l.mu.Lock()
	old := l.cur
	if l.released || len(frames) == 0 {
		l.mu.Unlock()
		p.finish()
		return p
	}
	l.cur = p
	l.mu.Unlock()
	if old != nil {
		old.finish()
	}
	return p
}

// Stop ends playback p if it is still playing; the line goes back to silence.
func (l *Line) Stop(p *Playback) {
	l.mu.Lock()
	if l.cur == p {
		l.cur = nil
	}
	l.mu.Unlock()
	p.finish()
}

// Play plays frames once and returns when they have all been sent, or
// earlier with ctx's error when ctx ends (the frames then stop at once).
func (l *Line) Play(ctx context.Context, frames [][]byte) error {
	p := l.Start(frames, false)
	select {
	case <-p.Done():
		return nil
	case <-ctx.Done():
		l.Stop(p)
		return ctx.Err()
	}
}

// Release stops the line without closing its port and returns the state of
// the stream it sent, for a Bridge (or another Line) to continue. It is
// idempotent; later calls return the same state.
func (l *Line) Release() StreamState {
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		l.wg.Wait()
		return l.state
	}
	l.released = true
	cur := l.cur
	l.cur = nil
	l.mu.Unlock()
	if cur != nil {
		cur.finish()
	}
	l.pacer.remove(l) // after this no tick sends for l
	close(l.stop)
	// A deadline in the past wakes the reader without closing the socket.
	_ = l.dl.SetReadDeadline(time.Unix(1, 0))
	l.wg.Wait()
	_ = l.dl.SetReadDeadline(time.Time{})
	return l.state
}

// silenceByte is encoded digital silence in pt (G.711: µ-law 0xFF, A-law 0xD5).
func silenceByte(pt uint8) byte {
	if pt == PayloadPCMA {
		return 0xD5
	}
	return 0xFF
}

// tick sends the line's next packet; the pacer calls it once per tick of
// its frame clock (ticks > 1 when ticks were missed), whose schedule the
// kernel keeps absolute, so timer jitter never accumulates into drift.
func (l *Line) tick(ticks uint64) {
	if l.dead {
		return
	}
	now := time.Now()
	if !l.started {
		l.started = true
		l.marker = markerBit // RFC 3551 §4.1: the start of a talkspurt
		l.ssrc, l.seq, l.ts = rand.Uint32(), uint16(rand.Uint32()), rand.Uint32()
		if !l.from.At.IsZero() {
			l.ssrc = l.from.SSRC
			l.seq, l.ts = l.from.next(now)
		}
	} else if missed := ticks - 1; missed > 0 && time.Duration(missed)*FrameDuration > maxStall {
		// Ticks missed while the process was stalled are not made up with
		// a burst (the far end's jitter buffer could drop it): a short
		// stall just delays the rest of the prompt; after a long one the
		// missed frames are dropped and the timestamp advances by the time
		// that passed, so the far end's clock stays right.
		l.ts += uint32(missed * samplesPerFrame)
	}
	payload := l.nextFrame(l.silence[:])
	pkt := l.pkt[:]
	pkt[0] = rtpVersion << 6
	pkt[1] = l.marker | l.dir.PayloadType
	binary.BigEndian.PutUint16(pkt[offSeq:], l.seq)
	binary.BigEndian.PutUint32(pkt[offTimestamp:], l.ts)
	binary.BigEndian.PutUint32(pkt[offSSRC:], l.ssrc)
	n := copy(pkt[rtpHeaderLen:], payload)
	if err := l.port.WriteRTP(pkt[:rtpHeaderLen+n]); err != nil && errors.Is(err, net.ErrClosed) {
		l.dead = true
		return
	}
	l.state = StreamState{SSRC: l.ssrc, Seq: l.seq, TS: l.ts, At: now}
	l.marker = 0
	l.seq++
	l.ts += samplesPerFrame
}

// nextFrame returns the current playback's next frame, or silence.
func (l *Line) nextFrame(silence []byte) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.cur
	if p == nil {
		return silence
	}
	if p.next >= len(p.frames) {
		if !p.loop {
			l.cur = nil
			p.finish()
			return silence
		}
		p.next = 0
	}
	f := p.frames[p.next]
	p.next++
	if p.next == len(p.frames) && !p.loop {
		// The last frame goes out now: the prompt has been played.
		l.cur = nil
		p.finish()
	}
	return f
}

// read is the reader goroutine: DTMF events to Digits, audio to the Sink.
func (l *Line) read() {
	defer l.wg.Done()
	buf := make([]byte, maxPacket+1)
	var lastEventTS uint32
	seenEvent := false
	for {
		n, err := l.port.ReadRTP(buf)
		if err != nil {
			select {
			case <-l.stop:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) || !errors.Is(err, os.ErrDeadlineExceeded) {
				return
			}
			continue
		}
		pkt := buf[:n]
		start, end, ok := rtpPayload(pkt)
		if !ok || isRTCP(pkt) {
			continue
		}
		pt := pkt[1] & ptMask
		ts := binary.BigEndian.Uint32(pkt[offTimestamp:])
		switch {
		case pt == l.dir.PayloadType:
			if s := l.sink.Load(); s != nil {
				(*s)(binary.BigEndian.Uint16(pkt[offSeq:]), ts, pkt[start:end])
			}
		case l.dir.DTMFType != 0 && pt == l.dir.DTMFType && end-start >= 4:
			// RFC 4733 §2.5.1: every packet of one event carries the event's
			// start timestamp (including the three retransmitted end
			// packets), so a new timestamp is a new key press.
			if seenEvent && ts == lastEventTS {
				continue
			}
			seenEvent, lastEventTS = true, ts
			if d, ok := digitOf(pkt[start]); ok {
				select {
				case l.digits <- d:
				default: // nobody is reading: drop rather than block media
				}
			}
		}
	}
}
