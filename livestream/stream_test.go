package livestream

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"math"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"switchboard/internal/testaudio"
	"switchboard/media"
)

// startStream starts a stream to url with cfg's other fields, logging to a
// recorder, and stops it at cleanup.
func startStream(t *testing.T, ctx context.Context, cfg Config) (*Stream, *logRecorder) {
	t.Helper()
	logs := newLogRecorder()
	cfg.Logger = slog.New(logs)
	s, err := Start(ctx, cfg, callInfo)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Stop("cleanup") })
	return s, logs
}

// linear decodes a channel's frames back to 16-bit samples.
func linear(frames []MediaEvent) []int16 {
	var out []int16
	for _, f := range frames {
		for _, u := range f.Payload {
			out = append(out, media.ULawToLinear[u])
		}
	}
	return out
}

// checkSeq checks that frames carry seq from..from+len-1 and the matching
// timestamps, each with a full payload.
func checkSeq(t *testing.T, ch int, frames []MediaEvent, from uint64) {
	t.Helper()
	for i, f := range frames {
		seq := from + uint64(i)
		if f.Seq != seq || f.TimestampMS != seq*FrameMS || len(f.Payload) != FrameSamples {
			t.Fatalf("channel %d frame %d: seq %d timestamp_ms %d payload %d bytes, want seq %d timestamp_ms %d payload %d",
				ch, i, f.Seq, f.TimestampMS, len(f.Payload), seq, seq*FrameMS, FrameSamples)
		}
	}
}

func TestStreamDeliversCall(t *testing.T) {
	for _, secure := range []bool{false, true} {
		name := "ws"
		if secure {
			name = "wss"
		}
		t.Run(name, func(t *testing.T) {
			c := newConsumer(t, consumerOptions{tls: secure, ping: true})
			cfg := Config{URL: c.url}
			if secure {
				cfg.TLSConfig = c.srv.Client().Transport.(*http.Transport).TLSClientConfig
			}
			s, logs := startStream(t, context.Background(), cfg)

			// 1 s and 10 ms of audio in blocks that do not divide
			// into frames: 50 full frames and a half one.
			const total = SampleRate + FrameSamples/2
			feed(s, tones(total), 1000)
			wait(t, c.pong, "the client to answer the consumer's ping")
			st := s.Stop("hangup")

			const frames = 51
			if st.FramesSent != 2*frames || st.FramesDropped != 0 || !st.Connected || st.Err != nil {
				t.Fatalf("stats %+v, want %d sent, none dropped, connected, no error", st, 2*frames)
			}
			if again := s.Stop("again"); again != st {
				t.Fatalf("second Stop = %+v, want %+v", again, st)
			}
			if h := <-c.header; h.Get("X-Switchboard-Call-Id") != callInfo.CallID {
				t.Fatalf("X-Switchboard-Call-Id = %q, want %q", h.Get("X-Switchboard-Call-Id"), callInfo.CallID)
			}
			r := decode(t, c.messages(t))

			want := StartEvent{
				Event: EventStart, StreamID: s.ID(), CallID: "call-42", Number: "+4930123456",
				Caller: "+491701234567", Callee: "alice", Direction: "inbound",
				StartedAt:   "2025-03-04T04:06:07.890Z",
				MediaFormat: MediaFormat{Encoding: "audio/x-mulaw", SampleRate: 8000, FrameMS: 20},
			}
			want.Channels = []ChannelInfo{{0, "caller"}, {1, "answering"}}
			if !reflect.DeepEqual(r.start, want) {
				t.Fatalf("start event %+v\nwant %+v", r.start, want)
			}
			if s.ID() == "" {
				t.Fatal("empty stream ID")
			}

			for ch := range 2 {
				if len(r.media[ch]) != frames {
					t.Fatalf("channel %d: %d frames, want %d", ch, len(r.media[ch]), frames)
				}
				checkSeq(t, ch, r.media[ch], 0)
			}
			// The tones come through µ-law: each channel has its own.
			for ch, tone := range []struct{ want, other float64 }{{440, 1000}, {1000, 440}} {
				pcm := linear(r.media[ch])
				if lvl := testaudio.ToneLevelDBFS(pcm[:SampleRate], SampleRate, tone.want); math.Abs(lvl+6) > 0.5 {
					t.Errorf("channel %d: %v Hz at %.2f dBFS, want -6", ch, tone.want, lvl)
				}
				if lvl := testaudio.ToneLevelDBFS(pcm[:SampleRate], SampleRate, tone.other); lvl > -40 {
					t.Errorf("channel %d: %v Hz at %.2f dBFS, want below -40", ch, tone.other, lvl)
				}
				// The last frame is the half frame, padded with silence.
				last := pcm[SampleRate:]
				if testaudio.RMSDBFS(last[:FrameSamples/2]) < -20 {
					t.Errorf("channel %d: the half frame's audio is missing", ch)
				}
				for i, v := range last[FrameSamples/2:] {
					if v != 0 {
						t.Fatalf("channel %d: padding sample %d = %d, want silence", ch, i, v)
					}
				}
			}
			if r.stop == nil || *r.stop != (StopEvent{Event: EventStop, Reason: "hangup", FramesSent: 2 * frames}) {
				t.Fatalf("stop event %+v, want reason hangup, %d sent, 0 dropped", r.stop, 2*frames)
			}
			c.mu.Lock()
			code := c.closeCode
			c.mu.Unlock()
			if code != websocket.CloseNormalClosure {
				t.Fatalf("close code %d, want %d", code, websocket.CloseNormalClosure)
			}
			if w := logs.warnings(); len(w) != 0 {
				t.Fatalf("warnings logged: %q", w)
			}
		})
	}
}

