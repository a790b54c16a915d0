package e2e

// End-to-end tests of the live media stream (recording.stream_url,
// docs/livestream.md): every recorded call's audio goes, while the call
// runs, to a WebSocket consumer as a start event, 20 ms µ-law media frames
// per channel and a stop event; a consumer that is down or stalls costs its
// stream, never the call or the recording.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"switchboard/media"
)

// liveToken is the access token the tests put in the stream URL's query,
// where docs/livestream.md says to put one: it must reach the consumer and
// never the gateway's log.
const liveToken = "e2e-live-s3cret"

// liveMode is how a liveConsumer treats connections.
type liveMode int

const (
	// liveRead accepts the WebSocket and reads every message.
	liveRead liveMode = iota
	// liveRefuse answers every request 503: the handshake is refused.
	liveRefuse
	// liveStall accepts the WebSocket and reads nothing until resume,
	// behind a tiny TCP receive window, so the gateway's writes block.
	liveStall
)

// liveMsg is one WebSocket message the consumer read.
type liveMsg struct {
	At   time.Time
	Type int // websocket.TextMessage or BinaryMessage
	Data []byte
}

// liveConn is one WebSocket connection the gateway opened to the consumer.
type liveConn struct {
	Header http.Header
	URL    *url.URL
	Msgs   []liveMsg
	// Ended is set when reading ended, with End the error that ended it
	// (a *websocket.CloseError for the gateway's close frame) and EndedAt
	// when.
	Ended   bool
	End     error
	EndedAt time.Time
}

// liveConsumer is the service a stream_url points at: a gorilla WebSocket
// server on 127.0.0.1 that keeps every request and message it got.
type liveConsumer struct {
	srv  *httptest.Server
	mode liveMode

	mu       sync.Mutex
	requests int
	conns    []*liveConn
	changed  chan struct{} // closed and replaced on every change
	resumed  chan struct{} // closed by resume: stalled handlers read on
	released chan struct{} // closed at cleanup: handlers return
	handlers sync.WaitGroup
}

// newLiveConsumer starts a consumer in mode; closed by test cleanup.
func newLiveConsumer(t *testing.T, mode liveMode) *liveConsumer {
	t.Helper()
	c := &liveConsumer{mode: mode, changed: make(chan struct{}), resumed: make(chan struct{}), released: make(chan struct{})}
	c.srv = httptest.NewUnstartedServer(http.HandlerFunc(c.serve))
	if mode == liveStall {
		// A tiny receive buffer and segment size (inherited by accepted
		// sockets) keep the kernels from absorbing more than some 50 KB
		// of the stream (a couple of seconds) once nobody reads: then
		// the gateway's writes block, as against a consumer that hangs.
		lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
			var err error
			if cerr := rc.Control(func(fd uintptr) {
				err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048)
				if err == nil {
					err = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, 256)
				}
			}); cerr != nil {
				return cerr
			}
			return err
		}}
		l, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("consumer listener: %v", err)
		}
		c.srv.Listener.Close()
		c.srv.Listener = l
	}
	c.srv.Start()
	t.Cleanup(func() {
		close(c.released)
		c.srv.CloseClientConnections()
		c.srv.Close()
		c.handlers.Wait()
	})
	return c
}

// url is the stream_url for this consumer, with liveToken in its query.
func (c *liveConsumer) url() string {
	return "ws://" + c.srv.Listener.Addr().String() + "/live?token=" + liveToken
}

