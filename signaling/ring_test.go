package signaling

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"switchboard/call"
	"switchboard/media"
)

func isDialCause(err error, cause call.Cause) bool {
	var de *call.DialError
	return errors.As(err, &de) && de.Cause == cause
}

func TestRingTwoTabsFirstAnswerWins(t *testing.T) {
	r := newRig(t, nil)
	tab1 := r.available(t, "tok-alice")
	tab2 := r.signIn(t, "tok-alice") // inherits available
	req := ringReq("c1")
	res := r.ringAsync(context.Background(), req)

	for _, tab := range []*client{tab1, tab2} {
		in := tab.expect("incoming")
		want := map[string]string{"call_id": "c1", "number": "+15550100", "number_name": "Sales line",
			"caller": "+48601234567", "caller_display": "+48 601 234 567"}
		for k, v := range want {
			if in.str(k) != v {
				t.Errorf("incoming %s = %q, want %q", k, in.str(k), v)
			}
		}
		contact, _ := in["contact"].(map[string]any)
		deal, _ := contact["deal"].(map[string]any)
		if contact["name"] != "Jan Kowalski" || contact["company"] != "Acme" ||
			deal["name"] != "Acme renewal" || deal["amount"] != 12000.0 || deal["currency"] != "USD" {
			t.Errorf("incoming contact = %v", in["contact"])
		}
	}

	reply := tab1.request(map[string]any{"type": "answer", "call_id": "c1", "sdp": "offer-1"}, "answer_sdp")
	if reply.str("call_id") != "c1" || reply.str("sdp") != "answer:offer-1" {
		t.Errorf("answer_sdp = %v", reply)
	}
	if m := tab2.expect("answered_elsewhere"); m.str("call_id") != "c1" {
		t.Errorf("answered_elsewhere = %v", m)
	}
	got := awaitRing(t, res)
	if got.err != nil {
		t.Fatalf("Ring: %v", got.err)
	}
	neg := r.ans.nextAnswer(t)
	if neg.offer != "offer-1" || neg.prefer != req.Prefer {
		t.Errorf("Answer(%q, %+v), want the tab's offer and the phone side's codec %+v", neg.offer, neg.prefer, req.Prefer)
	}

	leg := got.leg
	info := leg.Info()
	if info.Role != "callee" || info.Kind != "webrtc" || info.Peer != "user:alice" || info.Codec != "PCMA" ||
		info.Remote != "127.0.0.1:50000" {
		t.Errorf("Info = %+v", info)
	}
	port, dir, ok := leg.Media()
	if !ok || port != Peer(neg.peer) || dir != req.Prefer {
		t.Errorf("Media = %v, %+v, %v; want the negotiated peer", port, dir, ok)
	}

	// Both tabs see the user in a call; nobody else is rung meanwhile.
	for _, tab := range []*client{tab1, tab2} {
		if p := tab.expect("presence"); p.str("status") != "in_call" || p.str("user") != "alice" {
			t.Errorf("presence = %v, want alice in_call", p)
		}
	}
	if r.srv.Available("alice") {
		t.Error("Available during a call")
	}
	if ok, why := r.srv.Presence("alice"); ok || why != "on a call" {
		t.Errorf("Presence during a call = %v, %q; want false, \"on a call\"", ok, why)
	}

	// A late answer from the other tab finds no ringing call.
	tab2.request(map[string]any{"type": "answer", "call_id": "c1", "sdp": "offer-2"}, "error")

	leg.(call.StateListener).CallState("answered", call.CauseNone)
	if m := tab1.expect("call_state"); m.str("state") != "answered" || m.str("call_id") != "c1" || m.str("direction") != "inbound" {
		t.Errorf("call_state = %v", m)
	}
	tab2.quiet()
}

