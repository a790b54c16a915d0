package call

import (
	"context"
	"errors"
	"fmt"
	"time"

	"switchboard/phone"
	"switchboard/store"
)

// outboundRingTimeout bounds ringing for calls placed from a browser; the
// person can hang up sooner.
const outboundRingTimeout = 120 * time.Second

// PlaceOutbound starts a call from a user's browser leg to a number typed in
// any common format, presenting one of the user's numbers as caller ID and
// leaving through that number's trunk. It validates synchronously and runs
// the call in the background, reporting progress to the leg (StateListener).
// It returns the call's id.
func (e *Engine) PlaceOutbound(leg Leg, req OutboundRequest) (string, error) {
	if e.draining.Load() {
		return "", ErrDraining
	}
	from, err := phone.Normalize(req.From, e.cfg.DefaultRegion)
	if err != nil {
		return "", fmt.Errorf("%w: %q", ErrForbiddenCallerID, req.From)
	}
	num, ok := (*e.numbers.Load())[from]
	// Toll-fraud guard: a user dials out only as a number they own.
	if !ok || num.Owner == "" || num.Owner != req.User {
		return "", fmt.Errorf("%w: %s", ErrForbiddenCallerID, from)
	}
	to, err := phone.Normalize(req.To, e.cfg.DefaultRegion)
	if err != nil {
		return "", fmt.Errorf("%w: %q", ErrBadNumber, req.To)
	}
	s := &session{
		e:      e,
		caller: leg,
		rec: store.CallRecord{
			Direction: store.DirectionOutbound,
			Number:    num.E164,
			Caller:    "user:" + req.User,
			Callee:    to,
			Trunk:     num.Trunk,
			Legs:      []store.Leg{leg.Info()},
			StartedAt: time.Now().UTC(),
		},
	}
	s.rec.CallerID = e.callerID(to)
	s.open()
	s.log.Info("outbound call", "user", req.User, "to", to, "trunk", num.Trunk)
	e.spawn(func() { s.runOutbound(num, to, req.User) })
	return s.rec.ID, nil
}

func (s *session) runOutbound(num *Number, to, user string) {
	ctx := context.Background()
	ringCtx, cancel := context.WithTimeoutCause(ctx, outboundRingTimeout, errRingTimeout)
	defer cancel()
	_, prefer, _ := s.caller.Media()
	prog := make(chan progress, 8)
	type result struct {
		leg Leg
		err error
	}
	res := make(chan result, 1)
	go func() {
		leg, err := s.e.dialer.Dial(ringCtx, DialRequest{
			Trunk:  num.Trunk,
			To:     to,
			From:   num.E164,
			Prefer: prefer,
			Progress: func(l Leg, early bool) {
				select {
				case prog <- progress{l, early}:
				default:
				}
			},
		})
		res <- result{leg, err}
	}()
	state := ""
	for {
		select {
		case p := <-prog:
			// Early media: the person hears the far end's ringback or announcement.
			next := "ringing"
			if p.early && s.startBridge(p.leg) {
				next = "early_media"
			}
			if next != state && state != "early_media" {
				state = next
				notify(s.caller, state, CauseNone)
			}
		case <-s.caller.Done():
			cancel()
			if r := <-res; r.leg != nil {
				_ = r.leg.Hangup(ctx, CauseCancelled)
			}
			s.finish(ctx, store.OutcomeCancelled, CauseCancelled, SideCaller, 0)
			return
		case <-s.e.stop:
			cancel()
			if r := <-res; r.leg != nil {
				_ = r.leg.Hangup(ctx, CauseShutdown)
			}
			s.finish(ctx, store.OutcomeFailed, CauseShutdown, SideSystem, 0)
			return
		case r := <-res:
			if r.err != nil {
				s.outboundFailed(ctx, r.err, ringCtx)
				return
			}
			s.callee = r.leg
			s.num = num
			s.recordIt = s.e.cfg.RecordingAllowed && s.e.cfg.RecordOutbound[user]
			if s.recordIt && !s.outboundConsent(ctx, num) {
				return
			}
			if !s.startBridge(s.callee) {
				s.finish(ctx, store.OutcomeFailed, CauseIncompatible, SideSystem, 0)
				return
			}
			s.connected(ctx)
			return
		}
	}
}

func (s *session) outboundFailed(ctx context.Context, err error, ringCtx context.Context) {
	var de *DialError
	if !errors.As(err, &de) {
		de = &DialError{Cause: CauseFailed, Reason: err.Error()}
	}
	side := SideCallee
	if errors.Is(context.Cause(ringCtx), errRingTimeout) {
		de = &DialError{Cause: CauseNoAnswer, Reason: "no answer"}
		side = SideSystem
	}
	outcome := store.OutcomeFailed
	switch de.Cause {
	case CauseBusy:
		outcome = store.OutcomeBusy
	case CauseNoAnswer, CauseDeclined, CauseUnavailable:
		outcome = store.OutcomeMissed
	}
	s.log.Info("outbound call not answered", "cause", de.Cause, "code", de.Code, "reason", de.Reason)
	s.finish(ctx, outcome, de.Cause, side, de.Code)
}
