package sip_test

import (
	"context"
	"testing"
	"time"

	"switchboard/metrics"
)

// TestGatewayDrain checks a graceful drain: new INVITEs and OPTIONS get 503
// with Retry-After (RFC 3261 §21.5.4) so the carrier tries another node,
// while the call already up goes on until it hangs up normally, and only
// then does Drain return.
func TestGatewayDrain(t *testing.T) {
	g := startGateway(t, gwOptions{})
	e := g.establish(t)

	drained := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() {
		g.engine.Drain(ctx)
		close(drained)
	}()
	eventually(t, 5*time.Second, "engine stops accepting", func() bool { return !g.engine.Accepting() })

	rejected := metrics.Rejected.WithLabelValues("draining")
	before := counterValue(t, rejected)
	c := g.trunk.newUAC(g.addr, ourNumber)
	c.sendInvite(sdpOffer(40000, "sendrecv", 0, 101))
	res := c.inviteFinal(5 * time.Second)
	if res.StatusCode != 503 {
		t.Fatalf("INVITE while draining: got %s, want 503", describe(res))
	}
	if header(res, "Retry-After") == "" {
		t.Errorf("503 while draining has no Retry-After")
	}
	c.ackFailure()
	if d := counterValue(t, rejected) - before; d != 1 {
		t.Errorf("rejected{draining} rose by %v, want 1", d)
	}
	g.callee.expectNone(100*time.Millisecond, "INVITE at the carrier proxy while draining", isRequest("INVITE", c.callID))
	if res := g.options(t, g.trunk); res.StatusCode != 503 {
		t.Errorf("OPTIONS while draining: got %s, want 503 so the carrier routes elsewhere", describe(res))
	}

	// The running call is untouched: media still flows, then it ends normally.
	e.callerRTP.flowsTo(e.gwA, e.calleeRTP, 3*time.Second)
	select {
	case <-drained:
		t.Fatal("Drain returned while a call was still up")
	default:
	}
	g.hangupFromCaller(t, e)
	select {
	case <-drained:
	case <-time.After(5 * time.Second):
		t.Fatal("Drain did not return after the last call ended")
	}
	rec := g.lastCall(t)
	if rec.HangupCause != "normal_clearing" || rec.HangupSide != "caller" {
		t.Errorf("record: cause %q side %q, want normal_clearing/caller (not shutdown)", rec.HangupCause, rec.HangupSide)
	}
}