func TestRingSecondAnswerWhileFirstNegotiates(t *testing.T) {
	r := newRig(t, nil)
	r.ans.gate = make(chan struct{})
	tab1 := r.available(t, "tok-alice")
	tab2 := r.signIn(t, "tok-alice")
	res := r.ringAsync(context.Background(), ringReq("c1"))
	tab1.expect("incoming")
	tab2.expect("incoming")
	tab1.sendJSON(map[string]any{"type": "answer", "call_id": "c1", "sdp": "offer-1", "id": "a1"})
	<-r.ans.entered // tab1's negotiation is under way
	if m := tab2.request(map[string]any{"type": "answer", "call_id": "c1", "sdp": "offer-2"}, "error"); m.str("code") != "not_found" {
		t.Errorf("racing answer: %v, want not_found", m)
	}
	if m := tab2.request(map[string]any{"type": "decline", "call_id": "c1"}, "error"); m.str("code") != "not_found" {
		t.Errorf("decline while answered: %v, want not_found", m)
	}
	close(r.ans.gate)
	if m := tab1.expect("answer_sdp"); m.str("id") != "a1" {
		t.Errorf("answer_sdp = %v", m)
	}
	tab2.expect("answered_elsewhere")
	if got := awaitRing(t, res); got.err != nil {
		t.Fatalf("Ring: %v", got.err)
	}
}

func TestRingDecline(t *testing.T) {
	r := newRig(t, nil)
	tab1 := r.available(t, "tok-alice")
	tab2 := r.signIn(t, "tok-alice")
	res := r.ringAsync(context.Background(), ringReq("c1"))
	tab1.expect("incoming")
	tab2.expect("incoming")
	tab2.request(map[string]any{"type": "decline", "call_id": "c1"}, "ok")
	got := awaitRing(t, res)
	if !isDialCause(got.err, call.CauseDeclined) || got.leg != nil {
		t.Fatalf("Ring = %v, %v; want a declined DialError", got.leg, got.err)
	}
	if m := tab1.expect("cancelled"); m.str("call_id") != "c1" || m.str("cause") != "call_rejected" {
		t.Errorf("other tab got %v, want cancelled call_rejected", m)
	}
	tab2.quiet()
	// The call is gone: answering it now fails.
	tab1.request(map[string]any{"type": "answer", "call_id": "c1", "sdp": "x"}, "error")
}

func TestRingUnavailable(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, r *rig)
	}{
		{"nobody signed in", func(*testing.T, *rig) {}},
		{"signed in but away", func(t *testing.T, r *rig) { r.signIn(t, "tok-alice") }},
		{"only another user available", func(t *testing.T, r *rig) { r.available(t, "tok-bob") }},
		{"in a call", func(t *testing.T, r *rig) {
			tab := r.available(t, "tok-alice")
			r.answerRing(t, tab, "c0")
		}},
		{"back to away", func(t *testing.T, r *rig) {
			tab := r.available(t, "tok-alice")
			tab.request(map[string]any{"type": "presence", "status": "away"}, "ok")
			tab.expect("presence")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, nil)
			tt.setup(t, r)
			if r.srv.Available("alice") {
				t.Error("Available = true")
			}
			start := time.Now()
			leg, err := r.srv.Ring(context.Background(), ringReq("c1"))
			if !isDialCause(err, call.CauseUnavailable) || leg != nil {
				t.Fatalf("Ring = %v, %v; want an unavailable DialError", leg, err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("Ring took %v, want an immediate answer", d)
			}
		})
	}
}