func TestAudioQueuedBeforeConnect(t *testing.T) {
	tests := []struct {
		name        string
		steps       int // 20 ms steps fed before the consumer accepts
		queue       int
		wantSent    int // steps delivered
		wantDropped int // steps dropped
	}{
		{"fits the queue", 50, 0, 50, 0},
		{"overflows the queue", 30, 20, 20, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConsumer(t, consumerOptions{hold: true})
			s, _ := startStream(t, context.Background(), Config{URL: c.url, QueueFrames: tt.queue})
			wait(t, c.arrived, "the handshake request")
			feed(s, tones(tt.steps*FrameSamples), 1024)
			if s.connected.Load() {
				t.Fatal("connected before the consumer accepted")
			}
			close(c.release)
			// Stop while still connecting would cancel the dial:
			// wait until the queued frames are through.
			c.waitMessages(t, 1+2*tt.wantSent)
			st := s.Stop("hangup")
			if st.FramesSent != uint64(2*tt.wantSent) || st.FramesDropped != uint64(2*tt.wantDropped) || st.Err != nil {
				t.Fatalf("stats %+v, want %d sent, %d dropped", st, 2*tt.wantSent, 2*tt.wantDropped)
			}
			r := decode(t, c.messages(t))
			for ch := range 2 {
				if len(r.media[ch]) != tt.wantSent {
					t.Fatalf("channel %d: %d frames, want %d", ch, len(r.media[ch]), tt.wantSent)
				}
				// The queue keeps the oldest audio: the frames that
				// came first, from seq 0.
				checkSeq(t, ch, r.media[ch], 0)
			}
			if r.stop == nil || r.stop.FramesSent != st.FramesSent || r.stop.FramesDropped != st.FramesDropped {
				t.Fatalf("stop event %+v, want the counts of %+v", r.stop, st)
			}
		})
	}
}

