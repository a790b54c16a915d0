package main

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// calleePair starts a callee answering after delay and a caller aimed at it
// on loopback, both on engine e.
func calleePair(t *testing.T, e *rtpEngine, delay time.Duration) (*callee, *caller) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	any0 := netip.AddrPortFrom(loopback, 0)
	calleeAg, err := newAgent(any0, "callee", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(calleeAg.close)
	callerAg, err := newAgent(any0, "caller", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(callerAg.close)
	ce := newCallee(calleeAg, e, ptPCMU, delay)
	cr := newCaller(callerAg, e, calleeAg.addr, "+15550100", []uint8{ptPCMU})
	if err := calleeAg.serve(); err != nil {
		t.Fatal(err)
	}
	if err := callerAg.serve(); err != nil {
		t.Fatal(err)
	}
	return ce, cr
}

// TestCalleeAnswerDelay: a callee with an answer delay rings first and
// answers after the delay, which the caller's setup time includes.
func TestCalleeAnswerDelay(t *testing.T) {
	const delay = 150 * time.Millisecond
	e := startEngine(t, 2, true)
	ce, cr := calleePair(t, e, delay)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	oc, err := cr.place(ctx, "+15552000001")
	if err != nil {
		t.Fatal(err)
	}
	if oc.setupTook < delay || oc.setupTook > delay+5*time.Second {
		t.Errorf("setup took %v, want at least the %v answer delay", oc.setupTook, delay)
	}
	waitFor(t, "the callee's stream", func() bool { return ce.answered.Load() == 1 && ce.live() == 1 })
	if err := cr.hangup(ctx, oc); err != nil {
		t.Fatalf("BYE: %v", err)
	}
	waitFor(t, "the BYE", func() bool { return ce.live() == 0 })
	if n := ce.cancelled.Load() + ce.rejected.Load(); n != 0 {
		t.Errorf("cancelled + rejected = %d, want 0", n)
	}
}

// TestCalleeCancelledWhileRinging: a CANCEL during the answer delay ends
// the call without a 200 OK, and the callee counts it as cancelled, as the
// SIP phone that loses a ringing: both race does.
func TestCalleeCancelledWhileRinging(t *testing.T) {
	e := startEngine(t, 2, true)
	ce, cr := calleePair(t, e, time.Minute)

	req := sip.NewRequest(sip.INVITE, cr.target)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "+15552000002", Host: cr.ag.addr.Addr().String()}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: cr.target, Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(buildSDP(1, netip.MustParseAddrPort("127.0.0.1:4000"), ptPCMU))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dlg, err := cr.cache.WriteInvite(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	defer dlg.Close()
	// Cancel as soon as the callee rings: sipgo sends CANCEL for a
	// cancelled context once a provisional response has arrived (RFC 3261 §9.1).
	ringCtx, stopRinging := context.WithCancel(ctx)
	var got []int
	err = dlg.WaitAnswer(ringCtx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
		got = append(got, res.StatusCode)
		if res.StatusCode == sip.StatusRinging {
			stopRinging()
		}
		return nil
	}})
	if err == nil {
		t.Fatalf("the call was answered (responses %v), want it cancelled", got)
	}
	var dr *sipgo.ErrDialogResponse
	if errors.As(err, &dr) && dr.Res.IsSuccess() {
		t.Fatalf("answered %d", dr.Res.StatusCode)
	}
	waitFor(t, "the callee to count the CANCEL", func() bool { return ce.cancelled.Load() == 1 })
	if a, r, n := ce.answered.Load(), ce.rejected.Load(), ce.live(); a != 0 || r != 0 || n != 0 {
		t.Errorf("answered %d, rejected %d, live %d; want 0 each", a, r, n)
	}
	if len(got) == 0 || got[0] != sip.StatusRinging {
		t.Errorf("responses before the CANCEL = %v, want 180 first", got)
	}
}
