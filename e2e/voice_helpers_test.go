package e2e

// Helpers for tests of announcements and voicemail (and anything else that
// must look at the audio the gateway plays): a trunk caller's RTP socket
// that keeps every packet with its kernel arrival time, a paced sender on
// the same socket that can switch between silence, tones and RFC 4733
// digits, SIP INFO digits, per-frame audio analysis, and the voicemail REST
// API with WAV download.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"switchboard/internal/pacing"
	"switchboard/internal/testaudio"
	"switchboard/ivr"
	"switchboard/media"
)

// dtmfPT is the payload type voiceSDP maps to telephone-event/8000.
const dtmfPT = 101

// Frame geometry: every stream the gateway sends is 20 ms of G.711 per
// packet (RFC 3551 §4.5), 160 samples at 8 kHz.
const (
	frameSamples  = 160
	frameDuration = 20 * time.Millisecond
)

// Thresholds of the frame classifiers.
const (
	// speechLevel is the RMS level (dBFS) above which a frame carries
	// sound: speech, a prompt or a tone. Encoded silence and line noise sit
	// far below it.
	speechLevel = -40.0
	// tonalShare is the share of a frame's power within ±tonalBand of its
	// spectral peak from which the frame counts as one tone (or a pair of
	// close tones such as a ringback's 440+480 Hz). Every frame of the
	// gateway's beep and ringback, ramps included, puts 99% or more there
	// (TestFrameAnalysis); espeak-ng's voiced speech spreads its power over
	// harmonics and formants and stays below about 92%.
	tonalShare = 0.97
	// tonalBand is half the width of that band: the main lobe of a
	// Hann-windowed 20 ms frame is ±100 Hz wide.
	tonalBand = 125.0
)

// voiceSDP offers one audio stream on 127.0.0.1:port with PCMU and
// telephone-event (RFC 4733 §7.1.1: rtpmap and the fmtp of the events
// supported, 0-16 = the DTMF keys). audioSDP lists no telephone-event, so
// a caller that wants to press keys offers this instead.
func voiceSDP(port int) []byte {
	return fmt.Appendf(nil, "v=0\r\no=e2e %d 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0 %d\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:%d telephone-event/8000\r\n"+
		"a=fmtp:%d 0-16\r\na=ptime:20\r\na=sendrecv\r\n", port, port, dtmfPT, dtmfPT, dtmfPT)
}

// audioFrame describes 20 ms of audio: one received RTP packet or one
// stretch of 160 samples of a file.
type audioFrame struct {
	At   time.Time // kernel receive time of the packet; zero for file audio
	Seq  uint16    // RTP sequence number; 0 for file audio
	SSRC uint32    // RTP SSRC; 0 for file audio
	// Samples are the decoded 8 kHz samples.
	Samples []int16
	// Level is the RMS level in dBFS (-Inf for digital silence).
	Level float64
	// Freq is the dominant frequency in Hz (searched from 100 to 3900 Hz).
	Freq float64
	// Tonality is the share (0..1) of the frame's power within ±tonalBand
	// of its spectral peak: about 1 for a tone, well below for speech.
	Tonality float64
}

// sound reports whether the frame carries anything louder than speechLevel.
func (f audioFrame) sound() bool { return f.Level > speechLevel }

// speech reports whether the frame is sound that is not a single tone:
// what a spoken announcement is made of (a few tonal vowel frames apart).
func (f audioFrame) speech() bool { return f.sound() && f.Tonality < tonalShare }

// tone reports whether the frame is a tone at freq Hz (within tol Hz).
func (f audioFrame) tone(freq, tol float64) bool {
	return f.sound() && f.Tonality >= tonalShare && math.Abs(f.Freq-freq) <= tol
}

func (f audioFrame) String() string {
	return fmt.Sprintf("seq %d: %.1f dBFS, %.0f Hz, tonality %.2f", f.Seq, f.Level, f.Freq, f.Tonality)
}

// spectrumStep is the frequency grid (Hz) of frameSpectrum: 20 ms frames
// resolve 50 Hz; twice as fine keeps a tone's peak from falling between
// two grid points.
const spectrumStep = 25.0