func TestRingInvalidRequest(t *testing.T) {
	r := newRig(t, nil)
	tab := r.available(t, "tok-alice")
	if _, err := r.srv.Ring(context.Background(), call.RingRequest{User: "alice"}); !errors.Is(err, ErrInvalidRing) {
		t.Errorf("Ring without call id = %v, want ErrInvalidRing", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := r.ringAsync(ctx, ringReq("c1"))
	tab.expect("incoming")
	if _, err := r.srv.Ring(context.Background(), ringReq("c1")); !errors.Is(err, ErrInvalidRing) {
		t.Errorf("second Ring of c1 = %v, want ErrInvalidRing", err)
	}
	cancel()
	awaitRing(t, first)
}

func TestRingContextEnds(t *testing.T) {
	tests := []struct {
		name      string
		end       func(context.Context) (context.Context, func())
		wantType  string
		wantCause string
		wantErr   error
	}{
		{
			name: "caller hung up",
			end: func(ctx context.Context) (context.Context, func()) {
				ctx, cancel := context.WithCancelCause(ctx)
				return ctx, func() { cancel(errors.New("caller hung up")) }
			},
			wantType: "cancelled", wantCause: "originator_cancel", wantErr: context.Canceled,
		},
		{
			name: "answered on the forward phone",
			end: func(ctx context.Context) (context.Context, func()) {
				ctx, cancel := context.WithCancelCause(ctx)
				return ctx, func() { cancel(call.ErrAnsweredElsewhere) }
			},
			wantType: "answered_elsewhere", wantErr: context.Canceled,
		},
		{
			name: "ring timeout",
			end: func(ctx context.Context) (context.Context, func()) {
				// The engine's ring timeout, as call/inbound.go sets it.
				ctx, cancel := context.WithTimeoutCause(ctx, 300*time.Millisecond, errors.New("ring timeout"))
				_ = cancel // released when the deadline passes
				return ctx, func() {}
			},
			wantType: "cancelled", wantCause: "no_answer", wantErr: context.DeadlineExceeded,
		},
		{
			name: "engine shutting down",
			end: func(ctx context.Context) (context.Context, func()) {
				ctx, cancel := context.WithCancelCause(ctx)
				return ctx, func() { cancel(&call.DialError{Cause: call.CauseShutdown}) }
			},
			wantType: "cancelled", wantCause: "shutdown", wantErr: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, nil)
			tab1 := r.available(t, "tok-alice")
			tab2 := r.signIn(t, "tok-alice")
			ctx, end := tt.end(context.Background())
			res := r.ringAsync(ctx, ringReq("c1"))
			tab1.expect("incoming")
			tab2.expect("incoming")
			end()
			got := awaitRing(t, res)
			if !errors.Is(got.err, tt.wantErr) || got.leg != nil {
				t.Fatalf("Ring = %v, %v; want %v", got.leg, got.err, tt.wantErr)
			}
			for _, tab := range []*client{tab1, tab2} {
				m := tab.expect(tt.wantType)
				if m.str("call_id") != "c1" || m.str("cause") != tt.wantCause {
					t.Errorf("tab got %v, want %s with cause %q", m, tt.wantType, tt.wantCause)
				}
			}
			if !r.srv.Available("alice") {
				t.Error("user not available after the ringing stopped")
			}
		})
	}
}

func TestRingCancelledWhileAnswering(t *testing.T) {
	r := newRig(t, nil)
	r.ans.gate = make(chan struct{})
	tab := r.available(t, "tok-alice")
	ctx, cancel := context.WithCancel(context.Background())
	res := r.ringAsync(ctx, ringReq("c1"))
	tab.expect("incoming")
	tab.sendJSON(map[string]any{"type": "answer", "call_id": "c1", "sdp": "offer", "id": "a1"})
	<-r.ans.entered
	cancel()
	if got := awaitRing(t, res); !errors.Is(got.err, context.Canceled) {
		t.Fatalf("Ring = %v, want context.Canceled", got.err)
	}
	// The cancellation and the answer's failure race; both arrive.
	var cancelled, refused bool
	for range 2 {
		switch m := tab.next(); {
		case m.str("type") == "cancelled" && m.str("cause") == "originator_cancel":
			cancelled = true
		case m.str("type") == "error" && m.str("code") == "not_found" && m.str("id") == "a1":
			refused = true
		default:
			t.Errorf("got %v", m)
		}
	}
	if !cancelled || !refused {
		t.Errorf("cancelled %v, answer refused %v; want both", cancelled, refused)
	}
	if !r.srv.Available("alice") {
		t.Error("user not available after the call was cancelled")
	}
}

func TestRingBadOfferLetsAnotherTabAnswer(t *testing.T) {
	r := newRig(t, nil)
	tab1 := r.available(t, "tok-alice")
	tab2 := r.signIn(t, "tok-alice")
	res := r.ringAsync(context.Background(), ringReq("c1"))
	tab1.expect("incoming")
	tab2.expect("incoming")
	if m := tab1.request(map[string]any{"type": "answer", "call_id": "c1", "sdp": "bad"}, "error"); m.str("code") != "bad_request" {
		t.Errorf("bad offer: %v, want bad_request", m)
	}
	tab2.request(map[string]any{"type": "answer", "call_id": "c1", "sdp": "good"}, "answer_sdp")
	tab1.expect("answered_elsewhere")
	if got := awaitRing(t, res); got.err != nil {
		t.Fatalf("Ring: %v", got.err)
	}
}

func TestRingTabsAllClose(t *testing.T) {
	r := newRig(t, nil)
	tab := r.available(t, "tok-alice")
	res := r.ringAsync(context.Background(), ringReq("c1"))
	tab.expect("incoming")
	tab.conn.Close()
	if got := awaitRing(t, res); !isDialCause(got.err, call.CauseUnavailable) {
		t.Fatalf("Ring = %v, want unavailable once every ringing tab closed", got.err)
	}
}

