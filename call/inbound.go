package call

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"switchboard/media"
	"switchboard/metrics"
	"switchboard/store"
)

// setupTimeout bounds one signalling step we wait on (an ACK, a final
// response to our BYE); RFC 3261 §17.1.1.2 Timer B is 64*T1 = 32 s.
const setupTimeout = 32 * time.Second

// inboundCall is the state of one inbound call while it runs.
type inboundCall struct {
	e      *Engine
	log    *slog.Logger
	caller InboundLeg
	callee Leg
	num    *Number
	rec    store.CallRecord
	bridge *media.Bridge

	// where the caller stands with the 1xx we sent: 0 none, 1 ringing, 2 early media
	progressSent int
}

// progress is one provisional event from the dialer.
type progress struct {
	leg   Leg
	early bool
}

func (e *Engine) runInbound(caller InboundLeg) {
	ctx := context.Background()
	num, ok := e.Lookup(caller.Dialled())
	if !ok {
		metrics.Rejected.WithLabelValues("not_found").Inc()
		e.log.Info("inbound call to a number we do not own", "dialled", caller.Dialled(), "caller", caller.Caller(), "trunk", caller.Trunk())
		_ = caller.Reject(ctx, CauseNotFound, 0)
		return
	}
	c := &inboundCall{
		e:      e,
		caller: caller,
		num:    num,
		rec: store.CallRecord{
			Direction: "inbound",
			Number:    num.E164,
			Caller:    caller.Caller(),
			Callee:    num.ForwardTo,
			Trunk:     caller.Trunk(),
			Legs:      []store.Leg{caller.Info()},
			StartedAt: time.Now().UTC(),
		},
	}
	if err := e.store.CreateCall(&c.rec); err != nil {
		// The call goes on: a caller must not lose the call because the disk
		// is full; /healthz turns red and the log says what was lost.
		e.log.Error("call record not written", "error", err, "number", num.E164)
	}
	c.log = e.log.With("call", c.rec.ID, "number", num.E164, "caller", c.rec.Caller)
	c.log.Info("inbound call", "trunk", caller.Trunk(), "ringing", num.Ringing)
	c.run(ctx)
}

func (c *inboundCall) run(ctx context.Context) {
	switch c.num.Ringing {
	case "forward", "both":
		// "both" also rings the owner's browsers once the softphone exists;
		// until then the forward target is the only device.
	default:
		// Browser ringing needs connected agents; none can be reached yet.
		c.finish(ctx, store.OutcomeMissed, CauseUnavailable, SideSystem, 0)
		return
	}
	if c.num.ForwardTo == "" {
		c.finish(ctx, store.OutcomeMissed, CauseUnavailable, SideSystem, 0)
		return
	}
	callee, err := c.dial(ctx)
	if err != nil {
		c.dialFailed(ctx, err)
		return
	}
	c.callee = callee
	c.answered(ctx)
}

// dial rings the forward target until it answers, fails, the ring timeout
// passes, or the caller gives up.
func (c *inboundCall) dial(ctx context.Context) (Leg, error) {
	ringCtx, cancel := context.WithTimeoutCause(ctx, c.num.RingTimeout, errRingTimeout)
	defer cancel()
	prog := make(chan progress, 4)
	type result struct {
		leg Leg
		err error
	}
	res := make(chan result, 1)
	_, prefer, _ := c.caller.Media()
	go func() {
		leg, err := c.e.dialer.Dial(ringCtx, DialRequest{
			Trunk:  c.num.Trunk,
			To:     c.num.ForwardTo,
			From:   c.caller.Caller(),
			Prefer: prefer,
			Progress: func(l Leg, early bool) {
				select {
				case prog <- progress{l, early}:
				default: // a burst of 18x: the first ones are enough
				}
			},
		})
		res <- result{leg, err}
	}()
	for {
		select {
		case p := <-prog:
			c.progress(ctx, p)
		case <-c.caller.Done():
			// CANCEL from the caller: stop ringing. If the callee answered in
			// the same instant (the CANCEL/200 race), hang it up.
			cancel()
			r := <-res
			if r.leg != nil {
				_ = r.leg.Hangup(ctx, CauseCancelled)
			}
			return nil, errCallerGone
		case <-c.e.stop:
			cancel()
			r := <-res
			if r.leg != nil {
				_ = r.leg.Hangup(ctx, CauseShutdown)
			}
			return nil, errShutdown
		case r := <-res:
			if r.err != nil && errors.Is(context.Cause(ringCtx), errRingTimeout) {
				return nil, &DialError{Cause: CauseNoAnswer, Reason: "no answer within " + c.num.RingTimeout.String()}
			}
			return r.leg, r.err
		}
	}
}