// spectrumBasis holds Hann-windowed cosines and sines for frameSpectrum,
// one row per grid frequency from 0 to 4000 Hz.
var spectrumBasis = sync.OnceValue(func() (basis [][2][frameSamples]float64) {
	n := int(media.ClockRate/2/spectrumStep) + 1
	basis = make([][2][frameSamples]float64, n)
	for k := range basis {
		w := 2 * math.Pi * float64(k) * spectrumStep / media.ClockRate
		for i := range frameSamples {
			hann := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/(frameSamples-1))
			basis[k][0][i] = hann * math.Cos(w*float64(i))
			basis[k][1][i] = hann * math.Sin(w*float64(i))
		}
	}
	return basis
})

// analyseFrame measures one frame of exactly frameSamples samples.
func analyseFrame(s []int16) audioFrame {
	f := audioFrame{Samples: s, Level: testaudio.RMSDBFS(s)}
	if math.IsInf(f.Level, -1) {
		return f
	}
	basis := spectrumBasis()
	power := make([]float64, len(basis))
	var total float64
	peak := 0
	for k := range basis {
		var re, im float64
		for i, v := range s {
			re += float64(v) * basis[k][0][i]
			im += float64(v) * basis[k][1][i]
		}
		power[k] = re*re + im*im
		total += power[k]
		hz := float64(k) * spectrumStep
		if hz >= 100 && hz <= 3900 && power[k] > power[peak] {
			peak = k
		}
	}
	var near float64
	for k, p := range power {
		if math.Abs(float64(k-peak))*spectrumStep <= tonalBand {
			near += p
		}
	}
	if total > 0 {
		f.Tonality = near / total
	}
	centre := float64(peak) * spectrumStep
	f.Freq = testaudio.DominantFrequency(s, media.ClockRate, max(100, centre-spectrumStep), min(3900, centre+spectrumStep), 2)
	return f
}

// sampleFrames cuts samples (8 kHz, e.g. a decoded voicemail) into 20 ms
// frames and analyses each; a trailing partial frame is dropped.
func sampleFrames(samples []int16) []audioFrame {
	out := make([]audioFrame, 0, len(samples)/frameSamples)
	for i := 0; i+frameSamples <= len(samples); i += frameSamples {
		out = append(out, analyseFrame(samples[i:i+frameSamples]))
	}
	return out
}

// frameRun is a run of consecutive frames [Start, End) of a frame slice.
type frameRun struct{ Start, End int }

// Len is the run's length in frames.
func (r frameRun) Len() int { return r.End - r.Start }

// runsOf returns the maximal runs of consecutive frames for which match holds.
func runsOf(frames []audioFrame, match func(audioFrame) bool) []frameRun {
	var out []frameRun
	start := -1
	for i, f := range frames {
		switch {
		case match(f) && start < 0:
			start = i
		case !match(f) && start >= 0:
			out = append(out, frameRun{start, i})
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, frameRun{start, len(frames)})
	}
	return out
}

// countFrames counts the frames for which match holds.
func countFrames(frames []audioFrame, match func(audioFrame) bool) int {
	n := 0
	for _, f := range frames {
		if match(f) {
			n++
		}
	}
	return n
}

// joinSamples concatenates the samples of frames.
func joinSamples(frames []audioFrame) []int16 {
	out := make([]int16, 0, len(frames)*frameSamples)
	for _, f := range frames {
		out = append(out, f.Samples...)
	}
	return out
}

// The beep that starts a voicemail recording (ivr.Beep): 1 kHz, 400 ms, -12 dBFS.
const (
	beepFreq   = 1000.0
	beepLevel  = -12.0
	beepFrames = 20
)

// findBeep returns the first finished run of at least 3/4 of a beep's
// length of 1 kHz tone frames: finished means a frame that is not the
// tone follows, so the recording has started when it returns ok.
func findBeep(frames []audioFrame) (frameRun, bool) {
	for _, r := range runsOf(frames, func(f audioFrame) bool { return f.tone(beepFreq, 30) }) {
		if r.Len() >= beepFrames*3/4 && r.End < len(frames) {
			return r, true
		}
	}
	return frameRun{}, false
}

// rtpArrival is one datagram received by a voicePeer.
type rtpArrival struct {
	At     time.Time  // kernel receive time (SO_TIMESTAMPNS)
	Header rtp.Header // the packet's RTP header
	// Frame is the decoded, analysed audio of a PCMU or PCMA packet of one
	// 20 ms frame; nil for any other packet (telephone-event, odd sizes).
	Frame *audioFrame
}

