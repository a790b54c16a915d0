package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"switchboard/call"
	"switchboard/media"
	"switchboard/store"
)

// waitTimeout bounds every wait for an event in these tests.
const waitTimeout = 5 * time.Second

var testUsers = []User{
	{ID: "alice", Name: "Alice Smith", Team: "sales", Token: "tok-alice"},
	{ID: "bob", Name: "Bob Jones", Team: "support", Token: "tok-bob"},
}

var testNumbers = []Number{
	{Number: "+15550100", Name: "Sales line", Owner: "alice"},
	{Number: "+15550101", Name: "Alice direct", Owner: "alice"},
	{Number: "+15550200", Name: "Support", Owner: "bob"},
}

// fakePeer is a test double of a negotiated WebRTC peer.
type fakePeer struct {
	dir    media.Direction
	remote string

	mu         sync.Mutex
	candidates []string
	onCand     func([]byte)

	closeOnce sync.Once
	closed    chan struct{} // Close was called
	doneOnce  sync.Once
	done      chan struct{} // the peer connection is dead
}

func newFakePeer(dir media.Direction) *fakePeer {
	return &fakePeer{dir: dir, remote: "127.0.0.1:50000", closed: make(chan struct{}), done: make(chan struct{})}
}

func (p *fakePeer) ReadRTP([]byte) (int, error) { <-p.closed; return 0, net.ErrClosed }
func (p *fakePeer) WriteRTP([]byte) error       { return nil }
func (p *fakePeer) Direction() media.Direction  { return p.dir }
func (p *fakePeer) RemoteAddr() string          { return p.remote }
func (p *fakePeer) Done() <-chan struct{}       { return p.done }

func (p *fakePeer) Close() error {
	p.closeOnce.Do(func() { close(p.closed) })
	p.die()
	return nil
}

// die simulates the peer connection failing (ICE failure).
func (p *fakePeer) die() { p.doneOnce.Do(func() { close(p.done) }) }

func (p *fakePeer) AddICECandidate(c []byte) error {
	if !json.Valid(c) {
		return errors.New("not JSON")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.candidates = append(p.candidates, string(c))
	return nil
}

func (p *fakePeer) OnLocalCandidate(f func([]byte)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onCand = f
}

// trickle delivers one of "our" candidates as the real peer would.
func (p *fakePeer) trickle(t *testing.T, cand string) {
	t.Helper()
	p.mu.Lock()
	f := p.onCand
	p.mu.Unlock()
	if f == nil {
		t.Fatal("no local candidate handler registered")
	}
	f([]byte(cand))
}

func (p *fakePeer) gotCandidates() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.candidates...)
}

func (p *fakePeer) isClosed() bool {
	select {
	case <-p.closed:
		return true
	default:
		return false
	}
}

// answerCall is one call of fakeAnswerer.Answer.
type answerCall struct {
	offer  string
	prefer media.Direction
	peer   *fakePeer
}

// fakeAnswerer negotiates instantly with a fakePeer speaking the preferred
// codec (PCMU with no preference). An offer "bad" fails with
// media.ErrBadOffer. While gate is set, Answer waits for it (or ctx).
type fakeAnswerer struct {
	gate    chan struct{}
	entered chan struct{} // receives when a gated Answer started waiting
	calls   chan answerCall
}

func newFakeAnswerer() *fakeAnswerer {
	return &fakeAnswerer{calls: make(chan answerCall, 16), entered: make(chan struct{}, 16)}
}

func (a *fakeAnswerer) Answer(ctx context.Context, offer string, prefer media.Direction) (Peer, string, error) {
	if a.gate != nil {
		a.entered <- struct{}{}
		select {
		case <-a.gate:
		case <-ctx.Done():
			return nil, "", fmt.Errorf("media: ICE gathering: %w", ctx.Err())
		}
	}
	if offer == "bad" {
		return nil, "", fmt.Errorf("%w: not SDP", media.ErrBadOffer)
	}
	dir := prefer
	if dir.PayloadType == 0 && dir.DTMFType == 0 {
		dir = media.Direction{PayloadType: media.PayloadPCMU, DTMFType: 101}
	}
	p := newFakePeer(dir)
	a.calls <- answerCall{offer: offer, prefer: prefer, peer: p}
	return p, "answer:" + offer, nil
}

