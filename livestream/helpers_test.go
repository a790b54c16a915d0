package livestream

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"switchboard/internal/testaudio"
)

// guard bounds every wait in these tests: it is how long to wait for an
// event that should come at once before failing, never a synchronisation.
const guard = 10 * time.Second

var upgrader = websocket.Upgrader{}

// consumer is a test WebSocket consumer that records every text message it
// reads until the connection ends.
type consumer struct {
	srv *httptest.Server
	url string

	header  chan http.Header // the handshake's headers, once
	arrived chan struct{}    // closed when the handshake request arrived
	release chan struct{}    // the handler waits for it before upgrading
	pong    chan struct{}    // closed when the client answered the ping
	done    chan struct{}    // closed when the handler has ended
	each    chan struct{}    // one token per message received

	mu        sync.Mutex
	msgs      [][]byte
	closeCode int // the close code the client sent, if any
}

// consumerOptions changes what a consumer does.
type consumerOptions struct {
	tls     bool
	hold    bool                       // wait for release before upgrading
	ping    bool                       // ping the client after the upgrade
	afterUp func(conn *websocket.Conn) // runs after the upgrade instead of reading
	status  int                        // answer the handshake with this status instead
}

func newConsumer(t *testing.T, opt consumerOptions) *consumer {
	t.Helper()
	c := &consumer{
		header:  make(chan http.Header, 1),
		arrived: make(chan struct{}),
		release: make(chan struct{}),
		pong:    make(chan struct{}),
		done:    make(chan struct{}),
		each:    make(chan struct{}, 1<<16),
	}
	var once sync.Once
	handler := func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() {
			c.header <- r.Header.Clone()
			close(c.arrived)
		})
		defer close(c.done)
		if opt.status != 0 {
			http.Error(w, "no", opt.status)
			return
		}
		if opt.hold {
			<-c.release
		}
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			// The client gave up (a test that stops while dialing).
			t.Logf("upgrade: %v", err)
			return
		}
		defer conn.Close()
		if opt.afterUp != nil {
			opt.afterUp(conn)
			return
		}
		if opt.ping {
			var pongOnce sync.Once
			conn.SetPongHandler(func(string) error {
				pongOnce.Do(func() { close(c.pong) })
				return nil
			})
			if err := conn.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(guard)); err != nil {
				t.Errorf("ping: %v", err)
			}
		}
		for {
			typ, data, err := conn.ReadMessage()
			if err != nil {
				if ce, ok := err.(*websocket.CloseError); ok {
					c.mu.Lock()
					c.closeCode = ce.Code
					c.mu.Unlock()
				}
				return
			}
			if typ != websocket.TextMessage {
				t.Errorf("message type %d, want text", typ)
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, data)
			c.mu.Unlock()
			c.each <- struct{}{}
		}
	}
	c.srv = httptest.NewUnstartedServer(http.HandlerFunc(handler))
	// A client refusing the test certificate is a test case, not news.
	c.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if opt.tls {
		c.srv.StartTLS()
		c.url = "wss://" + c.srv.Listener.Addr().String() + "/stream?token=secret"
	} else {
		c.srv.Start()
		c.url = "ws://" + c.srv.Listener.Addr().String() + "/stream?token=secret"
	}
	t.Cleanup(func() {
		select {
		case <-c.release:
		default:
			close(c.release)
		}
		c.srv.CloseClientConnections()
		c.srv.Close()
	})
	return c
}

// wait waits for ch to be closed, failing the test after guard.
func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(guard):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// waitMessages waits until the consumer has received n messages in all.
func (c *consumer) waitMessages(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-c.each:
		case <-time.After(guard):
			t.Fatalf("timed out waiting for message %d of %d", i+1, n)
		}
	}
}

// messages returns what the consumer received, once its handler has ended.
func (c *consumer) messages(t *testing.T) [][]byte {
	t.Helper()
	wait(t, c.done, "the consumer to see the end of the stream")
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.msgs
}

// received is a stream as the consumer decoded it.
type received struct {
	start StartEvent
	media [2][]MediaEvent
	stop  *StopEvent
}