// notify wakes whoever awaits a change; called with mu held.
func (c *liveConsumer) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *liveConsumer) serve(w http.ResponseWriter, r *http.Request) {
	c.handlers.Add(1)
	defer c.handlers.Done()
	c.mu.Lock()
	c.requests++
	c.notify()
	c.mu.Unlock()
	if c.mode == liveRefuse {
		http.Error(w, "consumer overloaded", http.StatusServiceUnavailable)
		return
	}
	conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade answered the bad handshake itself
	}
	defer conn.Close()
	lc := &liveConn{Header: r.Header.Clone(), URL: r.URL}
	c.mu.Lock()
	c.conns = append(c.conns, lc)
	c.notify()
	c.mu.Unlock()
	// The handler ends with the test, whatever the gateway does.
	go func() {
		<-c.released
		_ = conn.SetReadDeadline(time.Unix(1, 0))
	}()
	if c.mode == liveStall {
		select {
		case <-c.resumed:
		case <-c.released:
		}
	}
	for {
		typ, data, err := conn.ReadMessage()
		now := time.Now()
		c.mu.Lock()
		if err != nil {
			lc.Ended, lc.End, lc.EndedAt = true, err, now
		} else {
			lc.Msgs = append(lc.Msgs, liveMsg{At: now, Type: typ, Data: data})
		}
		c.notify()
		c.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// resume lets stalled connections read what was sent to them.
func (c *liveConsumer) resume() { close(c.resumed) }

// snapshot returns the request count and a copy of every connection.
func (c *liveConsumer) snapshot() (int, []liveConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]liveConn, len(c.conns))
	for i, lc := range c.conns {
		out[i] = *lc
		out[i].Msgs = lc.Msgs[:len(lc.Msgs):len(lc.Msgs)]
	}
	return c.requests, out
}

// await waits until cond holds for the consumer's state (re-checked on
// every request, message and end of a connection) or within passes.
func (c *liveConsumer) await(ctx context.Context, within time.Duration, cond func(requests int, conns []liveConn) bool) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		c.mu.Lock()
		changed := c.changed
		c.mu.Unlock()
		if cond(c.snapshot()) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return errTimeout
		}
	}
}

// Mirrors of the stream's messages (docs/livestream.md), declared here like
// callRecord so that a change of the wire format breaks the tests, as it
// would break every consumer.
type liveStartEvent struct {
	Event       string `json:"event"`
	StreamID    string `json:"stream_id"`
	CallID      string `json:"call_id"`
	Number      string `json:"number"`
	Caller      string `json:"caller"`
	Callee      string `json:"callee"`
	Direction   string `json:"direction"`
	StartedAt   string `json:"started_at"`
	MediaFormat struct {
		Encoding   string `json:"encoding"`
		SampleRate int    `json:"sample_rate"`
		FrameMS    int    `json:"frame_ms"`
	} `json:"media_format"`
	Channels []struct {
		Index int    `json:"index"`
		Role  string `json:"role"`
	} `json:"channels"`
}

type liveMediaEvent struct {
	Event       string `json:"event"`
	Channel     int    `json:"channel"`
	Seq         uint64 `json:"seq"`
	TimestampMS uint64 `json:"timestamp_ms"`
	Payload     string `json:"payload"`
}

type liveStopEvent struct {
	Event         string `json:"event"`
	Reason        string `json:"reason"`
	FramesSent    uint64 `json:"frames_sent"`
	FramesDropped uint64 `json:"frames_dropped"`
}

// liveSession is one connection's messages, decoded and checked against
// the protocol.
type liveSession struct {
	Start    *liveStartEvent
	StartAt  time.Time
	Media    int // media events
	Stop     *liveStopEvent
	StopAt   time.Time
	Channels [2][]int16 // each channel's frames in seq order, decoded
	// LastSeq is the seq of the last media event (-1 before the first).
	LastSeq int64
	// MediaAt is when each media event arrived, in order.
	MediaAt []time.Time
	// MediaTS is each media event's timestamp_ms, in order.
	MediaTS []uint64
	// Problems are the protocol violations found, at most 20.
	Problems []string
}

func (s *liveSession) problem(format string, args ...any) {
	if len(s.Problems) < 20 {
		s.Problems = append(s.Problems, fmt.Sprintf(format, args...))
	}
}