// voicePeer is an RTP endpoint for trunk callers of voice tests. It keeps
// every packet it receives in arrival order with its kernel receive time
// and analysed audio, and sends one continuous, paced 20 ms PCMU stream
// from the same socket (symmetric RTP, RFC 4961): silence by default,
// tones on request, RFC 4733 digits in between.
type voicePeer struct {
	conn *net.UDPConn
	rx   *pacing.Receiver

	mu       sync.Mutex
	arrivals []rtpArrival
	changed  chan struct{} // closed and replaced on every arrival

	talkMu  sync.Mutex
	talk    talkState
	talking sync.WaitGroup
	stopTx  context.CancelFunc
}

// talkState is what the sender plays next. Jobs play in order; between and
// after them the sender plays the steady content (silence or a tone).
type talkState struct {
	remote   netip.AddrPort
	steady   toneSpec
	jobs     []*talkJob
	ssrc     uint32
	seq      uint16
	ts       uint32
	phase    float64
	started  bool
	sentAny  bool // the first packet, which carries the marker (RFC 3551 §4.1), is out
	sendErrs []error
}

// toneSpec is a sine at Freq Hz and Level dBFS; Freq 0 is silence.
type toneSpec struct {
	Freq  float64
	Level float64
}

// talkJob is a finite piece of the sent stream: frames of a tone, or one
// RFC 4733 key press.
type talkJob struct {
	tone   toneSpec
	frames int  // tone frames to send, or event frames before the end packets
	digit  byte // RFC 4733 §3.2 event code; used when isKey
	isKey  bool
	sent   int       // packets sent so far
	evTS   uint32    // the event's RTP timestamp (its start)
	first  time.Time // when the first packet went out
	done   chan struct{}
	closed bool
}

// newVoicePeer binds a UDP socket on 127.0.0.1 with kernel receive
// timestamps and starts recording what arrives. Closed by test cleanup.
func newVoicePeer(t *testing.T) *voicePeer {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	rx, err := pacing.Enable(conn)
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	p := &voicePeer{conn: conn, rx: rx, changed: make(chan struct{})}
	received := make(chan struct{})
	go p.receive(received)
	t.Cleanup(func() {
		p.stopTalking()
		conn.Close()
		<-received
	})
	return p
}

// port is the peer's RTP port, for its SDP.
func (p *voicePeer) port() int { return p.conn.LocalAddr().(*net.UDPAddr).Port }

func (p *voicePeer) receive(done chan struct{}) {
	defer close(done)
	for {
		a, err := p.rx.Read(time.Now().Add(200 * time.Millisecond))
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return // closed
		}
		var pkt rtp.Packet
		if pkt.Unmarshal(a.Data) != nil || pkt.Version != 2 {
			continue
		}
		arr := rtpArrival{At: a.At, Header: pkt.Header}
		if len(pkt.Payload) == frameSamples && (pkt.PayloadType == media.PayloadPCMU || pkt.PayloadType == media.PayloadPCMA) {
			table := &media.ULawToLinear
			if pkt.PayloadType == media.PayloadPCMA {
				table = &media.ALawToLinear
			}
			s := make([]int16, frameSamples)
			for i, b := range pkt.Payload {
				s[i] = table[b]
			}
			f := analyseFrame(s)
			f.At, f.Seq, f.SSRC = a.At, pkt.SequenceNumber, pkt.SSRC
			arr.Frame = &f
		}
		p.mu.Lock()
		p.arrivals = append(p.arrivals, arr)
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
	}
}

// received returns every packet received so far, in arrival order. The
// slice must not be modified.
func (p *voicePeer) received() []rtpArrival {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.arrivals[:len(p.arrivals):len(p.arrivals)]
}

// frames returns the analysed audio frames received so far, in arrival order.
func (p *voicePeer) frames() []audioFrame {
	return audioFrames(p.received())
}

// audioFrames picks the audio frames out of arrivals.
func audioFrames(arr []rtpArrival) []audioFrame {
	out := make([]audioFrame, 0, len(arr))
	for _, a := range arr {
		if a.Frame != nil {
			out = append(out, *a.Frame)
		}
	}
	return out
}