func TestTabOpenedWhileRingingShowsTheCall(t *testing.T) {
	r := newRig(t, nil)
	tab1 := r.available(t, "tok-alice")
	res := r.ringAsync(context.Background(), ringReq("c1"))
	tab1.expect("incoming")
	tab2 := r.signIn(t, "tok-alice")
	if m := tab2.expect("incoming"); m.str("call_id") != "c1" {
		t.Fatalf("new tab got %v", m)
	}
	tab2.request(map[string]any{"type": "answer", "call_id": "c1", "sdp": "o"}, "answer_sdp")
	tab1.expect("answered_elsewhere")
	if got := awaitRing(t, res); got.err != nil {
		t.Fatal(got.err)
	}
}

func TestRingICEBeforeAnswerCompletes(t *testing.T) {
	r := newRig(t, nil)
	r.ans.gate = make(chan struct{})
	tab := r.available(t, "tok-alice")
	res := r.ringAsync(context.Background(), ringReq("c1"))
	tab.expect("incoming")
	tab.sendJSON(map[string]any{"type": "answer", "call_id": "c1", "sdp": "o", "id": "a"})
	<-r.ans.entered
	cand := `{"candidate":"candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host","sdpMid":"0"}`
	tab.sendJSON(map[string]any{"type": "ice", "call_id": "c1", "candidate": rawJSON(cand), "id": "i1"})
	tab.expect("ok")
	close(r.ans.gate)
	tab.expect("answer_sdp")
	got := awaitRing(t, res)
	if got.err != nil {
		t.Fatal(got.err)
	}
	peer := r.ans.nextAnswer(t).peer
	if c := peer.gotCandidates(); len(c) != 1 || c[0] != cand {
		t.Errorf("peer got candidates %q, want the one trickled during the answer", c)
	}
}

// rawJSON embeds s verbatim in a message built with encoding/json.
type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

func TestPresenceAcrossTabs(t *testing.T) {
	r := newRig(t, nil)
	tab1 := r.signIn(t, "tok-alice")
	tab2 := r.signIn(t, "tok-alice")
	bob := r.signIn(t, "tok-bob")

	tab1.request(map[string]any{"type": "presence", "status": "available"}, "ok")
	for i, tab := range []*client{tab1, tab2} {
		if m := tab.expect("presence"); m.str("user") != "alice" || m.str("status") != "available" {
			t.Errorf("tab%d got %v, want alice available", i+1, m)
		}
	}
	bob.quiet() // other users hear nothing
	if !r.srv.Available("alice") || r.srv.Available("bob") {
		t.Error("Available: alice should be, bob should not")
	}

	// Setting the same state again changes nothing.
	tab2.request(map[string]any{"type": "presence", "status": "available"}, "ok")
	tab1.quiet()

	// A third tab inherits the user's state.
	tab3 := r.connect(t, nil)
	tab3.sendJSON(map[string]any{"type": "auth", "token": "tok-alice"})
	if w := tab3.expect("welcome"); w.str("presence") != "available" {
		t.Errorf("third tab presence = %q, want available (inherited)", w.str("presence"))
	}

	tab2.request(map[string]any{"type": "presence", "status": "away"}, "ok")
	for i, tab := range []*client{tab1, tab2, tab3} {
		if m := tab.expect("presence"); m.str("status") != "away" {
			t.Errorf("tab%d got %v, want away", i+1, m)
		}
	}

	// Once every tab is gone, a new sign-in starts away again.
	tab1.request(map[string]any{"type": "presence", "status": "available"}, "ok")
	for _, tab := range []*client{tab1, tab2, tab3} {
		tab.conn.Close()
	}
	eventually(t, "alice's tabs are gone", func() bool { return !r.srv.Available("alice") })
	eventually(t, "alice is forgotten", func() bool {
		r.srv.mu.Lock()
		defer r.srv.mu.Unlock()
		return r.srv.users["alice"] == nil
	})
	tab4 := r.connect(t, nil)
	tab4.sendJSON(map[string]any{"type": "auth", "token": "tok-alice"})
	if w := tab4.expect("welcome"); w.str("presence") != "away" {
		t.Errorf("fresh sign-in presence = %q, want away", w.str("presence"))
	}
}