// decodeLive checks msgs against docs/livestream.md: text frames only, one
// start first, then media events (each 20 ms step channel 0 then channel 1,
// same seq and timestamp_ms = seq·20, seq from 0 without gaps, 160 µ-law
// bytes in standard base64), and at most one stop, last.
func decodeLive(msgs []liveMsg) liveSession {
	s := liveSession{LastSeq: -1}
	for i, m := range msgs {
		if m.Type != websocket.TextMessage {
			s.problem("message %d is a WebSocket frame of type %d, want text (%d)", i, m.Type, websocket.TextMessage)
			continue
		}
		var head struct {
			Event string `json:"event"`
		}
		if err := json.Unmarshal(m.Data, &head); err != nil {
			s.problem("message %d is not a JSON object (%v): %.80s", i, err, m.Data)
			continue
		}
		if s.Stop != nil {
			s.problem("message %d (%s) after the stop event", i, head.Event)
		}
		switch head.Event {
		case "start":
			if i != 0 {
				s.problem("start event is message %d, want the first", i)
			}
			var ev liveStartEvent
			if err := json.Unmarshal(m.Data, &ev); err != nil {
				s.problem("start event: %v: %s", err, m.Data)
				continue
			}
			s.Start, s.StartAt = &ev, m.At
		case "media":
			var ev liveMediaEvent
			if err := json.Unmarshal(m.Data, &ev); err != nil {
				s.problem("media event %d: %v: %.120s", s.Media, err, m.Data)
				continue
			}
			s.checkMedia(ev)
			s.MediaAt = append(s.MediaAt, m.At)
			s.MediaTS = append(s.MediaTS, ev.TimestampMS)
			s.Media++
		case "stop":
			var ev liveStopEvent
			if err := json.Unmarshal(m.Data, &ev); err != nil {
				s.problem("stop event: %v: %s", err, m.Data)
				continue
			}
			s.Stop, s.StopAt = &ev, m.At
		default:
			s.problem("message %d has event %q: %.80s", i, head.Event, m.Data)
		}
	}
	if len(msgs) > 0 && s.Start == nil {
		s.problem("no start event")
	}
	return s
}

// checkMedia checks one media event's place in the stream and appends its
// audio to its channel.
func (s *liveSession) checkMedia(ev liveMediaEvent) {
	if s.Start == nil {
		s.problem("media event before the start event")
	}
	// Steps in order, channel 0 first: the n-th media event is channel n%2
	// of step n/2.
	wantCh, wantSeq := s.Media%2, uint64(s.Media/2)
	if ev.Channel != wantCh || ev.Seq != wantSeq {
		s.problem("media event %d is channel %d seq %d, want channel %d seq %d (channel 0 then 1 for every step, seq from 0 without gaps)",
			s.Media, ev.Channel, ev.Seq, wantCh, wantSeq)
	}
	if ev.TimestampMS != ev.Seq*20 {
		s.problem("media event channel %d seq %d has timestamp_ms %d, want seq·20 = %d", ev.Channel, ev.Seq, ev.TimestampMS, ev.Seq*20)
	}
	payload, err := base64.StdEncoding.DecodeString(ev.Payload)
	if err != nil {
		s.problem("media event channel %d seq %d: payload is not standard base64: %v", ev.Channel, ev.Seq, err)
		return
	}
	if len(payload) != frameSamples {
		s.problem("media event channel %d seq %d: payload of %d bytes, want %d (20 ms of 8 kHz µ-law)", ev.Channel, ev.Seq, len(payload), frameSamples)
		return
	}
	if ev.Channel != 0 && ev.Channel != 1 {
		s.problem("media event seq %d on channel %d", ev.Seq, ev.Channel)
		return
	}
	s.LastSeq = int64(ev.Seq)
	for _, b := range payload {
		s.Channels[ev.Channel] = append(s.Channels[ev.Channel], media.ULawToLinear[b])
	}
}

// coveredAt is the stream length (timestamp_ms of the end of the newest
// frame) the consumer had received by t.
func (s *liveSession) coveredAt(t time.Time) time.Duration {
	var ms uint64
	for i, at := range s.MediaAt {
		if at.After(t) {
			break
		}
		ms = s.MediaTS[i] + 20
	}
	return time.Duration(ms) * time.Millisecond
}

// liveGateway starts a gateway whose +15550100 records its calls,
// forwarded to callee, with recording.stream_url set to streamURL.
func liveGateway(t *testing.T, callee *toneCallee, streamURL string) *gateway {
	t.Helper()
	return startGateway(t, gatewayOptions{
		Proxy:   callee.addr(),
		Numbers: recordedNumber(),
		Extra:   fmt.Sprintf("recording: { stream_url: %q }\n", streamURL),
	})
}