// awaitFrames waits until cond holds for the audio frames received so far
// (re-checked on every arrival) or ctx ends. cond must not keep the slice.
func (p *voicePeer) awaitFrames(ctx context.Context, cond func([]audioFrame) bool) error {
	for {
		p.mu.Lock()
		arr, changed := p.arrivals[:len(p.arrivals):len(p.arrivals)], p.changed
		p.mu.Unlock()
		if cond(audioFrames(arr)) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("after %d packets: %w", len(arr), ctx.Err())
		}
	}
}

// awaitBeep waits for a voicemail beep to have been received and to have
// ended, and returns all frames so far and the beep's run among them.
func (p *voicePeer) awaitBeep(ctx context.Context) ([]audioFrame, frameRun, error) {
	var frames []audioFrame
	var beep frameRun
	err := p.awaitFrames(ctx, func(fs []audioFrame) bool {
		var ok bool
		beep, ok = findBeep(fs)
		frames = fs
		return ok
	})
	return frames, beep, err
}

// startTalking starts the paced sender toward remote: one PCMU packet
// every 20 ms, silence until told otherwise. The stream has one SSRC and
// contiguous sequence numbers, and its RTP timestamp advances 160 per
// packet whatever the packet carries (RFC 3550 §5.1).
func (p *voicePeer) startTalking(remote netip.AddrPort) {
	p.talkMu.Lock()
	defer p.talkMu.Unlock()
	if p.talk.started {
		p.talk.remote = remote
		return
	}
	p.talk = talkState{remote: remote, ssrc: uint32(p.port())*2654435761 | 1, seq: uint16(p.port()), ts: uint32(p.port()) * 1000, started: true}
	ctx, cancel := context.WithCancel(context.Background())
	p.stopTx = cancel
	p.talking.Add(1)
	go p.sendLoop(ctx)
}

// stopTalking stops the sender (no more packets at all) and waits for it.
// It is safe to call more than once, and without startTalking.
func (p *voicePeer) stopTalking() {
	p.talkMu.Lock()
	cancel := p.stopTx
	p.stopTx = nil
	p.talkMu.Unlock()
	if cancel != nil {
		cancel()
	}
	p.talking.Wait()
}

// say sets the steady content sent when no tone or key job is pending:
// a tone, or silence with Freq 0.
func (p *voicePeer) say(tone toneSpec) {
	p.talkMu.Lock()
	p.talk.steady = tone
	p.talkMu.Unlock()
}

// sayFor sends frames 20 ms frames of tone, then goes back to the steady
// content. It returns when the last frame was sent, with the time the
// first one went out; when ctx ends first, a job not yet begun is
// withdrawn (one already begun plays to its end).
func (p *voicePeer) sayFor(ctx context.Context, tone toneSpec, frames int) (time.Time, error) {
	return p.queue(ctx, &talkJob{tone: tone, frames: frames})
}

// pressKey sends one RFC 4733 key press of key ('0'-'9', '*', '#', 'A'-'D')
// lasting frames 20 ms packets, then its three end packets (§2.5.1.4),
// in place of audio. It returns when the last end packet was sent (or ctx
// ended), with the time the first event packet went out.
func (p *voicePeer) pressKey(ctx context.Context, key rune, frames int) (time.Time, error) {
	code := strings.IndexRune("0123456789*#ABCD", key)
	if code < 0 {
		return time.Time{}, fmt.Errorf("no RFC 4733 event for key %q", key)
	}
	return p.queue(ctx, &talkJob{isKey: true, digit: byte(code), frames: max(frames, 1)})
}

func (p *voicePeer) queue(ctx context.Context, job *talkJob) (time.Time, error) {
	job.done = make(chan struct{})
	p.talkMu.Lock()
	if p.stopTx == nil {
		p.talkMu.Unlock()
		return time.Time{}, errors.New("the RTP sender is not running (startTalking)")
	}
	p.talk.jobs = append(p.talk.jobs, job)
	p.talkMu.Unlock()
	select {
	case <-job.done:
		p.talkMu.Lock()
		defer p.talkMu.Unlock()
		return job.first, nil
	case <-ctx.Done():
		// Withdraw the job unless it is already on the wire.
		p.talkMu.Lock()
		defer p.talkMu.Unlock()
		for i, j := range p.talk.jobs {
			if j == job && j.sent == 0 {
				p.talk.jobs = append(p.talk.jobs[:i], p.talk.jobs[i+1:]...)
				break
			}
		}
		return time.Time{}, ctx.Err()
	}
}

