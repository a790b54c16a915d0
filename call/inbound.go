package call

import (
	"context"
	"errors"
	"strings"
	"time"

	"switchboard/media"
	"switchboard/metrics"
	"switchboard/phone"
	"switchboard/routing"
	"switchboard/store"
)

// inboundCall is a call from a trunk to one of our numbers.
type inboundCall struct {
	session
	num *Number
	// where the caller stands with the 1xx we sent: 0 none, 1 ringing, 2 early media
	progressSent int
	// afterHours selects the after-hours voicemail greeting.
	afterHours bool
}

// progress is one provisional event from a ringing attempt.
type progress struct {
	leg   Leg
	early bool
}

// attempt is one device being rung: the forward target or the owner's browsers.
type attempt struct {
	name string // "forward" or "browser"
	run  func(ctx context.Context, prog func(Leg, bool)) (Leg, error)
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
		session: session{
			e:      e,
			caller: caller,
			in:     caller,
			rec: store.CallRecord{
				Direction: store.DirectionInbound,
				Number:    num.E164,
				Caller:    caller.Caller(),
				Trunk:     caller.Trunk(),
				Legs:      []store.Leg{caller.Info()},
				StartedAt: time.Now().UTC(),
			},
		},
		num: num,
	}
	c.session.num = num
	c.rec.CallerID = e.callerID(caller.Caller())
	// Routing is decided before the record is written, so the record's one
	// synced write at call start already says where the call goes and why.
	plan := e.route(num, c.rec.Caller)
	c.rec.Route = plan.Trace
	c.rec.Callee = plannedCallee(plan, num)
	c.afterHours = plan.AfterHours
	c.open()
	c.log.Info("inbound call", "trunk", caller.Trunk(), "ringing", num.Ringing, "plan", plan.String())
	c.run(ctx, plan)
}

// callerID matches the caller to a contact, if a directory is set.
func (e *Engine) callerID(caller string) *store.CallerID {
	if e.contacts == nil {
		return nil
	}
	n, err := phone.Normalize(caller, e.cfg.DefaultRegion)
	if err != nil {
		return nil
	}
	if id, ok := e.contacts.Lookup(n); ok {
		return &id
	}
	return nil
}

func (c *inboundCall) callerDisplay() string {
	if n, err := phone.Normalize(c.rec.Caller, c.e.cfg.DefaultRegion); err == nil {
		return phone.Format(n)
	}
	return c.rec.Caller
}

// run carries out the routing plan: consent first when the call is
// recorded, then each step until one is answered or ends the call.
func (c *inboundCall) run(ctx context.Context, plan routing.Plan) {
	c.recordIt = c.records()
	if c.recordIt && !c.consent(ctx) {
		return
	}
	var last error = &DialError{Cause: CauseUnavailable, Reason: "nobody to ring"}
	for _, step := range plan.Steps {
		switch step.Kind {
		case routing.StepRing:
			atts := c.attemptsFor(step)
			if len(atts) == 0 {
				continue
			}
			c.ringback(ctx)
			callee, err := c.ring(ctx, atts, step.Timeout)
			if err == nil {
				if sl, ok := callee.(*screenedLeg); ok {
					callee, c.contB = sl.Leg, sl.cont
				}
				c.callee = callee
				c.answered(ctx)
				return
			}
			if errors.Is(err, errCallerGone) || errors.Is(err, errShutdown) {
				c.ringFailed(ctx, err)
				return
			}
			last = err
			c.log.Info("ring step not answered", "step", step.Why, "error", err)
			c.backToRingback(ctx)
		case routing.StepVoicemail:
			if c.takesVoicemail() {
				c.voicemail(ctx, asDialError(last))
				return
			}
			c.ringFailed(ctx, last)
			return
		case routing.StepHangup:
			if step.Closed {
				c.closed(ctx)
				return
			}
			c.ringFailed(ctx, last)
			return
		}
	}
	c.ringFailed(ctx, last)
}

// plannedCallee names who the record says the call is for before anyone
// answers: the first device the plan rings ("user:<id>" for browsers, the
// phone number), or when nothing rings (after hours, nobody available) the
// number's owner, the person the caller meant to reach.
func plannedCallee(p routing.Plan, n *Number) string {
	for _, st := range p.Steps {
		if st.Kind == routing.StepRing && len(st.Targets) > 0 {
			if t := st.Targets[0]; t.Kind == routing.TargetBrowser {
				return "user:" + t.User
			}
			return st.Targets[0].Number
		}
	}
	if n.Owner != "" {
		return "user:" + n.Owner
	}
	return ""
}

// asDialError is err as a *DialError (a failed dial), for outcomes.
func asDialError(err error) *DialError {
	var de *DialError
	if !errors.As(err, &de) {
		de = &DialError{Cause: CauseFailed, Reason: err.Error()}
	}
	return de
}