// checkLiveMetrics asserts the live stream counters once the stream's end
// was counted: one stream in total, ended as result.
func checkLiveMetrics(t *testing.T, g *gateway, result string) metricSet {
	t.Helper()
	g.waitMetric(t, 10*time.Second, "switchboard_livestreams_total", map[string]string{"result": result}, func(v float64) bool { return v >= 1 })
	m := g.metrics(t)
	for _, r := range []string{"complete", "incomplete", "failed"} {
		want := 0.0
		if r == result {
			want = 1
		}
		if v := m.get("switchboard_livestreams_total", map[string]string{"result": r}); v != want {
			t.Errorf("switchboard_livestreams_total{result=%q} = %v, want %v (%v)", r, v, want, m.series("switchboard_livestreams_total"))
		}
	}
	return m
}

// checkNoTokenLogged asserts the stream URL's token stayed out of the log.
func checkNoTokenLogged(t *testing.T, g *gateway) {
	t.Helper()
	if lines := g.logLines(liveToken); len(lines) > 0 {
		t.Errorf("the gateway logged the stream URL's query (its token) %d times: %s", len(lines), lines[0])
	}
}

// startedAtLayout is started_at's documented form: RFC 3339 in UTC with
// milliseconds.
var startedAtLayout = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// TestLiveStreamFollowsRecordedCall: with stream_url set, a recorded call
// (the caller speaks 440 Hz, the callee answers with 1 kHz, ~3 s of talk,
// the caller hangs up) is streamed to the consumer over one WebSocket: the
// handshake names the call, the start event describes it, the media events
// carry both channels in order without gaps while the call runs, decode to
// the two tones and are exactly the recording's live part (the consent is
// not streamed), and the stop event after the hangup counts every frame.
func TestLiveStreamFollowsRecordedCall(t *testing.T) {
	requireTools(t, "espeak-ng")
	consumer := newLiveConsumer(t, liveRead)
	callee := newToneCallee(t, media.PayloadPCMU, recCalleeFreq, recCalleeLevel)
	g := liveGateway(t, callee, consumer.url())
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()

	var atHangup liveSession
	talk := talkRecorded(ctx, t, g, callee, 3*time.Second, func(string, *voicePeer) {
		_, conns := consumer.snapshot()
		if len(conns) > 0 {
			atHangup = decodeLive(conns[0].Msgs)
		}
	})
	// The stream ends after the call: the stop event, then the close
	// handshake (1000).
	var conns []liveConn
	err := consumer.await(ctx, 10*time.Second, func(_ int, cs []liveConn) bool {
		conns = cs
		return len(cs) > 0 && cs[0].Ended
	})
	if err != nil {
		msgs := 0
		if len(conns) > 0 {
			msgs = len(conns[0].Msgs)
		}
		t.Fatalf("the live stream did not end within 10 s of the call: %d connections, %d messages on the first", len(conns), msgs)
	}
	requests, conns := consumer.snapshot()
	if requests != 1 || len(conns) != 1 {
		t.Fatalf("the consumer got %d requests and %d WebSocket connections for one recorded call, want 1 and 1", requests, len(conns))
	}
	lc := conns[0]
	if got := lc.Header.Get("X-Switchboard-Call-Id"); got != talk.Call.ID {
		t.Errorf("handshake X-Switchboard-Call-Id %q, want the call's id %q", got, talk.Call.ID)
	}
	if got := lc.Header.Get("User-Agent"); got != "switchboard-livestream" {
		t.Errorf("handshake User-Agent %q, want switchboard-livestream", got)
	}
	if lc.URL.Path != "/live" || lc.URL.Query().Get("token") != liveToken {
		t.Errorf("handshake request %s, want path /live with the configured query token", lc.URL)
	}
	var ce *websocket.CloseError
	if !errors.As(lc.End, &ce) || ce.Code != websocket.CloseNormalClosure {
		t.Errorf("the stream ended with %v, want the gateway's close frame 1000 (normal closure)", lc.End)
	}

	s := decodeLive(lc.Msgs)
	for _, p := range s.Problems {
		t.Errorf("stream: %s", p)
	}
	if s.Start == nil {
		t.Fatalf("no start event among %d messages", len(lc.Msgs))
	}
	st := *s.Start
	t.Logf("start event %s after the answer: %+v", s.StartAt.Sub(talk.AnsweredAt).Round(time.Millisecond), st)
	if _, err := uuid.Parse(st.StreamID); err != nil {
		t.Errorf("start stream_id %q is not a UUID: %v", st.StreamID, err)
	}
	if st.CallID != talk.Call.ID || st.Number != ourNumber || st.Caller != talk.Call.Caller ||
		st.Callee != talk.Call.Callee || st.Direction != "inbound" {
		t.Errorf("start event call_id %q number %q caller %q callee %q direction %q, want %q %q %q %q inbound (the call record)",
			st.CallID, st.Number, st.Caller, st.Callee, st.Direction, talk.Call.ID, ourNumber, talk.Call.Caller, talk.Call.Callee)
	}
	if f := st.MediaFormat; f.Encoding != "audio/x-mulaw" || f.SampleRate != 8000 || f.FrameMS != 20 {
		t.Errorf("start media_format %+v, want audio/x-mulaw 8000 Hz 20 ms", f)
	}
	if ch := st.Channels; len(ch) != 2 || ch[0].Index != 0 || ch[0].Role != "caller" || ch[1].Index != 1 || ch[1].Role != "answering" {
		t.Errorf("start channels %+v, want [{0 caller} {1 answering}]", ch)
	}
	// docs/livestream.md: started_at is when the call started (not when
	// the stream started), RFC 3339 in UTC with milliseconds.
	if !startedAtLayout.MatchString(st.StartedAt) {
		t.Errorf("start started_at %q, want RFC 3339 UTC with milliseconds (2025-03-04T10:06:07.890Z)", st.StartedAt)
	} else if at, err := time.Parse(time.RFC3339Nano, st.StartedAt); err != nil {
		t.Errorf("start started_at %q: %v", st.StartedAt, err)
	} else if d := at.Sub(talk.Call.StartedAt); d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("start started_at %s, the call record's started_at %s: %s apart, want the call's start (to the ms), not the stream's",
			st.StartedAt, talk.Call.StartedAt.UTC().Format(time.RFC3339Nano), d.Round(time.Millisecond))
	}

	// Stop: after the call ended, counting exactly what arrived.
	if s.Stop == nil {
		t.Fatalf("no stop event; %d media events", s.Media)
	}
	t.Logf("stop event %s after the BYE was sent: %+v", s.StopAt.Sub(talk.HangupAt).Round(time.Millisecond), *s.Stop)
	if !s.StopAt.After(talk.HangupAt) {
		t.Errorf("stop event arrived %s before the caller hung up", talk.HangupAt.Sub(s.StopAt))
	}
	if s.Stop.Reason != "hangup" || s.Stop.FramesSent != uint64(s.Media) || s.Stop.FramesDropped != 0 {
		t.Errorf("stop event %+v, want reason hangup, frames_sent %d (the media events received), frames_dropped 0", *s.Stop, s.Media)
	}

	// The audio: both tones, frame by frame, and no consent.
	ch0, ch1 := s.Channels[0], s.Channels[1]
	if len(ch0) != len(ch1) {
		t.Fatalf("channel 0 got %d frames, channel 1 %d: every step has both", len(ch0)/frameSamples, len(ch1)/frameSamples)
	}
	streamed := samplesDuration(len(ch0))
	recLive := len(talk.Audio.Left) - talk.Consent
	t.Logf("streamed %s (%d steps); recording %s with consent %s, live part %s",
		streamed, len(ch0)/frameSamples, samplesDuration(len(talk.Audio.Left)), samplesDuration(talk.Consent), samplesDuration(recLive))
	const edge = 2 * frameSamples
	if len(ch0) < 50*frameSamples+2*edge {
		t.Fatalf("streamed only %s of audio", streamed)
	}
	checkToneFrames(t, "stream channel 0 (caller)", ch0[edge:len(ch0)-edge], recCallerFreq, recCallerLevel, recCalleeFreq, 2)
	checkToneFrames(t, "stream channel 1 (answering)", ch1[edge:len(ch1)-edge], recCalleeFreq, recCalleeLevel, recCallerFreq, 2)
	// The consent is not streamed: no speech on channel 1 (the edge
	// frames, where the tone starts and stops mid-frame, aside).
	if n := countFrames(sampleFrames(ch1[edge:len(ch1)-edge]), audioFrame.speech); n > 0 {
		t.Errorf("stream channel 1 holds %d frames of speech: the consent is not to be streamed", n)
	}
	if d := samplesDuration(len(ch0) - recLive); d < -60*time.Millisecond || d > 60*time.Millisecond {
		t.Errorf("streamed %s, the recording's live part (after the consent) lasts %s: %s off, want within 60 ms",
			streamed, samplesDuration(recLive), d)
	}
	// Sample for sample, the stream is the recording after its prelude
	// (the last frame padded with silence): find where it starts.
	checkStreamIsRecording(t, s.Channels, talk.Audio, talk.Consent)

	// Live, not at the end: by the hangup the consumer had nearly all of
	// it (the recorder hands over ~100 ms at a time behind a 60 ms jitter
	// window).
	covered := atHangup.coveredAt(talk.HangupAt)
	t.Logf("by the hangup the consumer had %s of the %s streamed", covered, streamed)
	if covered < streamed-500*time.Millisecond {
		t.Errorf("by the hangup the consumer had received %s of the stream, which ended up %s long: not live", covered, streamed)
	}

	m := checkLiveMetrics(t, g, "complete")
	if v := m.get("switchboard_livestream_dropped_frames_total", nil); v != 0 {
		t.Errorf("switchboard_livestream_dropped_frames_total = %v, want 0", v)
	}
	if lines := g.logLines("live stream consumer dropped"); len(lines) > 0 {
		t.Errorf("the gateway dropped a healthy consumer: %v", lines)
	}
	checkNoTokenLogged(t, g)
	if requests, conns := consumer.snapshot(); requests != 1 || len(conns) != 1 {
		t.Errorf("after the call the consumer has %d requests, %d connections: want 1 (no reconnect)", requests, len(conns))
	}
}

