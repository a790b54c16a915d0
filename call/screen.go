package call

import (
	"context"
	"time"

	"switchboard/ivr"
	"switchboard/media"
	"switchboard/phone"
)

// screenTimeout is how long a forwarded phone has to press 1. A mobile's
// own voicemail answers and plays its greeting, and never presses 1.
const screenTimeout = 15 * time.Second

// screenedLeg is a forwarded leg that accepted the call, with the stream
// the screening prompt left toward it (the bridge continues it).
type screenedLeg struct {
	Leg
	cont media.StreamState
}

// screen asks the answered forwarded phone to press 1 ("Call for Support
// line, press 1 to accept") and returns it once it did. Anything else (no
// key in time, another key, the phone hanging up, the ring ending) hangs
// it up and counts as no answer, so a mobile's voicemail never takes the
// caller.
func (c *inboundCall) screen(ctx context.Context, leg Leg) (Leg, error) {
	noAnswer := func(reason string) (Leg, error) {
		_ = leg.Hangup(context.WithoutCancel(ctx), CauseNoAnswer)
		return nil, &DialError{Cause: CauseNoAnswer, Reason: reason}
	}
	port, dir, ok := leg.Media()
	if !ok || c.e.prompts == nil {
		return noAnswer("cannot screen the forwarded call")
	}
	name := c.num.Name
	if name == "" {
		name = phone.Format(c.num.E164)
	}
	src := ivr.Source{Text: "Call for " + name + ". Press 1 to accept.", Language: "en-us", Voice: "default"}
	frames, err := c.e.prompts.Frames(ctx, src, dir.PayloadType)
	if err != nil {
		c.log.Error("screening prompt unavailable", "error", err)
		return noAnswer("screening prompt unavailable")
	}
	line, err := media.NewLine(port, dir, media.StreamState{})
	if err != nil {
		return noAnswer(err.Error())
	}
	var info <-chan media.Digit
	if dl, ok := leg.(DTMFLeg); ok {
		info = dl.DTMF()
	}
	deadline := time.NewTimer(screenTimeout)
	defer deadline.Stop()
	p := line.Start(frames, false)
	for {
		var d media.Digit
		select {
		case <-p.Done():
			// Say it again until the time is up.
			p = line.Start(frames, false)
			continue
		case d = <-line.Digits():
		case d = <-info:
		case <-leg.Done():
			line.Release()
			return nil, &DialError{Cause: CauseNoAnswer, Reason: "the forwarded phone hung up during screening"}
		case <-deadline.C:
			line.Release()
			return noAnswer("the forwarded phone did not press 1")
		case <-ctx.Done():
			line.Release()
			return noAnswer("ringing ended during screening")
		}
		if d == '1' {
			c.log.Info("forwarded phone accepted the call")
			return &screenedLeg{Leg: leg, cont: line.Release()}, nil
		}
	}
}
