package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// ErrSignaling is returned when the gateway's WebSocket answers a request
// with an error or not at all.
var ErrSignaling = errors.New("signaling")

// wsMsg is one signaling message (docs/signaling.md); only the fields the
// stand-in browser reads or writes.
type wsMsg struct {
	Type    string `json:"type"`
	ID      string `json:"id,omitempty"`
	Token   string `json:"token,omitempty"`
	Status  string `json:"status,omitempty"`
	CallID  string `json:"call_id,omitempty"`
	SDP     string `json:"sdp,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	State   string `json:"state,omitempty"`
	Cause   string `json:"cause,omitempty"`
}

// browserCounters is a snapshot of the fleet's totals.
type browserCounters struct {
	Sent, Recv, SendErrors, Answered, AnswerErrors, Connected, Ended, EndedEarly uint64
	// Race runs: calls another device took (before or while this tab
	// answered), and answered calls the gateway ended before teardown.
	AnsweredElsewhere, EndedLosers uint64
}

// fleet is the browser side of a WebRTC run: one signed-in tab per user,
// each answering the calls that ring it with a pion PeerConnection (PCMU
// only, DTLS-SRTP as WebRTC always is), and one pacer sending 20 ms PCMU
// frames on every connected call, stamped like the SIP side's so the other
// end measures one-way latency.
type fleet struct {
	api   *webrtc.API
	wsURL string
	base  time.Time // shared with the SIP side's engine: stamps compare across both
	log   *slog.Logger

	mu       sync.Mutex
	slots    [pacerSlots][]*wrStream
	nextSlot int
	tabs     []*browser

	tearingDown atomic.Bool
	// race: the numbers also ring a SIP phone (ringing: both), so losing
	// a call to it is expected rather than an error.
	race bool

	live atomic.Int64 // calls with media connected and not ended

	sent, recv, sendErrs            atomic.Uint64
	answered, answerErrs, connected atomic.Uint64
	ended, endedEarly               atomic.Uint64
	answeredElsewhere, endedLosers  atomic.Uint64
	latency                         histogram // SIP -> browser, one-way
	wg                              sync.WaitGroup
	firstAnswerErr                  atomic.Pointer[string]
	ctx                             context.Context
	cancel                          context.CancelFunc
	pacerDone                       chan struct{}
	answerTimeout                   time.Duration
}

// newFleet prepares the browser side: wsURL is the gateway's /ws, base the
// time origin of the latency stamps.
func newFleet(wsURL string, base time.Time, log *slog.Logger) (*fleet, error) {
	var me webrtc.MediaEngine
	// The offer lists PCMU first, then PCMA (as browsers list both G.711
	// laws): the gateway answers PCMU to match the SIP side, so it relays
	// payloads unchanged and the stamps survive. PCMA is offered too
	// because the gateway refuses a PCMU-only offer ("codec preferences:
	// unsupported codec type by this transceiver audio/PCMA"): it sets
	// both laws as transceiver preferences whatever the offer held.
	for _, c := range []struct {
		mime string
		pt   uint8
	}{{webrtc.MimeTypePCMU, ptPCMU}, {webrtc.MimeTypePCMA, ptPCMA}} {
		if err := me.RegisterCodec(webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: c.mime, ClockRate: 8000, Channels: 1},
			PayloadType:        webrtc.PayloadType(c.pt),
		}, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, fmt.Errorf("webrtc: register %s: %w", c.mime, err)
		}
	}
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	ctx, cancel := context.WithCancel(context.Background())
	return &fleet{
		api:           webrtc.NewAPI(webrtc.WithMediaEngine(&me), webrtc.WithSettingEngine(se)),
		wsURL:         wsURL,
		base:          base,
		log:           log,
		ctx:           ctx,
		cancel:        cancel,
		pacerDone:     make(chan struct{}),
		answerTimeout: 10 * time.Second,
	}, nil
}

// start runs the pacer until close.
func (f *fleet) start() {
	go func() { defer close(f.pacerDone); f.pace() }()
}

// signIn opens one tab per token and sets each user available, n at a time.
func (f *fleet) signIn(ctx context.Context, tokens []string) error {
	errs := make([]error, len(tokens))
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i, tok := range tokens {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			b, err := f.dial(ctx, tok)
			if err != nil {
				errs[i] = fmt.Errorf("tab %d: %w", i, err)
				return
			}
			f.mu.Lock()
			f.tabs = append(f.tabs, b)
			f.mu.Unlock()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// snapshot returns the totals so far.
func (f *fleet) snapshot() browserCounters {
	return browserCounters{
		Sent: f.sent.Load(), Recv: f.recv.Load(), SendErrors: f.sendErrs.Load(),
		Answered: f.answered.Load(), AnswerErrors: f.answerErrs.Load(), Connected: f.connected.Load(),
		Ended: f.ended.Load(), EndedEarly: f.endedEarly.Load(),
		AnsweredElsewhere: f.answeredElsewhere.Load(), EndedLosers: f.endedLosers.Load(),
	}
}

// close ends every call and tab and waits for their goroutines.
func (f *fleet) close() {
	f.cancel()
	f.mu.Lock()
	tabs := f.tabs
	f.tabs = nil
	f.mu.Unlock()
	for _, b := range tabs {
		b.close()
	}
	f.wg.Wait()
	<-f.pacerDone
}

// browser is one signed-in tab.
type browser struct {
	f  *fleet
	ws *websocket.Conn

	wmu sync.Mutex // gorilla allows one writer at a time

	mu      sync.Mutex
	pending map[string]chan wsMsg // request id -> reply
	calls   map[string]*wrCall
	// stopped holds calls the gateway stopped ringing on this tab
	// (answered_elsewhere or cancelled) until their answer goroutine sees it.
	stopped map[string]wsMsg
}

// dial opens a tab: auth, then presence available, each awaited.
func (f *fleet) dial(ctx context.Context, token string) (*browser, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.DefaultDialer.DialContext(dctx, f.wsURL, http.Header{})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: dial %s: %w", ErrSignaling, f.wsURL, err)
	}
	b := &browser{f: f, ws: ws, pending: map[string]chan wsMsg{}, calls: map[string]*wrCall{}, stopped: map[string]wsMsg{}}
	deadline, _ := dctx.Deadline()
	_ = ws.SetReadDeadline(deadline)
	if err := b.send(wsMsg{Type: "auth", Token: token}); err != nil {
		ws.Close()
		return nil, err
	}
	if _, err := b.readUntil("welcome"); err != nil {
		ws.Close()
		return nil, err
	}
	if err := b.send(wsMsg{Type: "presence", ID: "presence", Status: "available"}); err != nil {
		ws.Close()
		return nil, err
	}
	if _, err := b.readUntil("ok"); err != nil {
		ws.Close()
		return nil, err
	}
	_ = ws.SetReadDeadline(time.Time{})
	f.wg.Add(1)
	go func() { defer f.wg.Done(); b.readLoop() }()
	return b, nil
}

// readUntil reads messages until one of type want; an error message fails.
func (b *browser) readUntil(want string) (wsMsg, error) {
	for {
		var m wsMsg
		if err := b.ws.ReadJSON(&m); err != nil {
			return m, fmt.Errorf("%w: waiting for %s: %w", ErrSignaling, want, err)
		}
		switch m.Type {
		case want:
			return m, nil
		case "error":
			return m, fmt.Errorf("%w: waiting for %s: error %s: %s", ErrSignaling, want, m.Code, m.Message)
		}
	}
}

func (b *browser) send(m wsMsg) error {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	_ = b.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := b.ws.WriteJSON(m); err != nil {
		return fmt.Errorf("%w: send %s: %w", ErrSignaling, m.Type, err)
	}
	return nil
}

// readLoop dispatches the gateway's messages until the socket closes.
// Reading also answers the server's pings (gorilla's default handler).
func (b *browser) readLoop() {
	for {
		var m wsMsg
		if err := b.ws.ReadJSON(&m); err != nil {
			b.endAll()
			return
		}
		b.f.log.Debug("ws message", "type", m.Type, "call_id", m.CallID, "code", m.Code, "msg", m.Message)
		switch m.Type {
		case "incoming":
			b.f.wg.Add(1)
			go func() { defer b.f.wg.Done(); b.answer(m.CallID) }()
		case "call_state":
			if m.State == "ended" {
				b.ended(m.CallID, m.Cause)
			}
		case "answered_elsewhere", "cancelled":
			// The gateway sends these before its error reply to an answer
			// this tab may have in flight (signaling.Server.Ring), so
			// answer sees them by the time that reply arrives.
			b.mu.Lock()
			b.stopped[m.CallID] = m
			b.mu.Unlock()
		default:
			if m.ID == "" {
				continue
			}
			b.mu.Lock()
			ch := b.pending[m.ID]
			delete(b.pending, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m
			}
		}
	}
}

// request sends m with a fresh id and waits for the reply carrying it.
func (b *browser) request(m wsMsg) (wsMsg, error) {
	m.ID = fmt.Sprintf("r%x", rand.Uint64())
	ch := make(chan wsMsg, 1)
	b.mu.Lock()
	b.pending[m.ID] = ch
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.pending, m.ID)
		b.mu.Unlock()
	}()
	if err := b.send(m); err != nil {
		return wsMsg{}, err
	}
	select {
	case r := <-ch:
		if r.Type == "error" {
			return r, fmt.Errorf("%w: %s: error %s: %s", ErrSignaling, m.Type, r.Code, r.Message)
		}
		return r, nil
	case <-time.After(b.f.answerTimeout):
		return wsMsg{}, fmt.Errorf("%w: %s: no reply in %v", ErrSignaling, m.Type, b.f.answerTimeout)
	case <-b.f.ctx.Done():
		return wsMsg{}, fmt.Errorf("%w: %s: %w", ErrSignaling, m.Type, b.f.ctx.Err())
	}
}

// wrCall is one answered call in a tab.
type wrCall struct {
	pc     *webrtc.PeerConnection
	stream *wrStream
	once   sync.Once
	up     atomic.Bool // counted in fleet.live
}

// down takes a call out of the live count (idempotent).
func (c *wrCall) down(f *fleet) {
	if c.up.CompareAndSwap(true, false) {
		f.live.Add(-1)
	}
}

// errAnsweredElsewhere is answerErr's error when the gateway gave the call
// to another device before this tab's answer took it.
var errAnsweredElsewhere = errors.New("answered elsewhere")

// answer takes a ringing call: a PCMU-only offer with all its (loopback)
// candidates gathered, sent as `answer`; the reply's SDP is the gateway's
// WebRTC answer (docs/signaling.md, "A call from the phone network").
// Losing the call to another device counts as such in a race run and as
// an error otherwise (nothing else rings then).
func (b *browser) answer(callID string) {
	err := b.answerErr(callID)
	b.mu.Lock()
	delete(b.stopped, callID)
	b.mu.Unlock()
	if err == nil {
		return
	}
	if b.f.race && errors.Is(err, errAnsweredElsewhere) {
		b.f.answeredElsewhere.Add(1)
		return
	}
	b.f.answerErrs.Add(1)
	msg := err.Error()
	if b.f.firstAnswerErr.CompareAndSwap(nil, &msg) {
		b.f.log.Warn("answering a call failed", "call_id", callID, "err", err)
	}
}

// stoppedErr reports why the gateway stopped ringing callID on this tab,
// or nil while it still rings (or was never stopped).
func (b *browser) stoppedErr(callID string) error {
	b.mu.Lock()
	m, ok := b.stopped[callID]
	b.mu.Unlock()
	switch {
	case !ok:
		return nil
	case m.Type == "answered_elsewhere":
		return errAnsweredElsewhere
	default:
		return fmt.Errorf("%w: call cancelled while answering (cause %q)", ErrSignaling, m.Cause)
	}
}

func (b *browser) answerErr(callID string) error {
	f := b.f
	pc, err := f.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return fmt.Errorf("webrtc: peer connection: %w", err)
	}
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1}, "audio", "mic")
	if err != nil {
		_ = pc.Close()
		return fmt.Errorf("webrtc: track: %w", err)
	}
	if _, err := pc.AddTrack(track); err != nil {
		_ = pc.Close()
		return fmt.Errorf("webrtc: add track: %w", err)
	}
	c := &wrCall{pc: pc, stream: newWRStream(track, rand.Uint32())}
	b.mu.Lock()
	b.calls[callID] = c
	b.mu.Unlock()
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		f.wg.Add(1)
		go func() { defer f.wg.Done(); f.receive(tr) }()
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected:
			f.connected.Add(1)
			if c.up.CompareAndSwap(false, true) {
				f.live.Add(1)
			}
			f.add(c.stream)
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			c.down(f)
			f.remove(c.stream)
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		b.endCall(callID)
		return fmt.Errorf("webrtc: offer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		b.endCall(callID)
		return fmt.Errorf("webrtc: local description: %w", err)
	}
	select {
	case <-gathered:
	case <-f.ctx.Done():
		b.endCall(callID)
		return f.ctx.Err()
	}
	if err := b.stoppedErr(callID); err != nil {
		b.endCall(callID) // taken elsewhere while we gathered: no answer to send
		return err
	}
	reply, err := b.request(wsMsg{Type: "answer", CallID: callID, SDP: pc.LocalDescription().SDP})
	if err != nil {
		b.endCall(callID)
		if why := b.stoppedErr(callID); why != nil {
			return why // the error reply only says the call no longer rings
		}
		return err
	}
	if reply.Type != "answer_sdp" {
		b.endCall(callID)
		return fmt.Errorf("%w: answer: got %q, want answer_sdp", ErrSignaling, reply.Type)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: reply.SDP}); err != nil {
		b.endCall(callID)
		return fmt.Errorf("webrtc: gateway's answer: %w", err)
	}
	f.answered.Add(1)
	return nil
}

// ended handles the gateway ending a call; before teardown began that is
// an early end, which a benchmark counts. In a race run it is a loser: a
// tab that answered in the same instant as the SIP phone which took the
// call, hung up by the gateway (the caller's own early hangups count the
// failures there).
func (b *browser) ended(callID, cause string) {
	b.f.ended.Add(1)
	switch {
	case b.f.tearingDown.Load():
	case b.f.race:
		b.f.endedLosers.Add(1)
		b.f.log.Info("call ended by the gateway", "call_id", callID, "cause", cause)
	default:
		b.f.endedEarly.Add(1)
		b.f.log.Warn("call ended by the gateway", "call_id", callID, "cause", cause)
	}
	b.endCall(callID)
}

func (b *browser) endCall(callID string) {
	b.mu.Lock()
	c := b.calls[callID]
	delete(b.calls, callID)
	b.mu.Unlock()
	if c != nil {
		c.once.Do(func() {
			c.down(b.f)
			b.f.remove(c.stream)
			_ = c.pc.Close()
		})
	}
}

func (b *browser) endAll() {
	b.mu.Lock()
	ids := make([]string, 0, len(b.calls))
	for id := range b.calls {
		ids = append(ids, id)
	}
	b.mu.Unlock()
	for _, id := range ids {
		b.endCall(id)
	}
}

func (b *browser) close() {
	_ = b.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	_ = b.ws.Close()
	b.endAll()
}

// receive counts the gateway's audio on one call (decrypted by pion) and
// records the one-way latency from the SIP side's send stamp.
func (f *fleet) receive(tr *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	var p rtp.Packet
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		if err := p.Unmarshal(buf[:n]); err != nil {
			continue
		}
		f.recv.Add(1)
		if len(p.Payload) >= stampLen {
			sentAt := int64(binary.BigEndian.Uint64(p.Payload))
			f.latency.observe(time.Duration(int64(time.Since(f.base)) - sentAt))
		}
	}
}

// wrStream is one browser's paced microphone: a preallocated PCMU packet
// the pacer rewrites and hands to pion, which encrypts it (SRTP).
type wrStream struct {
	track *webrtc.TrackLocalStaticRTP
	pkt   rtp.Packet
	slot  int
	pos   int // index in its slot list; -1 when not paced
}

func newWRStream(track *webrtc.TrackLocalStaticRTP, ssrc uint32) *wrStream {
	s := &wrStream{track: track, pos: -1}
	s.pkt.Header = rtp.Header{Version: 2, Marker: true, PayloadType: ptPCMU, SequenceNumber: uint16(ssrc >> 3), Timestamp: ssrc * 7, SSRC: ssrc}
	s.pkt.Payload = make([]byte, frameSamples)
	for i := range s.pkt.Payload {
		s.pkt.Payload[i] = silence(ptPCMU)
	}
	return s
}

// add starts pacing s (idempotent).
func (f *fleet) add(s *wrStream) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.pos >= 0 {
		return
	}
	s.slot = f.nextSlot
	f.nextSlot = (f.nextSlot + 1) % pacerSlots
	s.pos = len(f.slots[s.slot])
	f.slots[s.slot] = append(f.slots[s.slot], s)
}

// remove stops pacing s (idempotent).
func (f *fleet) remove(s *wrStream) {
	f.mu.Lock()
	defer f.mu.Unlock()
	list := f.slots[s.slot]
	if s.pos < 0 || s.pos >= len(list) || list[s.pos] != s {
		return
	}
	last := list[len(list)-1]
	list[s.pos] = last
	last.pos = s.pos
	list[len(list)-1] = nil
	f.slots[s.slot] = list[:len(list)-1]
	s.pos = -1
}

// pace sends slot k's streams at start + k*slotLen, like rtpEngine.pace
// (at most one period of catch-up after a stall).
func (f *fleet) pace() {
	t := time.NewTicker(slotLen)
	defer t.Stop()
	start := time.Now()
	var next int64
	for {
		select {
		case <-f.ctx.Done():
			return
		case <-t.C:
		}
		due := int64(time.Since(start) / slotLen)
		f.mu.Lock()
		for next = firstSlot(next, due); next <= due; next++ {
			for _, s := range f.slots[next%pacerSlots] {
				f.send(s)
			}
		}
		f.mu.Unlock()
	}
}

// send writes the stream's next frame. Only the pacer calls it.
func (f *fleet) send(s *wrStream) {
	binary.BigEndian.PutUint64(s.pkt.Payload, uint64(time.Since(f.base)))
	err := s.track.WriteRTP(&s.pkt)
	s.pkt.Marker = false
	s.pkt.SequenceNumber++
	s.pkt.Timestamp += frameSamples
	if err != nil {
		f.sendErrs.Add(1)
		return
	}
	f.sent.Add(1)
}