// sendProblems returns the errors the sender met (failed writes).
func (p *voicePeer) sendProblems() []error {
	p.talkMu.Lock()
	defer p.talkMu.Unlock()
	return append([]error(nil), p.talk.sendErrs...)
}

// sendLoop sends one packet per 20 ms on an absolute schedule.
func (p *voicePeer) sendLoop(ctx context.Context) {
	defer p.talking.Done()
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for slot := 1; ; slot++ {
		select {
		case <-ctx.Done():
			p.talkMu.Lock()
			for _, j := range p.talk.jobs {
				j.finish()
			}
			p.talk.jobs = nil
			p.talkMu.Unlock()
			return
		case <-timer.C:
		}
		p.sendOne()
		timer.Reset(time.Until(start.Add(time.Duration(slot) * frameDuration)))
	}
}

// sendOne builds and sends the next packet of the stream.
func (p *voicePeer) sendOne() {
	p.talkMu.Lock()
	defer p.talkMu.Unlock()
	s := &p.talk
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: media.PayloadPCMU, SequenceNumber: s.seq, Timestamp: s.ts, SSRC: s.ssrc, Marker: !s.sentAny}}
	var job *talkJob
	if len(s.jobs) > 0 {
		job = s.jobs[0]
	}
	switch {
	case job != nil && job.isKey:
		if job.sent == 0 {
			job.evTS = s.ts
			pkt.Marker = true // RFC 4733 §2.5.1.1: the first packet of an event
		}
		// Duration so far, in timestamp units, counted from the event's start
		// (§2.5.1.1); the end packets repeat the final one (§2.5.1.4).
		dur := min(job.sent+1, job.frames) * frameSamples
		end := job.sent >= job.frames-1
		pkt.PayloadType = dtmfPT
		pkt.Timestamp = job.evTS
		pkt.Payload = rfc4733Payload(job.digit, end, uint16(dur))
	case job != nil:
		pkt.Payload = s.encodeTone(job.tone)
	default:
		pkt.Payload = s.encodeTone(s.steady)
	}
	raw, err := pkt.Marshal()
	// Taken before the write: the gateway's answer may arrive (kernel
	// timestamp) before this goroutine runs again after the syscall.
	sentAt := time.Now()
	if err == nil {
		_, err = p.conn.WriteToUDP(raw, net.UDPAddrFromAddrPort(s.remote))
	}
	if err != nil && len(s.sendErrs) < 10 {
		s.sendErrs = append(s.sendErrs, fmt.Errorf("sending RTP to %s: %w", s.remote, err))
	}
	s.sentAny = true
	s.seq++
	s.ts += frameSamples
	if job == nil {
		return
	}
	if job.sent == 0 {
		job.first = sentAt
	}
	job.sent++
	total := job.frames
	if job.isKey {
		total += 2 // the end packet is sent three times
	}
	if job.sent >= total {
		s.jobs = s.jobs[1:]
		job.finish()
	}
}

func (j *talkJob) finish() {
	if !j.closed {
		j.closed = true
		close(j.done)
	}
}

// encodeTone returns one PCMU frame of tone, continuing the sine's phase.
func (s *talkState) encodeTone(tone toneSpec) []byte {
	out := make([]byte, frameSamples)
	if tone.Freq == 0 {
		for i := range out {
			out[i] = 0xFF // µ-law digital silence
		}
		s.phase = 0
		return out
	}
	for i, v := range testaudio.Sine(tone.Freq, media.ClockRate, frameSamples, testaudio.AmplitudeForDBFS(tone.Level), &s.phase) {
		out[i] = media.LinearToULaw(v)
	}
	return out
}

// rfc4733Payload is the 4-byte telephone-event payload (RFC 4733 §2.3):
// event code, End bit, volume 10 (-10 dBm0), duration.
func rfc4733Payload(event byte, end bool, duration uint16) []byte {
	b := []byte{event, 10, 0, 0}
	if end {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], duration)
	return b
}

