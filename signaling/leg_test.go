package signaling

import (
	"context"
	"testing"
	"time"

	"switchboard/call"
)

func TestTabHangup(t *testing.T) {
	r := newRig(t, nil)
	tab := r.available(t, "tok-alice")
	leg, peer := r.answerRing(t, tab, "c1")
	tab.request(map[string]any{"type": "hangup", "call_id": "c1"}, "ok")
	if m := tab.expect("call_state"); m.str("state") != "ended" || m.str("cause") != "normal_clearing" {
		t.Errorf("got %v, want call_state ended normal_clearing", m)
	}
	awaitClosed(t, leg.Done(), "leg ended")
	if cause, byRemote := leg.EndCause(); cause != call.CauseNormal || !byRemote {
		t.Errorf("EndCause = %v, %v; want normal clearing by the browser", cause, byRemote)
	}
	if !peer.isClosed() {
		t.Error("peer not closed")
	}
	if m := tab.expect("presence"); m.str("status") != "available" {
		t.Errorf("presence after the call = %v, want available", m)
	}
	// The engine's own end notice and hangup are not repeated to the tab.
	leg.CallState("ended", call.CauseNormal)
	if err := leg.Hangup(context.Background(), call.CauseNormal); err != nil {
		t.Fatal(err)
	}
	tab.quiet()
	tab.request(map[string]any{"type": "hangup", "call_id": "c1"}, "error")
}

func TestEngineHangup(t *testing.T) {
	r := newRig(t, nil)
	tab := r.available(t, "tok-alice")
	leg, peer := r.answerRing(t, tab, "c1")
	leg.CallState("answered", call.CauseNone)
	tab.expect("call_state")
	if err := leg.Hangup(context.Background(), call.CauseNormal); err != nil {
		t.Fatal(err)
	}
	if m := tab.expect("call_state"); m.str("state") != "ended" || m.str("cause") != "normal_clearing" || m.str("call_id") != "c1" {
		t.Errorf("got %v, want call_state ended normal_clearing", m)
	}
	awaitClosed(t, leg.Done(), "leg ended")
	if cause, byRemote := leg.EndCause(); cause != call.CauseNormal || byRemote {
		t.Errorf("EndCause = %v, %v; want normal clearing by us", cause, byRemote)
	}
	if !peer.isClosed() {
		t.Error("peer not closed")
	}
	tab.expect("presence")
	// Idempotent.
	if err := leg.Hangup(context.Background(), call.CauseFailed); err != nil {
		t.Fatal(err)
	}
	leg.CallState("held", call.CauseNone)
	tab.quiet()
}

func TestDeadSocketEndsLeg(t *testing.T) {
	r := newRig(t, func(cfg *Config) {
		cfg.PingInterval = 50 * time.Millisecond
		cfg.DeadAfter = 300 * time.Millisecond
	})
	tab := r.available(t, "tok-alice")
	watcher := r.signIn(t, "tok-alice") // another tab of the same user
	leg, peer := r.answerRing(t, tab, "c1")
	if m := watcher.expect("incoming"); m.str("call_id") != "c1" {
		t.Fatalf("watcher got %v", m)
	}
	watcher.expect("answered_elsewhere")
	watcher.expect("presence") // in_call

	// A live tab that answers pings survives many DeadAfter periods.
	survive := time.After(time.Second)
	for waiting := true; waiting; {
		select {
		case <-leg.Done():
			t.Fatal("leg ended while the tab answered pings")
		case <-survive:
			waiting = false
		}
	}

	tab.mute.Store(true) // the tab's network dies: no more pongs
	start := time.Now()
	awaitClosed(t, leg.Done(), "leg ended by dead-socket detection")
	if d := time.Since(start); d > time.Second {
		t.Errorf("dead socket detected after %v, want within DeadAfter (300ms)", d)
	}
	if cause, byRemote := leg.EndCause(); cause != call.CauseFailed || !byRemote {
		t.Errorf("EndCause = %v, %v; want network failure on the browser side", cause, byRemote)
	}
	if !peer.isClosed() {
		t.Error("peer not closed")
	}
	if m := watcher.expect("presence"); m.str("status") != "available" {
		t.Errorf("presence = %v, want available: the dead tab no longer counts", m)
	}
	eventually(t, "the dead tab is forgotten", func() bool {
		r.srv.mu.Lock()
		defer r.srv.mu.Unlock()
		return len(r.srv.users["alice"].tabs) == 1
	})
}

func TestSilentTabIsDeadWithoutCall(t *testing.T) {
	r := newRig(t, func(cfg *Config) {
		cfg.PingInterval = 50 * time.Millisecond
		cfg.DeadAfter = 300 * time.Millisecond
	})
	tab := r.available(t, "tok-alice")
	tab.mute.Store(true)
	start := time.Now()
	for range tab.msgs {
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("socket closed after %v, want within DeadAfter", d)
	}
	eventually(t, "alice unavailable", func() bool { return !r.srv.Available("alice") })
}

func TestPeerDeathEndsLeg(t *testing.T) {
	r := newRig(t, nil)
	tab := r.available(t, "tok-alice")
	leg, peer := r.answerRing(t, tab, "c1")
	peer.die() // ICE failed
	if m := tab.expect("call_state"); m.str("state") != "ended" || m.str("cause") != "network_failure" {
		t.Errorf("got %v, want call_state ended network_failure", m)
	}
	awaitClosed(t, leg.Done(), "leg ended")
	if cause, byRemote := leg.EndCause(); cause != call.CauseFailed || !byRemote {
		t.Errorf("EndCause = %v, %v", cause, byRemote)
	}
	tab.expect("presence")
	tab.quiet() // the session stays
}