// nextAnswer returns the next negotiation the answerer made.
func (a *fakeAnswerer) nextAnswer(t *testing.T) answerCall {
	t.Helper()
	select {
	case c := <-a.calls:
		return c
	case <-time.After(waitTimeout):
		t.Fatal("no media negotiation")
		return answerCall{}
	}
}

// rig is a Server behind a real HTTP listener on loopback.
type rig struct {
	srv *Server
	hts *httptest.Server
	url string
	ans *fakeAnswerer
}

func newRig(t *testing.T, tune func(*Config)) *rig {
	t.Helper()
	ans := newFakeAnswerer()
	r := newRigWith(t, ans, tune)
	r.ans = ans
	return r
}

// newRigWith is a rig whose media comes from answerer.
func newRigWith(t *testing.T, answerer MediaAnswerer, tune func(*Config)) *rig {
	t.Helper()
	cfg := Config{Users: testUsers, Numbers: testNumbers}
	if tune != nil {
		tune(&cfg)
	}
	srv := New(cfg, answerer, slog.New(slog.DiscardHandler))
	hts := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		hts.Close()
	})
	return &rig{srv: srv, hts: hts, url: "ws" + strings.TrimPrefix(hts.URL, "http")}
}

// msg is one server message as the client sees it.
type msg map[string]any

func (m msg) str(k string) string {
	s, _ := m[k].(string)
	return s
}

// client is a browser tab: a gorilla WebSocket client reading in the
// background (which also answers the server's pings, unless muted).
type client struct {
	t    *testing.T
	conn *websocket.Conn
	msgs chan msg
	err  error // why the read loop ended, valid once msgs is closed
	mute atomic.Bool
	wmu  sync.Mutex
}

func (r *rig) connect(t *testing.T, header http.Header) *client {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(r.url, header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (HTTP %d)", err, status)
	}
	c := &client{t: t, conn: conn, msgs: make(chan msg, 1024)}
	conn.SetPingHandler(func(data string) error {
		if c.mute.Load() {
			return nil // a tab whose network died answers nothing
		}
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	go func() {
		defer close(c.msgs)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				c.err = err
				return
			}
			var m msg
			if err := json.Unmarshal(data, &m); err != nil {
				c.err = fmt.Errorf("server sent invalid JSON %q: %w", data, err)
				return
			}
			c.msgs <- m
		}
	}()
	t.Cleanup(func() { _ = conn.Close() })
	return c
}

// signIn opens a tab and signs it in as the user of token.
func (r *rig) signIn(t *testing.T, token string) *client {
	t.Helper()
	c := r.connect(t, nil)
	c.sendJSON(map[string]any{"type": "auth", "token": token})
	c.expect("welcome")
	return c
}

// available opens a tab for token and sets the user available.
func (r *rig) available(t *testing.T, token string) *client {
	t.Helper()
	c := r.signIn(t, token)
	c.request(map[string]any{"type": "presence", "status": "available"}, "ok")
	c.expect("presence")
	return c
}

func (c *client) sendJSON(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(websocket.TextMessage, b)
}

