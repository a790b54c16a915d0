package signaling

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"switchboard/call"
	"switchboard/media"
)

// fakePlacer records outbound calls. It reports "ringing" to the leg before
// returning, as the engine's background goroutine may.
type fakePlacer struct {
	err error

	mu   sync.Mutex
	n    int
	reqs []call.OutboundRequest
	legs []call.Leg
}

func (p *fakePlacer) PlaceOutbound(leg call.Leg, req call.OutboundRequest) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return "", p.err
	}
	p.n++
	p.reqs = append(p.reqs, req)
	p.legs = append(p.legs, leg)
	leg.(call.StateListener).CallState("ringing", call.CauseNone)
	return fmt.Sprintf("out-%d", p.n), nil
}

func (p *fakePlacer) placed() ([]call.OutboundRequest, []call.Leg) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]call.OutboundRequest(nil), p.reqs...), append([]call.Leg(nil), p.legs...)
}

func TestDial(t *testing.T) {
	r := newRig(t, nil)
	placer := &fakePlacer{}
	r.srv.SetPlacer(placer)
	tab := r.signIn(t, "tok-alice")
	reply := tab.request(map[string]any{"type": "dial", "to": "(555) 010-0199", "from": "+15550100", "sdp": "offer-d"}, "dial_sdp")
	if reply.str("call_id") != "out-1" || reply.str("sdp") != "answer:offer-d" {
		t.Errorf("dial_sdp = %v", reply)
	}
	// Progress reported before PlaceOutbound returned arrives after dial_sdp.
	if m := tab.expect("call_state"); m.str("call_id") != "out-1" || m.str("state") != "ringing" || m.str("direction") != "outbound" {
		t.Errorf("call_state = %v", m)
	}
	if m := tab.expect("presence"); m.str("status") != "in_call" {
		t.Errorf("presence = %v, want in_call", m)
	}
	neg := r.ans.nextAnswer(t)
	if neg.offer != "offer-d" || neg.prefer != (media.Direction{}) {
		t.Errorf("Answer(%q, %+v), want the offer with no preference", neg.offer, neg.prefer)
	}
	reqs, legs := placer.placed()
	if len(reqs) != 1 || reqs[0] != (call.OutboundRequest{User: "alice", From: "+15550100", To: "(555) 010-0199"}) {
		t.Fatalf("PlaceOutbound requests = %+v", reqs)
	}
	leg := legs[0]
	if info := leg.Info(); info.Role != "caller" || info.Kind != "webrtc" || info.Peer != "user:alice" || info.Codec != "PCMU" {
		t.Errorf("Info = %+v", info)
	}
	if _, dir, ok := leg.Media(); !ok || dir != neg.peer.dir {
		t.Errorf("Media dir = %+v, %v", dir, ok)
	}

	// Local candidates trickled after the answer carry the call id.
	neg.peer.trickle(t, `{"candidate":"candidate:2 1 udp 1 192.0.2.1 3478 typ relay"}`)
	if m := tab.expect("ice"); m.str("call_id") != "out-1" {
		t.Errorf("ice = %v", m)
	}

	// Hanging up before the far end answered cancels the call.
	tab.request(map[string]any{"type": "hangup", "call_id": "out-1"}, "ok")
	if m := tab.expect("call_state"); m.str("state") != "ended" || m.str("cause") != "originator_cancel" {
		t.Errorf("call_state = %v", m)
	}
	awaitClosed(t, leg.Done(), "leg ended")
	if cause, byRemote := leg.EndCause(); cause != call.CauseCancelled || !byRemote {
		t.Errorf("EndCause = %v, %v; want cancelled by the browser", cause, byRemote)
	}
	tab.expect("presence")
}