var (
	errRingTimeout = errors.New("ring timeout")
	errCallerGone  = errors.New("caller hung up")
	errShutdown    = errors.New("gateway shutting down")
)

// progress relays a 180/183 to the caller. With early media from the callee
// the bridge starts now, so the caller hears the far end's ringback.
func (c *inboundCall) progress(ctx context.Context, p progress) {
	if p.early && c.progressSent < 2 {
		if c.startBridge(p.leg) {
			if err := c.caller.Progress(ctx, true); err == nil {
				c.progressSent = 2
				return
			}
		}
	}
	if c.progressSent == 0 {
		if err := c.caller.Progress(ctx, false); err == nil {
			c.progressSent = 1
		}
	}
}

// startBridge connects the caller's and callee's media once both are known.
func (c *inboundCall) startBridge(callee Leg) bool {
	if c.bridge != nil {
		return true
	}
	aEP, aDir, ok := c.caller.Media()
	if !ok {
		return false
	}
	bEP, bDir, ok := callee.Media()
	if !ok {
		return false
	}
	c.bridge = media.NewBridge(aEP, bEP, aDir, bDir, c.e.stats)
	c.bridge.Start()
	return true
}

func (c *inboundCall) dialFailed(ctx context.Context, err error) {
	switch {
	case errors.Is(err, errCallerGone):
		c.finish(ctx, store.OutcomeCancelled, CauseCancelled, SideCaller, 487)
		return
	case errors.Is(err, errShutdown):
		c.finish(ctx, store.OutcomeFailed, CauseShutdown, SideSystem, 0)
		return
	}
	var de *DialError
	if !errors.As(err, &de) {
		de = &DialError{Cause: CauseFailed, Reason: err.Error()}
	}
	c.log.Info("forward target did not answer", "cause", de.Cause, "code", de.Code, "reason", de.Reason)
	outcome := store.OutcomeFailed
	switch de.Cause {
	case CauseBusy:
		outcome = store.OutcomeBusy
	case CauseNoAnswer, CauseDeclined, CauseUnavailable:
		outcome = store.OutcomeMissed
	}
	side := SideCallee
	if de.Cause == CauseNoAnswer && de.Code == 0 {
		side = SideSystem // our ring timeout ended it, not the callee
	}
	c.finish(ctx, outcome, de.Cause, side, 0)
}

// answered connects the caller once the callee took the call, then relays
// until either side hangs up or media stops.
func (c *inboundCall) answered(ctx context.Context) {
	c.startBridge(c.callee) // no-op with early media already flowing
	if err := c.caller.Answer(ctx); err != nil {
		// The caller cancelled in the same instant, or never ACKed.
		cause, side, outcome := CauseCancelled, SideCaller, store.OutcomeCancelled
		select {
		case <-c.caller.Done():
		default:
			cause, side, outcome = CauseFailed, SideSystem, store.OutcomeFailed
		}
		c.log.Info("caller leg not answered", "error", err)
		_ = c.callee.Hangup(ctx, cause)
		c.finish(ctx, outcome, cause, side, 0)
		return
	}
	if !c.startBridge(c.callee) {
		// Should not happen: after ACK both legs have negotiated media.
		_ = c.callee.Hangup(ctx, CauseIncompatible)
		_ = c.caller.Hangup(ctx, CauseIncompatible)
		c.finish(ctx, store.OutcomeFailed, CauseIncompatible, SideSystem, 0)
		return
	}
	// The 200's SDP is final: it may differ from an earlier 183's (RFC 3264 §8).
	if _, bDir, ok := c.callee.Media(); ok {
		c.bridge.SetDirection(media.SideB, bDir)
	}
	now := time.Now().UTC()
	c.rec.AnsweredAt = &now
	c.rec.Legs[0] = c.caller.Info() // a late offer learnt its codec from the ACK
	c.rec.Legs = append(c.rec.Legs, c.callee.Info())
	rec := c.rec
	if err := c.e.store.UpdateCall(c.rec.ID, func(r *store.CallRecord) error {
		r.AnsweredAt = rec.AnsweredAt
		r.Legs = rec.Legs
		return nil
	}); err != nil {
		c.log.Error("call record not updated on answer", "error", err)
	}
	c.log.Info("call answered", "callee", c.rec.Callee)
	c.talk(ctx)
}

