package recorder

import (
	"time"

	"switchboard/media"
)

// Alignment places each channel's audio on one shared sample timeline and
// writes the two channels, interleaved, as that timeline's past becomes
// settled.
//
// Positions are sample indexes at 8 kHz. A channel's stream is anchored to
// its newest packet: a packet's position is the anchor's position plus its
// RTP timestamp distance from the anchor (RFC 3550 §5.1: the timestamp is
// the sampling instant of the first octet, so loss, silence suppression and
// reordering all show as timestamp distance). Where the timestamps cannot be
// trusted (a new SSRC, a jump the arrival times do not bear out, a reset),
// the stream is re-based from the arrival time instead: the position of the
// most recently arrived packet of either channel plus the arrival time
// elapsed since, in samples.
//
// Positions below w have been written. A packet may land anywhere from w up
// to w+ringSize, so each channel keeps a ring of ringSize samples; w follows
// the newest audio of either channel at a distance of jitterWindow, which is
// how long a reordered or jittered packet may lag and still land in place.
// Memory is therefore fixed per recording, however long the call or the gap.
const (
	sampleRate = media.ClockRate
	// nsPerSample converts monotonic arrival nanoseconds to samples.
	nsPerSample = int64(time.Second) / sampleRate
	// jitterWindow is how far behind the newest audio writing trails: 60 ms,
	// three 20 ms packets.
	jitterWindow = 60 * sampleRate / 1000
	// ringSize is the span a channel can hold unwritten: the jitter window
	// plus the longest packet, so a packet just ahead of the window fits.
	ringSize = jitterWindow + MaxPayload
	// trustSlack is how far the timestamp distance from the anchor may
	// disagree with the arrival time distance (both in samples) before the
	// timestamps are distrusted: 1 s, more than network jitter, less than a
	// hold.
	trustSlack = sampleRate
	// lateRebase is how many packets in a row may land behind w before the
	// channel is re-based: after that the channel's delay has grown for good
	// (a route change) rather than a few packets straggling, and staying on
	// the old timeline would silence the channel for the rest of the call.
	lateRebase = 5
	// blockFrames is how many frames are interleaved per Write.
	blockFrames = 1024
)

// frameSink receives interleaved stereo frames in order; *wavfile.Writer is one.
type frameSink interface {
	Write(interleaved []int16) error
}

// channelState is one channel's current RTP stream and unwritten audio.
type channelState struct {
	// active is set once the channel has had a packet; ssrc is the stream
	// it belongs to.
	active bool
	ssrc   uint32
	// anchor: the newest packet's timestamp, position and arrival.
	anchorTS      uint32
	anchorPos     int64
	anchorArrival int64
	// suspect is set after a packet that jumped backwards further than the
	// arrival times allow; suspectNext is the timestamp its successor would
	// carry if the stream's timestamps were reset (RFC 3550 A.1 keeps a
	// similar probation before trusting a sequence jump).
	suspect     bool
	suspectNext uint32
	// lateRun counts consecutive packets that landed entirely behind w.
	lateRun int
	// placed and end: whether audio was placed, and the end of the furthest.
	placed bool
	end    int64
	ring   [ringSize]int16
}

// aligner turns packets of two channels into one interleaved stream of
// frames. It is used by one goroutine.
type aligner struct {
	out frameSink
	ch  [2]channelState

	// started is set by the first placed packet; w is the first position
	// not yet written. Until the first write (committed), w is provisional
	// and earliest is the lowest position holding audio: the file starts
	// there, so a reordered first packet still lands in place.
	started   bool
	committed bool
	w         int64
	earliest  int64
	// maxEnd is the end of the furthest audio of either channel.
	maxEnd int64
	// ref is the most recently arrived packet of either channel, the
	// reference for re-basing a stream from its arrival time.
	refArrival int64
	refPos     int64

	block [2 * blockFrames]int16
}

// newAligner returns an aligner writing to out.
func newAligner(out frameSink) *aligner {
	return &aligner{out: out}
}

// pushResult says what became of a packet.
type pushResult int

const (
	// placed: the audio is on the timeline (possibly clipped at w).
	placed pushResult = iota
	// late: the packet lies entirely in audio already written.
	late
)