// checkStreamIsRecording asserts that the streamed channels are exactly
// the recording's samples from some offset within 60 ms of consent (the
// prelude's end), up to a last frame padded with silence.
func checkStreamIsRecording(t *testing.T, ch [2][]int16, a stereoAudio, consent int) {
	t.Helper()
	const window = 480 // 60 ms
	n := len(ch[0])
	matches := func(p int) bool {
		m := min(n, len(a.Left)-p)
		if m < n-frameSamples+1 {
			return false // more than the last frame beyond the recording
		}
		for i := range m {
			if ch[0][i] != a.Left[p+i] || ch[1][i] != a.Right[p+i] {
				return false
			}
		}
		for i := m; i < n; i++ {
			if ch[0][i] != 0 || ch[1][i] != 0 {
				return false // padding is µ-law silence
			}
		}
		return true
	}
	for p := max(0, consent-window); p <= consent+window && p < len(a.Left); p++ {
		if matches(p) {
			t.Logf("the stream is the recording from %s on (consent part measured %s)", samplesDuration(p), samplesDuration(consent))
			return
		}
	}
	// Show how far the closest alignment agrees.
	best, bestAt := -1, 0
	for p := max(0, consent-window); p <= consent+window && p < len(a.Left); p++ {
		k := 0
		for k < n && p+k < len(a.Left) && ch[0][k] == a.Left[p+k] && ch[1][k] == a.Right[p+k] {
			k++
		}
		if k > best {
			best, bestAt = k, p
		}
	}
	t.Errorf("the streamed audio (%s) is not the recording's live part: the best alignment, at %s (consent part %s), agrees for the first %s only",
		samplesDuration(n), samplesDuration(bestAt), samplesDuration(consent), samplesDuration(best))
}