func TestTooManyTabs(t *testing.T) {
	r := newRig(t, nil)
	for range maxTabsPerUser {
		r.signIn(t, "tok-alice")
	}
	c := r.connect(t, nil)
	c.sendJSON(map[string]any{"type": "auth", "token": "tok-alice"})
	c.expectClose(1008, "too many tabs")
}

func TestRingPrefersPhoneCodec(t *testing.T) {
	for _, pt := range []uint8{media.PayloadPCMU, media.PayloadPCMA} {
		t.Run(fmt.Sprint(pt), func(t *testing.T) {
			r := newRig(t, nil)
			tab := r.available(t, "tok-alice")
			req := ringReq("c1")
			req.Prefer = media.Direction{PayloadType: pt}
			res := r.ringAsync(context.Background(), req)
			tab.expect("incoming")
			tab.request(map[string]any{"type": "answer", "call_id": "c1", "sdp": "o"}, "answer_sdp")
			got := awaitRing(t, res)
			if got.err != nil {
				t.Fatal(got.err)
			}
			if neg := r.ans.nextAnswer(t); neg.prefer.PayloadType != pt {
				t.Errorf("Answer prefer = %d, want %d", neg.prefer.PayloadType, pt)
			}
		})
	}
}

func TestAnsweringTabClosesOthersMayAnswer(t *testing.T) {
	r := newRig(t, nil)
	r.ans.gate = make(chan struct{})
	tab1 := r.available(t, "tok-alice")
	tab2 := r.signIn(t, "tok-alice")
	res := r.ringAsync(context.Background(), ringReq("c1"))
	tab1.expect("incoming")
	tab2.expect("incoming")
	tab1.sendJSON(map[string]any{"type": "answer", "call_id": "c1", "sdp": "o1"})
	<-r.ans.entered
	tab1.conn.Close()
	eventually(t, "the answering tab left the ringing", func() bool {
		r.srv.mu.Lock()
		defer r.srv.mu.Unlock()
		ring := r.srv.rings[callKey("c1", "alice")]
		return ring != nil && ring.state == ringRinging && len(ring.tabs) == 1
	})
	close(r.ans.gate)
	tab2.request(map[string]any{"type": "answer", "call_id": "c1", "sdp": "o2"}, "answer_sdp")
	got := awaitRing(t, res)
	if got.err != nil {
		t.Fatalf("Ring: %v", got.err)
	}
	// tab1's negotiation may have finished too (its gate opened as its
	// tab went): that peer is discarded, the leg has tab2's.
	neg := r.ans.nextAnswer(t)
	if neg.offer == "o1" {
		neg = r.ans.nextAnswer(t)
	}
	if port, _, _ := got.leg.Media(); neg.offer != "o2" || port != Peer(neg.peer) {
		t.Fatalf("leg has peer %v, want the one negotiated for tab2's offer", port)
	}
}

func TestRingTwoUsersForOneCall(t *testing.T) {
	// A team ring: the same call rings Alice's and Bob's tabs at once; the
	// first answer wins and the other ring is cancelled by the engine.
	r := newRig(t, nil)
	alice := r.available(t, "tok-alice")
	bob := r.available(t, "tok-bob")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	aliceRes := r.ringAsync(ctx, ringReq("c1"))
	bobReq := ringReq("c1")
	bobReq.User = "bob"
	bobRes := r.ringAsync(context.Background(), bobReq)
	alice.expect("incoming")
	bob.expect("incoming")
	bob.request(map[string]any{"type": "answer", "call_id": "c1", "sdp": "o"}, "answer_sdp")
	if got := awaitRing(t, bobRes); got.err != nil || got.leg == nil {
		t.Fatalf("Bob's ring = %v, %v; want his leg", got.leg, got.err)
	}
	cancel(call.ErrAnsweredElsewhere)
	if got := awaitRing(t, aliceRes); got.leg != nil || got.err == nil {
		t.Fatalf("Alice's ring = %v, %v; want cancelled", got.leg, got.err)
	}
	if m := alice.expect("answered_elsewhere"); m.str("call_id") != "c1" {
		t.Errorf("Alice's tab got %v", m)
	}
	// Alice answering now finds nothing; Bob's leg is his alone.
	alice.request(map[string]any{"type": "answer", "call_id": "c1", "sdp": "o"}, "error")
}