// push places one G.711 packet of channel c, decoded with law (one sample
// per byte, 1 <= len(payload) <= MaxPayload). It writes whatever audio the
// packet settles and returns the sink's error, if any.
func (a *aligner) push(c int, law *[256]int16, ts, ssrc uint32, arrival int64, payload []byte) (pushResult, error) {
	s := &a.ch[c]
	n := int64(len(payload))
	var pos int64
	rebase := false
	if !s.active || s.ssrc != ssrc {
		// A new stream (first packet, re-INVITE, a prompt handing over to
		// the far end): its timestamps start anywhere (RFC 3550 §5.1:
		// random initial value), so only arrival time can place it.
		rebase = true
	} else {
		d := int64(int32(ts - s.anchorTS)) // serial arithmetic: wraps at 2^32
		elapsed := (arrival - s.anchorArrival) / nsPerSample
		pos = s.anchorPos + d
		switch {
		case abs(d-elapsed) <= trustSlack:
			// Timestamps agree with the clock: loss, reordering, silence
			// suppression and holds with a running clock are all placed
			// exactly, whatever the gap.
			s.suspect = false
		case d >= 0:
			// Either more time passed than the timestamps show (a hold
			// whose sender froze its clock) or the timestamps leapt ahead
			// of time (a source switch under one SSRC, a bogus value).
			// Either way the clock tells where the packet belongs, and an
			// untrusted timestamp can never make a gap of its own.
			rebase = true
		case s.suspect && ts-s.suspectNext < uint32(trustSlack):
			// Second packet on a timeline far behind the anchor,
			// following the first: the sender reset its timestamps.
			rebase = true
		default:
			// Far behind the anchor and not yet confirmed: a packet
			// delayed beyond all use, or the first of a reset. Wait for
			// the next one to tell.
			s.suspect = true
			s.suspectNext = ts + uint32(n)
			s.lateRun++
			return late, nil
		}
	}
	if !rebase && a.started && pos+n <= a.w {
		s.lateRun++
		if s.lateRun < lateRebase {
			return late, nil
		}
		rebase = true
	}
	if rebase {
		pos = a.rebasePos(s, arrival)
		s.active, s.ssrc, s.suspect = true, ssrc, false
	}
	if rebase || int32(ts-s.anchorTS) > 0 {
		s.anchorTS, s.anchorPos, s.anchorArrival = ts, pos, arrival
	}
	s.lateRun = 0

	end := pos + n
	first := !a.started
	if first {
		a.started = true
		a.w = pos - jitterWindow
		a.earliest = pos
		a.maxEnd = end
	}
	if end-a.w > ringSize {
		// Beyond what the rings can hold: a gap. What lies before it is
		// settled (nothing may land more than ringSize behind the newest
		// audio), so write it, silence included, to make room.
		if err := a.advance(end - ringSize); err != nil {
			return placed, err
		}
	}
	start := max(pos, a.w)
	a.place(s, law, start, payload[start-pos:])
	if !a.committed {
		a.earliest = min(a.earliest, start)
	}
	s.placed = true
	s.end = max(s.end, end)
	a.maxEnd = max(a.maxEnd, end)
	if first || arrival >= a.refArrival {
		a.refArrival, a.refPos = arrival, pos
	}
	if a.maxEnd-jitterWindow > a.w {
		return placed, a.advance(a.maxEnd - jitterWindow)
	}
	return placed, nil
}

// rebasePos returns where a stream re-based from arrival time starts on
// channel s. A stream following on from the channel's previous audio within
// the jitter window (a prompt handing over to the far end) continues it
// seamlessly rather than leaving a click of silence or overlapping it, and
// nothing is placed where it would already be written.
func (a *aligner) rebasePos(s *channelState, arrival int64) int64 {
	if !a.started {
		return 0
	}
	p := a.refPos + (arrival-a.refArrival)/nsPerSample
	if s.placed && p-s.end <= jitterWindow {
		p = s.end
	}
	return max(p, a.w)
}

// place decodes payload into channel s's ring at position start (w <= start,
// start+len(payload) <= w+ringSize): at most two contiguous runs, either
// side of the ring's end.
func (a *aligner) place(s *channelState, law *[256]int16, start int64, payload []byte) {
	i := int(floorMod(start, ringSize))
	for len(payload) > 0 {
		dst := s.ring[i:min(i+len(payload), ringSize)]
		for k, b := range payload[:len(dst)] {
			dst[k] = law[b]
		}
		payload = payload[len(dst):]
		i = 0
	}
}

// advance writes all frames before position to (to > w): what the rings
// hold, then silence for any stretch beyond them, in blocks.
func (a *aligner) advance(to int64) error {
	if !a.committed {
		// Nothing was placed before earliest: the file starts there, so
		// the window may move up to it without writing anything.
		if to <= a.earliest {
			a.w = max(a.w, to)
			return nil
		}
		a.committed = true
		a.w = max(a.w, a.earliest)
	}
	// Frames from the rings, up to ringSize past w (all audio placed lies
	// there); the rest is silence.
	ringEnd := a.w + ringSize
	for a.w < to {
		n := int(min(to-a.w, blockFrames))
		fromRing := int(max(0, min(int64(n), ringEnd-a.w)))
		block := a.block[:2*n]
		i := int(floorMod(a.w, ringSize))
		for k := 0; k < fromRing; {
			// One contiguous run of both rings, up to the ring's end.
			m := min(fromRing-k, ringSize-i)
			left, right := a.ch[0].ring[i:i+m], a.ch[1].ring[i:i+m]
			out := block[2*k : 2*(k+m)]
			for j, l := range left {
				f := out[2*j : 2*j+2 : 2*j+2]
				f[0], f[1] = l, right[j]
			}
			// Cleared for the audio that will land here ringSize samples
			// later; a gap is silence.
			clear(left)
			clear(right)
			k += m
			i = 0
		}
		clear(block[2*fromRing:])
		if err := a.out.Write(block); err != nil {
			return err
		}
		a.w += int64(n)
	}
	return nil
}

// finish writes everything still unwritten, padding the shorter channel with
// silence; called once at the end of the recording.
func (a *aligner) finish() error {
	if !a.started || a.maxEnd <= a.w {
		return nil
	}
	return a.advance(a.maxEnd)
}

// floorMod returns x mod m in [0, m), for negative x too.
func floorMod(x, m int64) int64 {
	r := x % m
	if r < 0 {
		r += m
	}
	return r
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