// sendInfoDigit sends key as a SIP INFO in dlg with an application/
// dtmf-relay body, the de facto format trunks use when RFC 4733 is not
// negotiated, and returns the final response.
func sendInfoDigit(ctx context.Context, dlg *sipgo.DialogClientSession, key rune) (*sip.Response, error) {
	recipient := dlg.InviteRequest.Recipient
	if c := dlg.InviteResponse.Contact(); c != nil {
		recipient = c.Address // RFC 3261 §12.2.1.1: the remote target
	}
	req := sip.NewRequest(sip.INFO, *recipient.Clone())
	req.AppendHeader(sip.NewHeader("Content-Type", "application/dtmf-relay"))
	req.SetBody(fmt.Appendf(nil, "Signal=%c\r\nDuration=160\r\n", key))
	return dlg.Do(ctx, req)
}

// callProgress places a call like goCaller.call and also returns every
// provisional response received before the answer, with when it arrived.
func (c *goCaller) callProgress(ctx context.Context, gatewayAddr, number string, sdpBody []byte) (*sipgo.DialogClientSession, []timedResponse, error) {
	host, portStr, err := net.SplitHostPort(gatewayAddr)
	if err != nil {
		return nil, nil, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, nil, fmt.Errorf("gateway port %q: %w", portStr, err)
	}
	to := sip.Uri{Scheme: "sip", User: number, Host: host, Port: port}
	from := &sip.FromHeader{
		DisplayName: "Go Caller",
		Address:     sip.Uri{Scheme: "sip", User: callerNumber, Host: "127.0.0.1"},
		Params:      sip.NewParams(),
	}
	from.Params.Add("tag", sip.GenerateTagN(16))
	dlg, err := c.dialogs.Invite(ctx, to, sdpBody, from, sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		return nil, nil, fmt.Errorf("INVITE: %w", err)
	}
	var progress []timedResponse
	err = dlg.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
		if res.IsProvisional() {
			progress = append(progress, timedResponse{At: time.Now(), Res: res})
		}
		return nil
	}})
	if err != nil {
		_ = dlg.Close()
		return nil, progress, fmt.Errorf("waiting for the answer: %w", err)
	}
	if err := dlg.Ack(ctx); err != nil {
		return nil, progress, fmt.Errorf("ACK: %w", err)
	}
	return dlg, progress, nil
}

// timedResponse is a SIP response and when the caller got it.
type timedResponse struct {
	At  time.Time
	Res *sip.Response
}

// voicemailNumber is gatewayOptions.Numbers for +15550100 owned by alice,
// ringing her browsers (with nobody signed in every call goes straight to
// voicemail), with the given YAML flow mapping as its voicemail settings.
func voicemailNumber(voicemail string) string {
	return fmt.Sprintf("  - { number: %q, trunk: carrier, owner: alice, ringing: browser, ring_timeout: 1s, voicemail: %s }\n",
		ourNumber, voicemail)
}

// voicemailRecord mirrors the Voicemail JSON of the REST API (declared
// here, like callRecord, so a change of the wire format breaks the tests).
type voicemailRecord struct {
	ID              string     `json:"id"`
	CallID          string     `json:"call_id"`
	Number          string     `json:"number"`
	Owner           string     `json:"owner"`
	Caller          string     `json:"caller"`
	Greeting        string     `json:"greeting"`
	File            string     `json:"file"`
	StartedAt       time.Time  `json:"started_at"`
	DurationSeconds float64    `json:"duration_seconds"`
	Bytes           int64      `json:"bytes"`
	State           string     `json:"state"`
	EndReason       string     `json:"end_reason"`
	Heard           bool       `json:"heard"`
	HeardAt         *time.Time `json:"heard_at"`
}

func (v voicemailRecord) String() string {
	b, _ := json.Marshal(v)
	return string(b)
}

// voicemailPage mirrors GET /api/numbers/{number}/voicemails.
type voicemailPage struct {
	Voicemails []voicemailRecord `json:"voicemails"`
	Next       string            `json:"next"`
	Unheard    int               `json:"unheard"`
}

// apiReply is an HTTP answer read to the end.
type apiReply struct {
	Status int
	Header http.Header
	Body   []byte
}