func TestDialAnsweredThenHangup(t *testing.T) {
	r := newRig(t, nil)
	placer := &fakePlacer{}
	r.srv.SetPlacer(placer)
	tab := r.signIn(t, "tok-alice")
	tab.request(map[string]any{"type": "dial", "to": "+15550199", "from": "+15550100", "sdp": "o"}, "dial_sdp")
	tab.expect("call_state") // ringing
	tab.expect("presence")
	_, legs := placer.placed()
	legs[0].(call.StateListener).CallState("answered", call.CauseNone)
	if m := tab.expect("call_state"); m.str("state") != "answered" {
		t.Errorf("got %v", m)
	}
	tab.request(map[string]any{"type": "hangup", "call_id": "out-1"}, "ok")
	if m := tab.expect("call_state"); m.str("cause") != "normal_clearing" {
		t.Errorf("got %v, want ended normal_clearing", m)
	}
	if cause, _ := legs[0].EndCause(); cause != call.CauseNormal {
		t.Errorf("EndCause = %v, want normal clearing", cause)
	}
}

func TestDialRefused(t *testing.T) {
	valid := map[string]any{"type": "dial", "to": "+15550199", "from": "+15550100", "sdp": "o"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range valid {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name     string
		req      map[string]any
		placeErr error
		noPlacer bool
		code     string
		placed   bool // PlaceOutbound was asked
	}{
		{"no to", with("to", nil), nil, false, "bad_request", false},
		{"blank to", with("to", "  "), nil, false, "bad_request", false},
		{"no from", with("from", nil), nil, false, "bad_request", false},
		{"no sdp", with("sdp", nil), nil, false, "bad_request", false},
		{"bad offer", with("sdp", "bad"), nil, false, "bad_request", false},
		{"caller ID not the user's", valid, fmt.Errorf("%w: +15550200", call.ErrForbiddenCallerID), false, "forbidden", true},
		{"not a number", valid, fmt.Errorf("%w: \"abc\"", call.ErrBadNumber), false, "bad_request", true},
		{"draining", valid, call.ErrDraining, false, "unavailable", true},
		{"other failure", valid, errors.New("boom"), false, "unavailable", true},
		{"outbound not enabled", valid, nil, true, "unavailable", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, nil)
			placer := &fakePlacer{err: tt.placeErr}
			if !tt.noPlacer {
				r.srv.SetPlacer(placer)
			}
			tab := r.signIn(t, "tok-alice")
			m := tab.request(tt.req, "error")
			if m.str("code") != tt.code {
				t.Errorf("got %v, want error %s", m, tt.code)
			}
			if tt.placed {
				// The negotiated peer is released: no call exists.
				if neg := r.ans.nextAnswer(t); !neg.peer.isClosed() {
					t.Error("peer of a refused call not closed")
				}
			}
			if reqs, _ := placer.placed(); len(reqs) != 0 {
				t.Errorf("placed %+v", reqs)
			}
			tab.quiet() // no call_state, no presence change, session up
			// The dial's bookkeeping is released just after the error reply
			// goes out: wait for it (bounded) rather than race it.
			var legs, dialing int
			for deadline := time.Now().Add(2 * time.Second); ; {
				r.srv.mu.Lock()
				legs, dialing = len(r.srv.legs), r.srv.users["alice"].dialing
				r.srv.mu.Unlock()
				if (legs == 0 && dialing == 0) || time.Now().After(deadline) {
					break
				}
				time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
			}
			if legs != 0 || dialing != 0 {
				t.Errorf("%d legs, %d dialing left behind", legs, dialing)
			}
		})
	}
}

func TestDialCallLimit(t *testing.T) {
	r := newRig(t, nil)
	r.srv.SetPlacer(&fakePlacer{})
	tab := r.signIn(t, "tok-alice")
	for i := range maxCallsPerUser {
		tab.request(map[string]any{"type": "dial", "to": "+15550199", "from": "+15550100", "sdp": "o"}, "dial_sdp")
		tab.expect("call_state")
		if i == 0 {
			tab.expect("presence")
		}
	}
	if m := tab.request(map[string]any{"type": "dial", "to": "+15550199", "from": "+15550100", "sdp": "o"}, "error"); m.str("code") != "unavailable" {
		t.Errorf("dial over the limit: %v, want unavailable", m)
	}
}