func (c *client) sendRaw(typ int, b []byte) {
	c.t.Helper()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.conn.WriteMessage(typ, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next returns the next message from the server.
func (c *client) next() msg {
	c.t.Helper()
	select {
	case m, ok := <-c.msgs:
		if !ok {
			c.t.Fatalf("socket closed while waiting for a message: %v", c.err)
		}
		return m
	case <-time.After(waitTimeout):
		c.t.Fatal("timed out waiting for a message")
		return nil
	}
}

// expect returns the next message and fails unless it has type typ.
func (c *client) expect(typ string) msg {
	c.t.Helper()
	m := c.next()
	if m.str("type") != typ {
		c.t.Fatalf("got %v, want a %q message", m, typ)
	}
	return m
}

// expectError returns the next message and fails unless it is an error
// with code.
func (c *client) expectError(code string) msg {
	c.t.Helper()
	m := c.expect("error")
	if m.str("code") != code {
		c.t.Fatalf("got error %v, want code %q", m, code)
	}
	return m
}

// request sends v with an id and expects the reply of type typ echoing it.
func (c *client) request(v map[string]any, typ string) msg {
	c.t.Helper()
	id := fmt.Sprintf("r%d", time.Now().UnixNano())
	v["id"] = id
	c.sendJSON(v)
	m := c.expect(typ)
	if m.str("id") != id {
		c.t.Fatalf("reply %v does not echo id %q", m, id)
	}
	return m
}

// quiet proves no message is pending: a ping's pong must be the next one.
func (c *client) quiet() {
	c.t.Helper()
	c.sendJSON(map[string]any{"type": "ping", "id": "quiet"})
	if m := c.next(); m.str("type") != "pong" || m.str("id") != "quiet" {
		c.t.Fatalf("got %v, want nothing before the pong", m)
	}
}

// expectClose waits for the server to close the socket with code.
func (c *client) expectClose(code int, text string) {
	c.t.Helper()
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				var ce *websocket.CloseError
				if !errors.As(c.err, &ce) {
					c.t.Fatalf("socket ended with %v, want close code %d", c.err, code)
				}
				if ce.Code != code || (text != "" && ce.Text != text) {
					c.t.Fatalf("closed with %d %q, want %d %q", ce.Code, ce.Text, code, text)
				}
				return
			}
			_ = m
		case <-time.After(waitTimeout):
			c.t.Fatalf("socket not closed; want close code %d", code)
		}
	}
}

// ringReq is Alice's number called from a known contact.
func ringReq(callID string) call.RingRequest {
	return call.RingRequest{
		CallID:        callID,
		User:          "alice",
		Number:        "+15550100",
		NumberName:    "Sales line",
		Caller:        "+48601234567",
		CallerDisplay: "+48 601 234 567",
		Contact: &store.CallerID{Name: "Jan Kowalski", Company: "Acme",
			Deal: &store.Deal{Name: "Acme renewal", Amount: 12000, Currency: "USD"}},
		Prefer: media.Direction{PayloadType: media.PayloadPCMA, DTMFType: 101},
	}
}

// ringResult is what Ring returned.
type ringResult struct {
	leg call.Leg
	err error
}

// ringAsync runs Ring in the background.
func (r *rig) ringAsync(ctx context.Context, req call.RingRequest) <-chan ringResult {
	out := make(chan ringResult, 1)
	go func() {
		leg, err := r.srv.Ring(ctx, req)
		out <- ringResult{leg, err}
	}()
	return out
}

func awaitRing(t *testing.T, ch <-chan ringResult) ringResult {
	t.Helper()
	select {
	case res := <-ch:
		return res
	case <-time.After(waitTimeout):
		t.Fatal("Ring did not return")
		return ringResult{}
	}
}

func awaitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// eventually polls cond until it holds: for state with no event to await
// (a server-side map after a socket closed).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// answerRing makes tab take the ringing call and returns the leg Ring
// handed to the engine.
func (r *rig) answerRing(t *testing.T, tab *client, callID string) (*browserLeg, *fakePeer) {
	t.Helper()
	res := r.ringAsync(context.Background(), ringReq(callID))
	tab.expect("incoming")
	tab.request(map[string]any{"type": "answer", "call_id": callID, "sdp": "offer-" + callID}, "answer_sdp")
	got := awaitRing(t, res)
	if got.err != nil {
		t.Fatalf("Ring: %v", got.err)
	}
	tab.expect("presence") // in_call
	return got.leg.(*browserLeg), r.ans.nextAnswer(t).peer
}
