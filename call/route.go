package call

import (
	"context"
	"time"

	"switchboard/routing"
)

// PresenceReporter is a Ringer that can also say why a user cannot take a
// call, for the routing trace. The signaling package implements it.
type PresenceReporter interface {
	Presence(user string) (available bool, reason string)
}

// member reports whether user can take a call now.
func (e *Engine) member(user string) routing.Member {
	if user == "" {
		return routing.Member{}
	}
	if e.ringer == nil {
		return routing.Member{ID: user, Reason: "no browser signaling"}
	}
	if p, ok := e.ringer.(PresenceReporter); ok {
		avail, why := p.Presence(user)
		return routing.Member{ID: user, Available: avail, Reason: why}
	}
	if e.ringer.Available(user) {
		return routing.Member{ID: user, Available: true}
	}
	return routing.Member{ID: user, Reason: "unavailable"}
}

// routingInput is what routing decides a call to n from caller at now by:
// the number's settings, and the availability of its owner and of the
// members of any team its actions name.
func (e *Engine) routingInput(n *Number, now time.Time, caller string) routing.Input {
	in := routing.Input{
		Number: routing.Number{
			E164: n.E164, Name: n.Name, Owner: e.member(n.Owner),
			Ringing: routing.Ringing(n.Ringing), ForwardTo: n.ForwardTo, RingTimeout: n.RingTimeout,
			Hours: n.Hours, NoAnswer: n.NoAnswer, AfterHours: n.AfterHours,
			Screening: n.Screening, Voicemail: n.Voicemail.Enabled && e.mailbox != nil && e.prompts != nil,
		},
		Now:    now,
		Caller: caller,
	}
	for _, a := range []routing.Action{n.NoAnswer, n.AfterHours} {
		if a.Kind != routing.ActionTeam {
			continue
		}
		t, ok := e.cfg.Teams[a.Team]
		if !ok {
			continue
		}
		if in.Teams == nil {
			in.Teams = make(map[string]routing.Team)
		}
		rt := routing.Team{Name: a.Team, Mode: t.Mode, MemberTimeout: t.MemberTimeout}
		for _, u := range t.Members {
			rt.Members = append(rt.Members, e.member(u))
		}
		in.Teams[a.Team] = rt
	}
	e.rotMu.Lock()
	in.Rotation = make(map[string]int, len(e.rotation))
	for k, v := range e.rotation {
		in.Rotation[k] = v
	}
	e.rotMu.Unlock()
	return in
}

// route decides where an inbound call goes and moves the teams' fair
// rotation on.
func (e *Engine) route(n *Number, caller string) routing.Plan {
	plan := routing.Decide(e.routingInput(n, e.cfg.Now(), caller))
	if len(plan.Rotated) > 0 {
		e.rotMu.Lock()
		for k, v := range plan.Rotated {
			e.rotation[k] = v
		}
		e.rotMu.Unlock()
	}
	return plan
}

// Simulate returns the plan a call from caller to number at would get now,
// with who is available now, without placing a call or moving a rotation.
// ok is false when number is not one of ours.
func (e *Engine) Simulate(number string, at time.Time, caller string) (plan routing.Plan, ok bool) {
	n, ok := e.Lookup(number)
	if !ok {
		return routing.Plan{}, false
	}
	return routing.Decide(e.routingInput(n, at, caller)), true
}

// attemptsFor turns a ring step's targets into attempts that ring at once.
func (c *inboundCall) attemptsFor(step routing.Step) []attempt {
	var out []attempt
	_, prefer, _ := c.caller.Media()
	for _, t := range step.Targets {
		switch t.Kind {
		case routing.TargetBrowser:
			if c.e.ringer == nil {
				continue
			}
			req := RingRequest{
				CallID:        c.rec.ID,
				User:          t.User,
				Number:        c.num.E164,
				NumberName:    c.num.Name,
				Caller:        c.rec.Caller,
				CallerDisplay: c.callerDisplay(),
				Contact:       c.rec.CallerID,
				Prefer:        prefer,
			}
			out = append(out, attempt{name: "browser:" + t.User, run: func(ctx context.Context, prog func(Leg, bool)) (Leg, error) {
				if !c.e.ringer.Available(req.User) {
					return nil, &DialError{Cause: CauseUnavailable, Reason: "nobody available"}
				}
				prog(nil, false) // the browsers ring now: 180 to the caller
				return c.e.ringer.Ring(ctx, req)
			}})
		case routing.TargetPhone:
			to, screen := t.Number, step.Screen
			out = append(out, attempt{name: "phone:" + to, run: func(ctx context.Context, prog func(Leg, bool)) (Leg, error) {
				leg, err := c.e.dialer.Dial(ctx, DialRequest{
					Trunk:    c.num.Trunk,
					To:       to,
					From:     c.in.Caller(),
					Prefer:   prefer,
					Progress: prog,
				})
				if err != nil || !screen {
					return leg, err
				}
				return c.screen(ctx, leg)
			}})
		}
	}
	return out
}