// api sends an authenticated request to the gateway's HTTP API (the
// user's bearer token, as getJSON) and reads the whole answer. header adds
// or overrides request headers; body may be nil.
func (g *gateway) api(t *testing.T, method, path string, body []byte, header http.Header) apiReply {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	req, err := http.NewRequest(method, g.httpBase+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if g.apiToken != "" {
		req.Header.Set("Authorization", "Bearer "+g.apiToken)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return apiReply{Status: res.StatusCode, Header: res.Header, Body: data}
}

// voicemails lists number's voicemails (first page), failing on any
// status but 200.
func (g *gateway) voicemails(t *testing.T, number string) voicemailPage {
	t.Helper()
	var page voicemailPage
	path := "/api/numbers/" + url.PathEscape(number) + "/voicemails"
	if code := g.getJSON(t, path, &page); code != http.StatusOK {
		t.Fatalf("GET %s: status %d", path, code)
	}
	return page
}

// callVoicemailID returns the voicemail_id of call record id (callRecord
// does not carry it).
func (g *gateway) callVoicemailID(t *testing.T, id string) string {
	t.Helper()
	var rec struct {
		VoicemailID string `json:"voicemail_id"`
	}
	if code := g.getJSON(t, "/api/calls/"+url.PathEscape(id), &rec); code != http.StatusOK {
		t.Fatalf("GET /api/calls/%s: status %d", id, code)
	}
	return rec.VoicemailID
}

// wavAudio is a decoded WAV file: its fmt chunk and its samples (mono).
type wavAudio struct {
	Channels int
	Rate     int
	Bits     int
	Samples  []int16
}

// decodeWAVBytes reads the fmt chunk of a RIFF/WAVE file itself (the
// format fields a test asserts) and decodes the samples with ivr.DecodeWAV.
func decodeWAVBytes(data []byte) (wavAudio, error) {
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		return wavAudio{}, errors.New("not a RIFF/WAVE file")
	}
	var w wavAudio
	for off := 12; off+8 <= len(data); {
		id, size := string(data[off:off+4]), int(binary.LittleEndian.Uint32(data[off+4:]))
		if id == "fmt " {
			if size < 16 || off+8+16 > len(data) {
				return wavAudio{}, errors.New("short fmt chunk")
			}
			f := data[off+8:]
			w.Channels = int(binary.LittleEndian.Uint16(f[2:]))
			w.Rate = int(binary.LittleEndian.Uint32(f[4:]))
			w.Bits = int(binary.LittleEndian.Uint16(f[14:]))
			break
		}
		off += 8 + size + size%2 // chunks are word aligned
	}
	if w.Rate == 0 {
		return wavAudio{}, errors.New("no fmt chunk")
	}
	samples, rate, err := ivr.DecodeWAV(bytes.NewReader(data))
	if err != nil {
		return wavAudio{}, fmt.Errorf("decoding: %w", err)
	}
	if rate != w.Rate {
		return wavAudio{}, fmt.Errorf("ivr.DecodeWAV says %d Hz, the fmt chunk %d Hz", rate, w.Rate)
	}
	w.Samples = samples
	return w, nil
}

// voicemailAudio downloads and decodes a voicemail's WAV file, failing the
// test on any status but 200 or a file that does not decode.
func (g *gateway) voicemailAudio(t *testing.T, id string) wavAudio {
	t.Helper()
	res := g.api(t, http.MethodGet, "/api/voicemails/"+url.PathEscape(id)+"/audio", nil, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET voicemail %s audio: %d %s", id, res.Status, res.Body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "audio/wav" {
		t.Errorf("voicemail audio Content-Type %q, want audio/wav", ct)
	}
	w, err := decodeWAVBytes(res.Body)
	if err != nil {
		t.Fatalf("voicemail %s audio (%d bytes): %v", id, len(res.Body), err)
	}
	return w
}

// voicemailFiles lists the WAV files under data_dir/voicemail.
func (g *gateway) voicemailFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(g.dataDir, "voicemail"), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".wav") {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("listing voicemail files: %v", err)
	}
	return out
}