// decode checks the order of msgs (start, media with channel 0 then 1 of
// each step, stop last) and decodes them.
func decode(t *testing.T, msgs [][]byte) received {
	t.Helper()
	var r received
	if len(msgs) == 0 {
		t.Fatal("no messages")
	}
	if err := json.Unmarshal(msgs[0], &r.start); err != nil || r.start.Event != EventStart {
		t.Fatalf("first message %s (%v), want the start event", msgs[0], err)
	}
	for i, m := range msgs[1:] {
		var ev struct {
			Event string `json:"event"`
		}
		if err := json.Unmarshal(m, &ev); err != nil {
			t.Fatalf("message %d: %v: %s", i+1, err, m)
		}
		switch ev.Event {
		case EventMedia:
			if r.stop != nil {
				t.Fatalf("media after the stop event: %s", m)
			}
			var me MediaEvent
			if err := json.Unmarshal(m, &me); err != nil {
				t.Fatalf("media %d: %v", i+1, err)
			}
			if me.Channel != 0 && me.Channel != 1 {
				t.Fatalf("media on channel %d", me.Channel)
			}
			// Channel 0 then 1 of each step.
			if want := len(r.media[0]) != len(r.media[1]); (me.Channel == 1) != want {
				t.Fatalf("media %d on channel %d out of order (%d, %d frames so far)",
					i+1, me.Channel, len(r.media[0]), len(r.media[1]))
			}
			r.media[me.Channel] = append(r.media[me.Channel], me)
		case EventStop:
			if r.stop != nil {
				t.Fatalf("second stop event: %s", m)
			}
			r.stop = new(StopEvent)
			if err := json.Unmarshal(m, r.stop); err != nil {
				t.Fatalf("stop: %v", err)
			}
		default:
			t.Fatalf("message %d: unexpected event %q", i+1, ev.Event)
		}
	}
	return r
}

// tones returns n interleaved stereo frames: a 440 Hz tone on channel 0 and a
// 1 kHz tone on channel 1, both at -6 dBFS.
func tones(n int) []int16 {
	a := testaudio.Sine(440, SampleRate, n, testaudio.AmplitudeForDBFS(-6), nil)
	b := testaudio.Sine(1000, SampleRate, n, testaudio.AmplitudeForDBFS(-6), nil)
	out := make([]int16, 2*n)
	for i := range n {
		out[2*i], out[2*i+1] = a[i], b[i]
	}
	return out
}

// feed gives audio to s in blocks of block frames.
func feed(s *Stream, audio []int16, block int) {
	for off := 0; off < len(audio); off += 2 * block {
		s.Audio(audio[off:min(len(audio), off+2*block)])
	}
}

// logRecorder is a slog handler that keeps the records logged, as text.
type logRecorder struct {
	store *logStore
	attrs []slog.Attr
}

type logStore struct {
	mu    sync.Mutex
	lines []logLine
}

type logLine struct {
	level slog.Level
	text  string
}

func newLogRecorder() *logRecorder { return &logRecorder{store: &logStore{}} }

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	for _, a := range h.attrs {
		b.WriteString(" " + a.String())
	}
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	h.store.mu.Lock()
	defer h.store.mu.Unlock()
	h.store.lines = append(h.store.lines, logLine{r.Level, b.String()})
	return nil
}

func (h *logRecorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logRecorder{store: h.store, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

func (h *logRecorder) WithGroup(string) slog.Handler { return h }

// warnings returns the lines logged at warn or above.
func (h *logRecorder) warnings() []string {
	h.store.mu.Lock()
	defer h.store.mu.Unlock()
	var out []string
	for _, l := range h.store.lines {
		if l.level >= slog.LevelWarn {
			out = append(out, l.text)
		}
	}
	return out
}

// callInfo is the call the tests stream.
var callInfo = CallInfo{
	CallID:    "call-42",
	Number:    "+4930123456",
	Caller:    "+491701234567",
	Callee:    "alice",
	Direction: "inbound",
	StartedAt: time.Date(2025, 3, 4, 5, 6, 7, 890e6, time.FixedZone("CET", 3600)),
}