func TestStreamGapShowsDrops(t *testing.T) {
	// A consumer that accepts, then lets frames through only after the
	// queue overflowed: the dropped frames are a gap in seq.
	c := newConsumer(t, consumerOptions{hold: true})
	s, _ := startStream(t, context.Background(), Config{URL: c.url, QueueFrames: 5})
	wait(t, c.arrived, "the handshake request")
	feed(s, tones(8*FrameSamples), 1024) // 5 queued, 3 dropped
	close(c.release)
	// Once the consumer has the queued frames (the start event and 5
	// steps), the queue has room again and the next frames go through.
	c.waitMessages(t, 1+2*5)
	feed(s, tones(2*FrameSamples), 1024)
	st := s.Stop("hangup")
	if st.FramesSent != 2*7 || st.FramesDropped != 2*3 {
		t.Fatalf("stats %+v, want 14 sent, 6 dropped", st)
	}
	r := decode(t, c.messages(t))
	for ch := range 2 {
		var seqs []uint64
		for _, f := range r.media[ch] {
			seqs = append(seqs, f.Seq)
		}
		if want := []uint64{0, 1, 2, 3, 4, 8, 9}; !slices.Equal(seqs, want) {
			t.Fatalf("channel %d seqs %v, want %v", ch, seqs, want)
		}
	}
}

func TestConnectFailure(t *testing.T) {
	closedPort := func(t *testing.T) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "ws://" + addr + "/stream"
	}
	tests := []struct {
		name  string
		url   func(t *testing.T) string
		tls   bool // a wss URL without the test server's roots
		check func(t *testing.T, err error)
	}{
		{"connection refused", closedPort, false, func(t *testing.T, err error) {
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("err = %v, want connection refused", err)
			}
		}},
		{"HTTP 403", func(t *testing.T) string {
			return newConsumer(t, consumerOptions{status: http.StatusForbidden}).url
		}, false, func(t *testing.T, err error) {
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "403") {
				t.Fatalf("err = %v, want ErrRefused with 403", err)
			}
		}},
		{"HTTP 503", func(t *testing.T) string {
			return newConsumer(t, consumerOptions{status: http.StatusServiceUnavailable}).url
		}, false, func(t *testing.T, err error) {
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "503") {
				t.Fatalf("err = %v, want ErrRefused with 503", err)
			}
		}},
		{"untrusted certificate", func(t *testing.T) string {
			return newConsumer(t, consumerOptions{tls: true}).url
		}, true, func(t *testing.T, err error) {
			if !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("err = %v, want a certificate error", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, logs := startStream(t, context.Background(), Config{URL: tt.url(t)})
			wait(t, s.done, "the stream to give up")
			// Audio keeps returning after the failure, and counts.
			block := tones(1024)
			const calls = 1000
			for range calls {
				s.Audio(block)
			}
			st := s.Stop("hangup")
			tt.check(t, st.Err)
			if st.Connected || st.FramesSent != 0 {
				t.Fatalf("stats %+v, want never connected, nothing sent", st)
			}
			if want := uint64(2 * calls * 1024 / FrameSamples); st.FramesDropped != want {
				t.Fatalf("%d frames dropped, want %d", st.FramesDropped, want)
			}
			w := logs.warnings()
			if len(w) != 1 || !strings.Contains(w[0], "call_id=call-42") {
				t.Fatalf("warnings %q, want exactly one naming the call", w)
			}
			if strings.Contains(w[0], "secret") {
				t.Fatalf("warning leaks the URL's token: %q", w[0])
			}
		})
	}
}