// ring runs every attempt at once until one answers, all fail, the ring
// timeout passes or the caller gives up. The losers are cancelled; one that
// answered in the same instant is hung up.
func (c *inboundCall) ring(ctx context.Context, atts []attempt, timeout time.Duration) (Leg, error) {
	ringCtx, cancelRing := context.WithTimeoutCause(ctx, timeout, errRingTimeout)
	defer cancelRing()
	prog := make(chan progress, 8)
	type result struct {
		leg Leg
		err error
	}
	res := make(chan result, len(atts))
	cancels := make([]context.CancelCauseFunc, len(atts))
	for i, a := range atts {
		actx, cancel := context.WithCancelCause(ringCtx)
		cancels[i] = cancel
		go func() {
			leg, err := a.run(actx, func(l Leg, early bool) {
				select {
				case prog <- progress{l, early}:
				default: // a burst of 18x: the first ones are enough
				}
			})
			res <- result{leg, err}
		}()
	}
	cancelAll := func(cause error) {
		for _, cancel := range cancels {
			cancel(cause)
		}
	}
	// drain collects the attempts still running and hangs up any that answered.
	drain := func(pending int, cause Cause) {
		for range pending {
			if r := <-res; r.leg != nil {
				_ = r.leg.Hangup(ctx, cause)
			}
		}
	}
	pending := len(atts)
	var errs []error
	for pending > 0 {
		select {
		case p := <-prog:
			c.progress(ctx, p)
		case <-c.caller.Done():
			// CANCEL from the caller: stop ringing everywhere (the CANCEL/200 race
			// is settled in drain: an answer in the same instant is hung up).
			cancelAll(errCallerGone)
			drain(pending, CauseCancelled)
			return nil, errCallerGone
		case <-c.e.stop:
			cancelAll(errShutdown)
			drain(pending, CauseShutdown)
			return nil, errShutdown
		case r := <-res:
			pending--
			if r.err == nil && r.leg != nil {
				cancelAll(ErrAnsweredElsewhere)
				drain(pending, CauseNormal)
				return r.leg, nil
			}
			if errors.Is(context.Cause(ringCtx), errRingTimeout) {
				r.err = &DialError{Cause: CauseNoAnswer, Reason: "no answer within " + timeout.String()}
			}
			errs = append(errs, r.err)
		}
	}
	return nil, worstOf(errs)
}

// worstOf picks the failure the caller should hear when every device failed:
// busy before declined before no answer before unavailable (RFC 3261 §16.7
// picks the "best" response similarly for forking).
func worstOf(errs []error) error {
	rank := map[Cause]int{CauseBusy: 6, CauseDeclined: 5, CauseNoAnswer: 4, CauseUnavailable: 3, CauseIncompatible: 2, CauseFailed: 1}
	var best *DialError
	var other error
	for _, err := range errs {
		var de *DialError
		if !errors.As(err, &de) {
			other = err
			continue
		}
		if best == nil || rank[de.Cause] > rank[best.Cause] {
			best = de
		}
	}
	if best != nil {
		return best
	}
	return other
}

var (
	errRingTimeout = errors.New("ring timeout")
	errCallerGone  = errors.New("caller hung up")
	errShutdown    = errors.New("gateway shutting down")
)

// progress relays a 180/183 to the caller. With early media from the callee
// the bridge starts now, so the caller hears the far end's ringback.
func (c *inboundCall) progress(ctx context.Context, p progress) {
	if p.early && c.bridge == nil && p.leg != nil {
		if c.startBridge(p.leg) {
			if c.progressSent == 2 || c.callerAnswered {
				return // the caller already takes our media (consent, ringback)
			}
			if err := c.in.Progress(ctx, true); err == nil {
				c.progressSent = 2
				return
			}
		}
	}
	if c.progressSent == 0 && !c.callerAnswered {
		if err := c.in.Progress(ctx, false); err == nil {
			c.progressSent = 1
		}
	}
}

func (c *inboundCall) ringFailed(ctx context.Context, err error) {
	switch {
	case errors.Is(err, errCallerGone):
		c.finish(ctx, store.OutcomeCancelled, CauseCancelled, SideCaller, 487)
		return
	case errors.Is(err, errShutdown):
		c.finish(ctx, store.OutcomeFailed, CauseShutdown, SideSystem, 0)
		return
	}
	de := asDialError(err)
	c.log.Info("nobody answered", "cause", de.Cause, "code", de.Code, "reason", de.Reason)
	outcome := store.OutcomeFailed
	switch de.Cause {
	case CauseBusy:
		outcome = store.OutcomeBusy
	case CauseNoAnswer, CauseDeclined, CauseUnavailable:
		outcome = store.OutcomeMissed
	}
	side := SideCallee
	if de.Code == 0 && (de.Cause == CauseNoAnswer || de.Cause == CauseUnavailable) {
		side = SideSystem // our ring timeout or nobody to ring, not the callee
	}
	c.finish(ctx, outcome, de.Cause, side, 0)
}

// answered connects the caller once a callee took the call.
func (c *inboundCall) answered(ctx context.Context) {
	c.rec.Callee = calleeName(c.callee, c.rec.Callee)
	if c.bridge != nil && c.bridged != c.callee {
		// Early media came from a target that lost the race: reconnect the
		// caller to the winner, continuing the caller's stream.
		st, err := c.bridge.Detach(media.SideA)
		c.bridge = nil
		if err != nil {
			c.log.Error("caller media lost switching from early media", "error", err)
			c.finish(ctx, store.OutcomeFailed, CauseFailed, SideSystem, 0)
			return
		}
		c.contA = st
	}
	c.startBridge(c.callee) // no-op with early media already flowing
	if !c.answerCaller(ctx) {
		return
	}
	if !c.startBridge(c.callee) {
		// Should not happen: after ACK both legs have negotiated media.
		c.finish(ctx, store.OutcomeFailed, CauseIncompatible, SideSystem, 0)
		return
	}
	c.connected(ctx)
}

// calleeName is what the record calls the answering device: the browser
// leg's user, or the forward number.
func calleeName(l Leg, def string) string {
	info := l.Info()
	switch {
	case info.Kind == "webrtc" && info.Peer != "":
		return info.Peer // "user:<id>"
	case info.Kind == "sip" && strings.HasPrefix(info.Peer, "sip:+"):
		return strings.TrimPrefix(info.Peer, "sip:") // the phone we dialled
	}
	return def
}