// talk runs the answered call.
func (c *inboundCall) talk(ctx context.Context) {
	started := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var aHeld, bHeld bool
	for {
		select {
		case <-c.caller.Done():
			_ = c.callee.Hangup(ctx, CauseNormal)
			c.finish(ctx, store.OutcomeAnswered, CauseNormal, SideCaller, 0)
			return
		case <-c.callee.Done():
			_ = c.caller.Hangup(ctx, CauseNormal)
			c.finish(ctx, store.OutcomeAnswered, CauseNormal, SideCallee, 0)
			return
		case u := <-c.caller.Updates():
			aHeld = u.Held
			c.bridge.SetDirection(media.SideA, u.Dir)
			c.bridge.SetSendEnabled(media.SideA, u.Send)
		case u := <-c.callee.Updates():
			bHeld = u.Held
			c.bridge.SetDirection(media.SideB, u.Dir)
			c.bridge.SetSendEnabled(media.SideB, u.Send)
		case <-c.e.stop:
			_ = c.callee.Hangup(ctx, CauseShutdown)
			_ = c.caller.Hangup(ctx, CauseShutdown)
			c.finish(ctx, store.OutcomeAnswered, CauseShutdown, SideSystem, 0)
			return
		case now := <-tick.C:
			if aHeld || bHeld || c.e.cfg.RTPTimeout <= 0 {
				continue
			}
			last := c.bridge.LastPacket()
			if last.Before(started) {
				last = started
			}
			if now.Sub(last) >= c.e.cfg.RTPTimeout {
				c.log.Warn("no RTP: hanging up", "silent_for", now.Sub(last).Round(time.Second))
				_ = c.callee.Hangup(ctx, CauseRTPTimeout)
				_ = c.caller.Hangup(ctx, CauseRTPTimeout)
				c.finish(ctx, store.OutcomeAnswered, CauseRTPTimeout, SideSystem, 0)
				return
			}
		}
	}
}

// finish ends the call: rejects the caller if still unanswered, stops media
// and closes the record.
func (c *inboundCall) finish(ctx context.Context, outcome store.Outcome, cause Cause, side string, code int) {
	if c.bridge != nil {
		c.bridge.Stop()
	}
	if c.rec.AnsweredAt == nil && cause != CauseCancelled {
		if code == 0 {
			code = cause.SIPStatus()
		}
		_ = c.caller.Reject(ctx, cause, code)
	} else if c.rec.AnsweredAt == nil {
		_ = c.caller.Hangup(ctx, cause)
	}
	if c.callee != nil {
		_ = c.callee.Hangup(ctx, cause)
	}
	now := time.Now().UTC()
	c.rec.EndedAt = &now
	c.rec.Outcome = outcome
	c.rec.HangupCause = cause.String()
	c.rec.HangupSide = side
	if code == 0 && c.rec.AnsweredAt == nil {
		code = cause.SIPStatus()
	}
	if code != 0 {
		c.rec.SIPCode = code
	}
	if c.rec.AnsweredAt != nil {
		c.rec.DurationSeconds = now.Sub(*c.rec.AnsweredAt).Seconds()
		if c.rec.SIPCode == 0 {
			c.rec.SIPCode = 200
		}
	}
	rec := c.rec
	if err := c.e.store.UpdateCall(rec.ID, func(r *store.CallRecord) error {
		*r = rec
		return nil
	}); err != nil {
		c.log.Error("call record not closed", "error", err)
	}
	metrics.CallsTotal.WithLabelValues(string(outcome)).Inc()
	c.log.Info("call ended", "outcome", outcome, "cause", cause, "side", side, "duration_s", rec.DurationSeconds)
}