func TestConsumerEndsStream(t *testing.T) {
	tests := []struct {
		name    string
		consume func(conn *websocket.Conn)
		want    string
	}{
		{"close frame", func(conn *websocket.Conn) {
			_, _, _ = conn.ReadMessage() // the start event
			msg := websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "enough")
			_ = conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(guard))
			_, _, _ = conn.ReadMessage() // the client's close answer
		}, "1008"},
		{"message over the limit", func(conn *websocket.Conn) {
			_ = conn.WriteMessage(websocket.TextMessage, []byte(`{"hello":1}`)) // discarded
			_ = conn.WriteMessage(websocket.BinaryMessage, make([]byte, MaxConsumerMessage+1))
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					return
				}
			}
		}, "over 65536 bytes"},
		{"connection dropped", func(conn *websocket.Conn) {
			_, _, _ = conn.ReadMessage()
			conn.NetConn().Close()
		}, "1006"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConsumer(t, consumerOptions{afterUp: tt.consume})
			s, logs := startStream(t, context.Background(), Config{URL: c.url})
			wait(t, s.done, "the stream to see the consumer go")
			for range 100 {
				s.Audio(tones(1024))
			}
			st := s.Stop("hangup")
			if !errors.Is(st.Err, ErrConsumerClosed) || !strings.Contains(st.Err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrConsumerClosed mentioning %q", st.Err, tt.want)
			}
			if !st.Connected || st.FramesDropped != 2*100*1024/FrameSamples {
				t.Fatalf("stats %+v, want connected and every frame dropped", st)
			}
			if w := logs.warnings(); len(w) != 1 {
				t.Fatalf("warnings %q, want exactly one", w)
			}
		})
	}
}

func TestStalledConsumer(t *testing.T) {
	// The consumer accepts and then never reads: the TCP window fills,
	// a write times out, and the consumer is dropped. Audio must keep
	// returning throughout, with a queue that never grows.
	held := make(chan struct{})
	c := newConsumer(t, consumerOptions{afterUp: func(*websocket.Conn) { <-held }})
	t.Cleanup(func() { close(held) }) // runs before the server's cleanup

	const queue = 8
	s, logs := startStream(t, context.Background(), Config{URL: c.url, QueueFrames: queue, WriteTimeout: 200 * time.Millisecond})
	block := tones(1024)
	calls := 0
feeding:
	for {
		s.Audio(block)
		calls++
		if n := s.tail.Load() - s.head.Load(); n > queue {
			t.Fatalf("%d frames queued, more than the %d allowed", n, queue)
		}
		select {
		case <-s.done:
			break feeding
		default:
		}
		if calls > 50_000_000 {
			t.Fatal("the stalled consumer was never dropped")
		}
	}
	for range 100 { // after the failure too
		s.Audio(block)
		calls++
	}
	st := s.Stop("hangup")
	if !errors.Is(st.Err, ErrConsumerStalled) {
		t.Fatalf("err = %v, want ErrConsumerStalled", st.Err)
	}
	if total := uint64(2 * ((calls*1024 + FrameSamples - 1) / FrameSamples)); st.FramesSent+st.FramesDropped != total || st.FramesDropped == 0 {
		t.Fatalf("stats %+v, want sent+dropped = %d with drops", st, total)
	}
	if len(s.slots) != queue {
		t.Fatalf("queue holds %d slots, want %d", len(s.slots), queue)
	}
	if w := logs.warnings(); len(w) != 1 {
		t.Fatalf("warnings %q, want exactly one", w)
	}
}

func TestStopCancelsDial(t *testing.T) {
	// The consumer takes the request and never answers; Stop must not
	// wait for the (hour-long) dial timeout.
	c := newConsumer(t, consumerOptions{hold: true})
	s, logs := startStream(t, context.Background(), Config{URL: c.url, DialTimeout: time.Hour})
	wait(t, c.arrived, "the handshake request")
	s.Audio(tones(1024))
	st := s.Stop("short call")
	if !errors.Is(st.Err, ErrStoppedBeforeConnect) || st.Connected || st.FramesSent != 0 {
		t.Fatalf("stats %+v, want ErrStoppedBeforeConnect, nothing sent", st)
	}
	if want := uint64(2 * 7); st.FramesDropped != want { // 1024 samples: 6 frames and a padded one
		t.Fatalf("%d frames dropped, want %d", st.FramesDropped, want)
	}
	if w := logs.warnings(); len(w) != 0 {
		t.Fatalf("a stop is no failure, yet warned %q", w)
	}
}

