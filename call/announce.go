package call

import (
	"context"

	"switchboard/ivr"
	"switchboard/media"
	"switchboard/store"
)

// records reports whether the inbound call is recorded, and so whether the
// caller must hear the consent announcement first.
func (c *inboundCall) records() bool {
	return c.e.cfg.RecordingAllowed && c.num.Record && c.e.prompts != nil
}

// answerCaller answers the SIP caller (once). On failure the call is
// finished and it returns false.
func (c *inboundCall) answerCaller(ctx context.Context) bool {
	if c.callerAnswered {
		return true
	}
	if err := c.in.Answer(ctx); err != nil {
		// The caller cancelled in the same instant, or never ACKed.
		cause, side, outcome := CauseCancelled, SideCaller, store.OutcomeCancelled
		select {
		case <-c.caller.Done():
		default:
			cause, side, outcome = CauseFailed, SideSystem, store.OutcomeFailed
		}
		c.log.Info("caller leg not answered", "error", err)
		c.finish(ctx, outcome, cause, side, 0)
		return false
	}
	c.callerAnswered = true
	return true
}

// callerLine starts driving the caller's media with a Line (prompts),
// continuing cont. It returns false when the caller's media is not known.
func (s *session) callerLine(cont media.StreamState) bool {
	if s.line != nil {
		return true
	}
	port, dir, ok := s.caller.Media()
	if !ok {
		return false
	}
	line, err := media.NewLine(port, dir, cont)
	if err != nil {
		s.log.Error("cannot play prompts to the caller", "error", err)
		return false
	}
	s.line = line
	return true
}

// consent plays the recording-consent announcement to the caller before
// anything rings, as early media (183 with SDP, RFC 3960 §3). A late-offer
// INVITE gives us no caller media before the answer (RFC 3264 §5), so such a
// call is answered first. It returns false when the call ended meanwhile
// (it has then been finished). When the announcement cannot be played the
// call goes on without it, and consentPlayed stays false, which keeps the
// recorder off.
func (c *inboundCall) consent(ctx context.Context) bool {
	if _, _, ok := c.caller.Media(); ok {
		if err := c.in.Progress(ctx, true); err == nil {
			c.progressSent = 2
		}
	} else if !c.answerCaller(ctx) {
		return false
	}
	if !c.callerLine(media.StreamState{}) {
		c.log.Error("consent announcement not played: no caller media")
		return true
	}
	frames, err := c.e.prompts.Frames(ctx, c.num.Consent, c.line.Direction().PayloadType)
	if err != nil {
		c.log.Error("consent announcement unavailable: the call goes on unrecorded", "consent", c.num.Consent.String(), "error", err)
		return true
	}
	if !c.playToCaller(ctx, frames) {
		return false
	}
	c.consentPlayed = true
	return true
}

// playToCaller plays frames on the caller's line and waits for them. It
// returns false, with the call finished, when the caller hung up or the
// gateway is shutting down.
func (c *inboundCall) playToCaller(ctx context.Context, frames [][]byte) bool {
	p := c.line.Start(frames, false)
	select {
	case <-p.Done():
		return true
	case <-c.caller.Done():
		c.line.Stop(p)
		c.finish(ctx, store.OutcomeCancelled, CauseCancelled, SideCaller, 487)
		return false
	case <-c.e.stop:
		c.line.Stop(p)
		c.finish(ctx, store.OutcomeFailed, CauseShutdown, SideSystem, 0)
		return false
	}
}

// ringback plays the region's ringback tone on the caller's line while the
// targets ring: after a 183 with SDP the caller's phone plays what we send,
// not its own ringing tone. Without a line (no prompt played) the caller's
// phone makes its own ringback from our 180.
func (c *inboundCall) ringback(ctx context.Context) {
	if c.line == nil {
		return
	}
	frames, err := c.e.prompts.Frames(ctx, ivr.Source{Tone: ivr.ToneRingback}, c.line.Direction().PayloadType)
	if err != nil {
		c.log.Warn("no ringback tone", "error", err)
		return
	}
	c.line.Start(frames, true)
}

// outboundConsent plays the consent of the presented number to the called
// party after they answered, before the caller is connected. It returns
// false, with the call finished, when either side hung up meanwhile.
func (s *session) outboundConsent(ctx context.Context, num *Number) bool {
	port, dir, ok := s.callee.Media()
	if !ok || s.e.prompts == nil {
		return true
	}
	frames, err := s.e.prompts.Frames(ctx, num.Consent, dir.PayloadType)
	if err != nil {
		s.log.Error("consent announcement unavailable: the call goes on unrecorded", "error", err)
		return true
	}
	line, err := media.NewLine(port, dir, media.StreamState{})
	if err != nil {
		s.log.Error("consent announcement not played", "error", err)
		return true
	}
	p := line.Start(frames, false)
	select {
	case <-p.Done():
		s.contB = line.Release()
		s.consentPlayed = true
		return true
	case <-s.caller.Done():
		line.Release()
		s.finish(ctx, store.OutcomeCancelled, CauseCancelled, SideCaller, 0)
	case <-s.callee.Done():
		line.Release()
		s.finish(ctx, store.OutcomeMissed, CauseNormal, SideCallee, 0)
	case <-s.e.stop:
		line.Release()
		s.finish(ctx, store.OutcomeFailed, CauseShutdown, SideSystem, 0)
	}
	return false
}

// closed ends a call that arrived after hours on a number whose after-hours
// action is hangup: the caller hears the closed announcement as early
// media, then gets 480 (RFC 3261 §21.4.18: nobody can take the call now).
func (c *inboundCall) closed(ctx context.Context) {
	if c.e.prompts != nil && (c.num.Closed.Text != "" || c.num.Closed.Audio != "") {
		if _, _, ok := c.caller.Media(); ok && !c.callerAnswered && c.progressSent < 2 {
			if err := c.in.Progress(ctx, true); err == nil {
				c.progressSent = 2
			}
		}
		if c.callerLine(media.StreamState{}) {
			frames, err := c.e.prompts.Frames(ctx, c.num.Closed, c.line.Direction().PayloadType)
			if err != nil {
				c.log.Error("closed announcement unavailable", "error", err)
			} else if !c.playToCaller(ctx, frames) {
				return
			}
		}
	}
	c.finish(ctx, store.OutcomeMissed, CauseUnavailable, SideSystem, 480)
}

// backToRingback puts the caller back on ringback after a ring step failed
// while its early media was bridged to the caller: the bridge is detached
// and the caller's stream continues on a Line.
func (c *inboundCall) backToRingback(ctx context.Context) {
	if c.bridge == nil {
		return
	}
	st, err := c.bridge.Detach(media.SideA)
	c.bridge = nil
	if err != nil {
		c.log.Warn("early media not detached", "error", err)
		return
	}
	if c.callerLine(st) {
		c.ringback(ctx)
	}
}