// TestFrameAnalysis pins the frame classifiers the voice tests rely on:
// a pure tone, the US ringback pair and every frame of the gateway's beep
// and ringback are tones at their frequency, a harmonic-rich voiced sound
// is speech, silence is neither.
func TestFrameAnalysis(t *testing.T) {
	sine := func(freq, dbfs float64) []int16 {
		return testaudio.Sine(freq, media.ClockRate, frameSamples, testaudio.AmplitudeForDBFS(dbfs), nil)
	}
	mix := func(parts ...[]int16) []int16 {
		out := make([]int16, frameSamples)
		for i := range out {
			var v int
			for _, p := range parts {
				v += int(p[i])
			}
			out[i] = int16(max(-32768, min(32767, v)))
		}
		return out
	}
	// A voiced vowel: 120 Hz pitch with harmonics falling 6 dB per octave,
	// lifted around two formants (700 and 1200 Hz).
	var voiced [][]int16
	for h := 1; h*120 < 3800; h++ {
		f := float64(h * 120)
		level := -20 - 20*math.Log10(float64(h))
		if math.Abs(f-700) < 150 || math.Abs(f-1200) < 150 {
			level += 12
		}
		voiced = append(voiced, sine(f, level))
	}
	tests := []struct {
		name      string
		samples   []int16
		wantTone  float64 // 0: must not be a tone at all
		tol       float64 // Hz around wantTone
		wantSound bool
		wantSpeak bool
	}{
		{"1 kHz beep", sine(1000, -12), 1000, 10, true, false},
		{"440 Hz message tone", sine(440, -20), 440, 10, true, false},
		// 20 ms cannot resolve a 40 Hz spacing: the pair reads as one tone
		// somewhere between and around them.
		{"US ringback 440+480 Hz", mix(sine(440, -22), sine(480, -22)), 460, 60, true, false},
		{"voiced speech", mix(voiced...), 0, 0, true, true},
		{"silence", make([]int16, frameSamples), 0, 0, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := analyseFrame(tc.samples)
			t.Logf("%v", f)
			if f.sound() != tc.wantSound || f.speech() != tc.wantSpeak {
				t.Errorf("sound %v speech %v, want %v %v", f.sound(), f.speech(), tc.wantSound, tc.wantSpeak)
			}
			if tc.wantTone != 0 && !f.tone(tc.wantTone, tc.tol) {
				t.Errorf("not a tone at %.0f Hz", tc.wantTone)
			}
			if tc.wantTone == 0 && f.Tonality >= tonalShare && f.sound() {
				t.Errorf("tonality %.2f: classified as a tone", f.Tonality)
			}
		})
	}

	// The gateway's own tones, through µ-law as the caller hears them:
	// every frame with sound is a tone, never speech.
	for name, tc := range map[string]struct {
		samples   []int16
		freq, tol float64
	}{
		"ivr.Beep":         {ivr.Beep(), beepFreq, 10},
		"ivr.Ringback(US)": {ivr.Ringback("US"), 460, 60},
	} {
		for i := 0; i+frameSamples <= len(tc.samples); i += frameSamples {
			s := make([]int16, frameSamples)
			for j, v := range tc.samples[i : i+frameSamples] {
				s[j] = media.ULawToLinear[media.LinearToULaw(v)]
			}
			if f := analyseFrame(s); f.sound() && !f.tone(tc.freq, tc.tol) {
				t.Errorf("%s frame %d (%v) is not a tone at %.0f Hz", name, i/frameSamples, f, tc.freq)
			}
		}
	}

	// A beep among silence is found once it has ended, not before.
	var frames []audioFrame
	for range 10 {
		frames = append(frames, analyseFrame(make([]int16, frameSamples)))
	}
	var phase float64
	for range beepFrames {
		frames = append(frames, analyseFrame(testaudio.Sine(beepFreq, media.ClockRate, frameSamples, testaudio.AmplitudeForDBFS(beepLevel), &phase)))
	}
	if _, ok := findBeep(frames); ok {
		t.Errorf("findBeep reported a beep that has not ended yet")
	}
	frames = append(frames, analyseFrame(make([]int16, frameSamples)))
	if r, ok := findBeep(frames); !ok || r != (frameRun{10, 30}) {
		t.Errorf("findBeep = %v %v, want [10, 30) true", r, ok)
	}
	level := testaudio.ToneLevelDBFS(joinSamples(frames[11:29]), media.ClockRate, beepFreq)
	if math.Abs(level-beepLevel) > 0.5 {
		t.Errorf("beep level %.2f dBFS, want %.0f", level, beepLevel)
	}
}