func TestContextCancelEndsStream(t *testing.T) {
	c := newConsumer(t, consumerOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	s, logs := startStream(t, ctx, Config{URL: c.url})
	feed(s, tones(10*FrameSamples), 1024)
	c.waitMessages(t, 1+2*10)
	cancel()
	wait(t, s.done, "the stream to end")
	st := s.Stop("hangup")
	if !errors.Is(st.Err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", st.Err)
	}
	r := decode(t, c.messages(t))
	if r.stop != nil || len(r.media[0]) != 10 {
		t.Fatalf("stop event %+v and %d frames after cancellation, want none and 10", r.stop, len(r.media[0]))
	}
	c.mu.Lock()
	code := c.closeCode
	c.mu.Unlock()
	if code != websocket.CloseGoingAway {
		t.Fatalf("close code %d, want %d (going away)", code, websocket.CloseGoingAway)
	}
	if w := logs.warnings(); len(w) != 0 {
		t.Fatalf("cancellation is no failure, yet warned %q", w)
	}
}

func TestStartConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no URL", Config{}, "empty"},
		{"http URL", Config{URL: "http://x/"}, "scheme"},
		{"negative dial timeout", Config{URL: "ws://x/", DialTimeout: -1}, "DialTimeout"},
		{"negative write timeout", Config{URL: "ws://x/", WriteTimeout: -1}, "WriteTimeout"},
		{"negative queue", Config{URL: "ws://x/", QueueFrames: -1}, "QueueFrames"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Start(context.Background(), tt.cfg, callInfo)
			if err == nil {
				s.Stop("")
				t.Fatal("Start accepted the config")
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrConfig naming %q", err, tt.want)
			}
		})
	}
}

func TestStartDefaults(t *testing.T) {
	s, err := newStream(context.Background(), Config{URL: "ws://127.0.0.1:1/", TLSConfig: &tls.Config{NextProtos: []string{"h2"}}}, callInfo)
	if err != nil {
		t.Fatal(err)
	}
	if s.dial != DefaultDialTimeout || s.writeWait != DefaultWriteTimeout || len(s.slots) != DefaultQueueFrames {
		t.Fatalf("defaults: dial %v write %v queue %d", s.dial, s.writeWait, len(s.slots))
	}
	if s.tlsConfig.NextProtos != nil {
		t.Fatalf("NextProtos %v kept: a WebSocket handshake is HTTP/1.1", s.tlsConfig.NextProtos)
	}
}

func TestAudioDoesNotAllocate(t *testing.T) {
	s, err := newStream(context.Background(), Config{URL: "ws://127.0.0.1:1/"}, callInfo)
	if err != nil {
		t.Fatal(err)
	}
	block := tones(1000)
	for name, consume := range map[string]bool{"queueing": true, "queue full": false} {
		allocs := testing.AllocsPerRun(200, func() {
			s.Audio(block)
			if consume {
				s.head.Store(s.tail.Load())
			}
		})
		if allocs != 0 {
			t.Errorf("%s: Audio allocates %v times per call", name, allocs)
		}
	}
}

// BenchmarkAudio measures Audio on 1024-frame blocks (the recorder's), with
// the queue emptied after each call as the sender would, and with the queue
// full (every frame dropped).
func BenchmarkAudio(b *testing.B) {
	for _, consume := range []bool{true, false} {
		name := "queueing"
		if !consume {
			name = "queue_full"
		}
		b.Run(name, func(b *testing.B) {
			s, err := newStream(context.Background(), Config{URL: "ws://127.0.0.1:1/"}, callInfo)
			if err != nil {
				b.Fatal(err)
			}
			block := tones(1024)
			b.SetBytes(int64(2 * len(block)))
			b.ReportAllocs()
			for b.Loop() {
				s.Audio(block)
				if consume {
					s.head.Store(s.tail.Load())
				}
			}
		})
	}
}
