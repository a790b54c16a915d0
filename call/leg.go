package call

import (
	"context"
	"errors"
	"fmt"

	"switchboard/media"
	"switchboard/store"
)

// Side names the party that ended a call in its record.
const (
	SideCaller = "caller"
	SideCallee = "callee"
	SideSystem = "system"
)

// Leg is one party of a call as the engine sees it. The SIP layer makes legs
// from dialogs; the engine never sees SIP messages.
type Leg interface {
	// Info describes the leg for the call record.
	Info() store.Leg
	// Media returns the leg's media port (a UDP endpoint for SIP, a WebRTC
	// peer for browsers) and what it speaks. ok is false until offer/answer
	// has completed (a late-offer INVITE learns it from the ACK).
	Media() (port media.Port, dir media.Direction, ok bool)
	// Updates delivers media changes after re-INVITE or UPDATE (hold, resume,
	// new codec). The channel is never closed.
	Updates() <-chan MediaUpdate
	// Done is closed when the leg has ended, by either side.
	Done() <-chan struct{}
	// EndCause reports why the leg ended and whether the far end ended it.
	// It is meaningful once Done is closed.
	EndCause() (cause Cause, byRemote bool)
	// Hangup ends the leg from our side (BYE after answer, CANCEL before),
	// telling the far end why. It is idempotent and releases the leg's media.
	Hangup(ctx context.Context, cause Cause) error
}

// MediaUpdate is a renegotiated media state of one leg.
type MediaUpdate struct {
	Dir media.Direction
	// Send is false while the leg does not want media (it put the call on hold
	// with sendonly/inactive, or gave c=0.0.0.0 per RFC 3264 §8.4).
	Send bool
	// Held is true while the leg has the call on hold; the RTP timeout is
	// suspended meanwhile because a held party may legitimately send nothing.
	Held bool
}

// DTMFLeg is a leg that also receives keys out of band (SIP INFO, for
// trunks that do not send RFC 4733 events in RTP). Prompts listen to both.
type DTMFLeg interface {
	// DTMF delivers keys as they arrive. It is never closed.
	DTMF() <-chan media.Digit
}

// InboundLeg is the caller's leg of an inbound call: a SIP INVITE not yet answered.
type InboundLeg interface {
	Leg
	// Trunk is the name of the trunk the call came in on.
	Trunk() string
	// Dialled is the user part of the Request-URI, as the trunk sent it.
	Dialled() string
	// Caller is the calling party's number or user, as the trunk sent it.
	Caller() string
	// Progress tells the caller the call is progressing: 180 Ringing, or 183
	// Session Progress with our SDP when earlyMedia is true (the callee's
	// ringback or announcement is then relayed).
	Progress(ctx context.Context, earlyMedia bool) error
	// Answer sends 200 OK with SDP and returns once the caller's ACK arrived.
	Answer(ctx context.Context) error
	// Reject sends a final failure response for cause (code overrides the
	// mapping when non-zero) and releases the leg.
	Reject(ctx context.Context, cause Cause, code int) error
}

// DialRequest asks a Dialer for an outbound leg.
type DialRequest struct {
	Trunk    string // trunk name from config
	To       string // E.164 number to call
	From     string // caller ID to present (number or user)
	FromName string // display name, may be empty
	// Prefer is the codec the other leg speaks; offering it first avoids transcoding.
	Prefer media.Direction
	// Progress is called for 180/183 responses with the leg, early is true
	// when the callee sent SDP and early media can flow. It may be nil.
	Progress func(leg Leg, early bool)
}

// Dialer places outbound legs. The SIP layer implements it; cmd wires it in.
type Dialer interface {
	// Dial blocks until the callee answers (it returns the answered leg) or the
	// attempt fails with a *DialError. Cancelling ctx sends CANCEL; when the
	// callee answered at the same moment, the leg is hung up and ctx's error returned.
	Dial(ctx context.Context, req DialRequest) (Leg, error)
}

// ErrDialFailed is wrapped by every DialError so callers can test for it.
var ErrDialFailed = errors.New("dial failed")

// DialError is a dial that ended without an answer.
type DialError struct {
	Cause  Cause
	Code   int    // the callee's final SIP status, 0 if none
	Reason string // the callee's reason phrase or a local explanation
}

// Error implements error.
func (e *DialError) Error() string {
	return fmt.Sprintf("dial failed: %s (%d %s)", e.Cause, e.Code, e.Reason)
}

// Unwrap lets errors.Is(err, ErrDialFailed) hold.
func (e *DialError) Unwrap() error { return ErrDialFailed }