func TestInCallRequests(t *testing.T) {
	r := newRig(t, nil)
	tab := r.available(t, "tok-alice")
	other := r.signIn(t, "tok-alice")
	leg, peer := r.answerRing(t, tab, "c1")
	other.expect("incoming")
	other.expect("answered_elsewhere")
	other.expect("presence")

	cand := `{"candidate":"candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host","sdpMid":"0","sdpMLineIndex":0}`
	tests := []struct {
		name string
		req  map[string]any
		want string // reply type, or error code
	}{
		{"ice", map[string]any{"type": "ice", "call_id": "c1", "candidate": rawJSON(cand)}, "ok"},
		{"end of candidates", map[string]any{"type": "ice", "call_id": "c1", "candidate": nil}, "ok"},
		{"ice without candidate", map[string]any{"type": "ice", "call_id": "c1"}, "bad_request"},
		{"ice candidate not an object", map[string]any{"type": "ice", "call_id": "c1", "candidate": "x"}, "bad_request"},
		{"ice for another call", map[string]any{"type": "ice", "call_id": "c9", "candidate": rawJSON(cand)}, "not_found"},
		{"dtmf", map[string]any{"type": "dtmf", "call_id": "c1", "digits": "0123456789*#ABCD"}, "ok"},
		{"dtmf bad digit", map[string]any{"type": "dtmf", "call_id": "c1", "digits": "12x"}, "bad_request"},
		{"dtmf too long", map[string]any{"type": "dtmf", "call_id": "c1", "digits": "000000000000000000000000000000000"}, "bad_request"},
		{"dtmf empty", map[string]any{"type": "dtmf", "call_id": "c1", "digits": ""}, "bad_request"},
		{"dtmf unknown call", map[string]any{"type": "dtmf", "call_id": "c9", "digits": "1"}, "not_found"},
		{"mute", map[string]any{"type": "mute", "call_id": "c1", "muted": true}, "ok"},
		{"mute without muted", map[string]any{"type": "mute", "call_id": "c1"}, "bad_request"},
		{"hold without held", map[string]any{"type": "hold", "call_id": "c1"}, "bad_request"},
		{"hold unknown call", map[string]any{"type": "hold", "call_id": "c9", "held": true}, "not_found"},
		{"ping", map[string]any{"type": "ping"}, "pong"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ := tt.want
			if typ != "ok" && typ != "pong" {
				typ = "error"
			}
			m := tab.request(tt.req, typ)
			if typ == "error" && m.str("code") != tt.want {
				t.Errorf("got %v, want error %s", m, tt.want)
			}
		})
	}
	if c := peer.gotCandidates(); len(c) != 1 || c[0] != cand {
		t.Errorf("peer candidates = %q, want the one trickled", c)
	}
	// Another tab of the same user cannot touch this tab's call.
	other.request(map[string]any{"type": "hangup", "call_id": "c1"}, "error")
	other.request(map[string]any{"type": "ice", "call_id": "c1", "candidate": rawJSON(cand)}, "error")

	// Our own trickled candidates reach the tab.
	peer.trickle(t, `{"candidate":"candidate:2 1 udp 1 192.0.2.1 3478 typ relay","sdpMid":"0"}`)
	if m := tab.expect("ice"); m.str("call_id") != "c1" || m["candidate"].(map[string]any)["sdpMid"] != "0" {
		t.Errorf("got %v, want our candidate", m)
	}

	// Muting did not end the call.
	select {
	case <-leg.Done():
		t.Fatal("the call ended on mute")
	default:
	}
}

func TestHold(t *testing.T) {
	r := newRig(t, nil)
	tab := r.available(t, "tok-alice")
	leg, peer := r.answerRing(t, tab, "c1")
	tab.request(map[string]any{"type": "hold", "call_id": "c1", "held": true}, "ok")
	tab.request(map[string]any{"type": "hold", "call_id": "c1", "held": false}, "ok")
	tab.request(map[string]any{"type": "hold", "call_id": "c1", "held": true}, "ok")
	var got []call.MediaUpdate
	for len(got) < 3 {
		select {
		case u := <-leg.Updates():
			got = append(got, u)
		case <-time.After(waitTimeout):
			t.Fatalf("got updates %+v, want three", got)
		}
	}
	for i, wantHeld := range []bool{true, false, true} {
		u := got[i]
		if u.Held != wantHeld || u.Send == wantHeld || u.Dir != peer.dir {
			t.Errorf("update %d = %+v, want held=%v send=%v dir=%+v", i, u, wantHeld, !wantHeld, peer.dir)
		}
	}
}

func TestHoldUpdatesKeepTheLatest(t *testing.T) {
	r := newRig(t, nil)
	tab := r.available(t, "tok-alice")
	leg, _ := r.answerRing(t, tab, "c1")
	// Nobody reads the updates: the channel must not block the tab and the
	// newest state must be delivered.
	for i := range 10 {
		tab.request(map[string]any{"type": "hold", "call_id": "c1", "held": i%2 == 0}, "ok")
	}
	var got []call.MediaUpdate
drain:
	for {
		select {
		case u := <-leg.Updates():
			got = append(got, u)
		default:
			break drain
		}
	}
	if len(got) == 0 {
		t.Fatal("no update")
	}
	last := got[len(got)-1]
	if last.Held {
		t.Errorf("latest update %+v, want resumed (the 10th request)", last)
	}
}
