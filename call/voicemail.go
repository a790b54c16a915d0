package call

import (
	"context"
	"errors"
	"path/filepath"

	"switchboard/ivr"
	"switchboard/media"
	"switchboard/store"
)

// takesVoicemail reports whether a caller nobody answered goes to voicemail.
func (c *inboundCall) takesVoicemail() bool {
	return c.num.Voicemail.Enabled && c.e.mailbox != nil && c.e.prompts != nil
}

// greeting returns which greeting the caller hears and its source: an
// uploaded greeting when there is one, else the configured one.
func (c *inboundCall) greeting() (store.GreetingKind, ivr.Source) {
	kind, src := store.GreetingInHours, c.num.Voicemail.InHours
	if c.afterHours {
		kind, src = store.GreetingAfterHours, c.num.Voicemail.AfterHours
	}
	g, err := c.e.store.GetGreeting(c.num.E164, kind)
	switch {
	case err == nil:
		return kind, ivr.Source{Audio: filepath.Join(c.e.cfg.DataDir, filepath.FromSlash(g.File))}
	case !errors.Is(err, store.ErrNotFound):
		c.log.Warn("uploaded greeting unavailable; using the configured one", "kind", kind, "error", err)
	}
	return kind, src
}

// voicemail answers the caller and lets them leave a message: greeting,
// beep, recording. why is what sent the call here (for the log). Early
// media from a forward target that failed is detached first: the caller's
// stream continues from it.
func (c *inboundCall) voicemail(ctx context.Context, why *DialError) {
	c.log.Info("to voicemail", "because", why.Cause, "reason", why.Reason)
	var cont media.StreamState
	if c.bridge != nil {
		st, err := c.bridge.Detach(media.SideA)
		c.bridge = nil
		if err != nil {
			c.log.Error("caller media lost with the failed early media", "error", err)
			c.finish(ctx, store.OutcomeMissed, why.Cause, SideSystem, 0)
			return
		}
		cont = st
	}
	if !c.answerCaller(ctx) {
		return
	}
	if !c.callerLine(cont) {
		c.finish(ctx, store.OutcomeFailed, CauseIncompatible, SideSystem, 0)
		return
	}
	kind, src := c.greeting()
	var digits <-chan media.Digit
	if dl, ok := c.caller.(DTMFLeg); ok {
		digits = dl.DTMF()
	}
	vctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.e.stop:
			cancel()
		case <-vctx.Done():
		}
	}()
	vm, err := c.e.mailbox.Leave(vctx, ivr.Message{
		Line:           c.line,
		Digits:         digits,
		Hangup:         c.caller.Done(),
		Greeting:       src,
		Kind:           kind,
		MaxLength:      c.num.Voicemail.MaxLength,
		SilenceTimeout: c.num.Voicemail.SilenceTimeout,
		Record: store.Voicemail{
			CallID:   c.rec.ID,
			Number:   c.num.E164,
			Owner:    c.num.Owner,
			Caller:   c.rec.Caller,
			CallerID: c.rec.CallerID,
		},
	})
	if err != nil {
		c.log.Error("voicemail failed", "error", err)
	}
	cause, side := CauseNormal, SideSystem
	select {
	case <-c.caller.Done():
		side = SideCaller
	default:
	}
	select {
	case <-c.e.stop:
		cause = CauseShutdown
	default:
	}
	if vm == nil {
		c.finish(ctx, store.OutcomeMissed, cause, side, 0)
		return
	}
	c.rec.VoicemailID = vm.ID
	c.finish(ctx, store.OutcomeVoicemail, cause, side, 0)
}