// TestLiveStreamConsumerDownCallUnaffected: the consumer cannot be reached
// (nothing listens on the port) or refuses the handshake (503). The call
// connects, audio flows both ways, the recording is complete with both
// tones; the stream is counted failed, every frame of it dropped, one
// warning is logged (without the URL's token), and there is no retry.
func TestLiveStreamConsumerDownCallUnaffected(t *testing.T) {
	requireTools(t, "espeak-ng")
	cases := []struct {
		name string
		// consumer returns the stream URL and, if there is a server, it.
		consumer func(t *testing.T) (string, *liveConsumer)
		logged   string // in the warning
	}{
		{
			name: "nothing listening",
			consumer: func(t *testing.T) (string, *liveConsumer) {
				return "ws://127.0.0.1:" + strconv.Itoa(freePort(t)) + "/live?token=" + liveToken, nil
			},
			logged: "refused",
		},
		{
			name: "handshake refused 503",
			consumer: func(t *testing.T) (string, *liveConsumer) {
				c := newLiveConsumer(t, liveRefuse)
				return c.url(), c
			},
			logged: "503",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			streamURL, consumer := tc.consumer(t)
			callee := newToneCallee(t, media.PayloadPCMU, recCalleeFreq, recCalleeLevel)
			g := liveGateway(t, callee, streamURL)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			talk := talkRecorded(ctx, t, g, callee, 2*time.Second, nil)

			m := checkLiveMetrics(t, g, "failed")
			// Every 20 ms step of the recording's live part, both
			// channels, was dropped (the last one padded).
			steps := (len(talk.Audio.Left) - talk.Consent + frameSamples - 1) / frameSamples
			dropped := m.get("switchboard_livestream_dropped_frames_total", nil)
			t.Logf("dropped frames %v; the recording's live part is %d steps", dropped, steps)
			if d := dropped/2 - float64(steps); d < -3 || d > 3 {
				t.Errorf("switchboard_livestream_dropped_frames_total = %v, want about 2 × %d (every frame of the live part, both channels)", dropped, steps)
			}
			lines := g.logLines("live stream consumer dropped")
			if len(lines) != 1 {
				t.Errorf("the gateway logged %d warnings about the consumer, want 1: %v", len(lines), lines)
			} else if !strings.Contains(lines[0], tc.logged) || !strings.Contains(lines[0], talk.Call.ID) {
				t.Errorf("the warning does not say %q and name call %s: %s", tc.logged, talk.Call.ID, lines[0])
			}
			checkNoTokenLogged(t, g)
			if consumer != nil {
				if requests, conns := consumer.snapshot(); requests != 1 || len(conns) != 0 {
					t.Errorf("the refusing consumer got %d requests (%d connections), want exactly 1 (no reconnect)", requests, len(conns))
				}
			}
		})
	}
}

// TestLiveStreamConsumerStalledCallUnaffected: the consumer accepts the
// WebSocket and then never reads. Once the TCP buffers are full the
// gateway's writes block; after the write timeout (2 s) it drops the
// stream, logging that the consumer stalled, while the call goes on:
// audio flows both ways without a gap and the recording is complete with
// both tones throughout. The stream counts as incomplete with frames
// dropped; what the consumer finally reads is the start event and media
// from seq 0 without a gap, and no stop event.
func TestLiveStreamConsumerStalledCallUnaffected(t *testing.T) {
	requireTools(t, "espeak-ng")
	consumer := newLiveConsumer(t, liveStall)
	callee := newToneCallee(t, media.PayloadPCMU, recCalleeFreq, recCalleeLevel)
	g := liveGateway(t, callee, consumer.url())
	ctx, cancel := context.WithTimeout(context.Background(), 28*time.Second)
	defer cancel()

	var stalledAt time.Time
	talk := talkRecorded(ctx, t, g, callee, 2*time.Second, func(_ string, peer *voicePeer) {
		// Talk on until the gateway gave up on the consumer: the stall
		// happens in the middle of the call.
		err := waitFor(ctx, 12*time.Second, func() bool {
			return len(g.logLines("live stream consumer dropped")) > 0
		})
		if err != nil {
			_, conns := consumer.snapshot()
			t.Fatalf("the gateway did not drop the stalled consumer within 12 s (%d connections)", len(conns))
		}
		stalledAt = time.Now()
		// And a second more of the call after it.
		err = peer.awaitFrames(ctx, func(fs []audioFrame) bool {
			n := 0
			for _, f := range fs {
				if f.At.After(stalledAt) && f.tone(recCalleeFreq, 20) {
					n++
				}
			}
			return n >= 50
		})
		if err != nil {
			t.Fatalf("the callee's tone stopped reaching the caller once the consumer was dropped: %v", err)
		}
	})
	t.Logf("consumer dropped %s after the answer; the call went on %s more",
		stalledAt.Sub(talk.AnsweredAt).Round(time.Millisecond), talk.HangupAt.Sub(stalledAt).Round(time.Millisecond))
	lines := g.logLines("live stream consumer dropped")
	if len(lines) != 1 || !strings.Contains(lines[0], "stalled") {
		t.Errorf("want one warning that the consumer stalled, got %d: %v", len(lines), lines)
	}

	// The caller heard the callee all along, with no gap in the packets.
	var gaps []string
	tone := 0
	for i, f := range talk.Heard {
		if f.tone(recCalleeFreq, 20) {
			tone++
		}
		if i > 0 {
			if d := f.At.Sub(talk.Heard[i-1].At); d > 100*time.Millisecond {
				gaps = append(gaps, fmt.Sprintf("%s at %s", d.Round(time.Millisecond), f.At.Sub(talk.AnsweredAt).Round(time.Millisecond)))
			}
		}
	}
	t.Logf("the caller heard %d frames (%d of the callee's tone) from the answer to the hangup", len(talk.Heard), tone)
	if len(gaps) > 0 {
		t.Errorf("the caller's audio paused while the consumer stalled: %v", gaps)
	}
	if bad := len(talk.Heard) - tone; bad > 2 {
		t.Errorf("%d of the %d frames the caller heard are not the callee's tone", bad, len(talk.Heard))
	}

	m := checkLiveMetrics(t, g, "incomplete")
	if v := m.get("switchboard_livestream_dropped_frames_total", nil); v <= 0 {
		t.Errorf("switchboard_livestream_dropped_frames_total = %v, want > 0 for a stream cut off mid-call", v)
	}
	checkNoTokenLogged(t, g)

	// Let the consumer read what reached it: the beginning of the stream,
	// in order, cut off without a stop event.
	consumer.resume()
	var conns []liveConn
	if err := consumer.await(ctx, 5*time.Second, func(_ int, cs []liveConn) bool {
		conns = cs
		return len(cs) == 1 && cs[0].Ended
	}); err != nil {
		t.Fatalf("the stalled connection did not end after the consumer read on: %d connections", len(conns))
	}
	if requests, _ := consumer.snapshot(); requests != 1 {
		t.Errorf("the consumer got %d requests, want 1 (no reconnect)", requests)
	}
	s := decodeLive(conns[0].Msgs)
	t.Logf("the stalled consumer read %d messages (%d media, last seq %d), then %v", len(conns[0].Msgs), s.Media, s.LastSeq, conns[0].End)
	for _, p := range s.Problems {
		t.Errorf("stalled stream: %s", p)
	}
	// Cut off mid-step at worst: a channel 0 frame whose channel 1
	// frame could not be written.
	if d := len(s.Channels[0]) - len(s.Channels[1]); d != 0 && d != frameSamples {
		t.Errorf("the stalled consumer got %d frames of channel 0 and %d of channel 1", len(s.Channels[0])/frameSamples, len(s.Channels[1])/frameSamples)
	}
	if s.Start == nil || s.Media == 0 {
		t.Errorf("the stalled consumer got no start event or no media (%d messages)", len(conns[0].Msgs))
	}
	if s.Stop != nil {
		t.Errorf("stop event %+v on a stream the gateway dropped, want none", *s.Stop)
	}
	if steps := (len(talk.Audio.Left) - talk.Consent) / frameSamples; s.LastSeq >= int64(steps)-1 {
		t.Errorf("the stalled consumer got frames up to seq %d, the call's %d steps: the stall did not cut the stream", s.LastSeq, steps)
	}
	var ce *websocket.CloseError
	if errors.As(conns[0].End, &ce) && ce.Code == websocket.CloseNormalClosure {
		t.Errorf("the dropped stream ended with a normal close (1000), as a complete one would")
	}
}
