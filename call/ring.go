package call

import (
	"context"
	"errors"

	"switchboard/media"
	"switchboard/store"
)

// RingRequest asks a Ringer to ring one user's browsers.
type RingRequest struct {
	CallID        string          // the call's id (its record id), used as call_id on the wire
	User          string          // user id whose available tabs ring
	Number        string          // our number that was called (E.164)
	NumberName    string          // its label
	Caller        string          // caller number as the trunk sent it
	CallerDisplay string          // formatted for display
	Contact       *store.CallerID // CRM match or nil
	Prefer        media.Direction // the phone side's codec, to offer first (avoids transcoding)
}

// Ringer rings a user's browsers. The signaling package implements it.
type Ringer interface {
	// Ring blocks until one tab answers (it returns that tab's leg with media
	// negotiated), every ringing tab declines (*DialError, CauseDeclined),
	// nobody is available (*DialError, CauseUnavailable) or ctx ends; then the
	// tabs hear "answered_elsewhere" when context.Cause(ctx) is
	// ErrAnsweredElsewhere and "cancelled" otherwise.
	Ring(ctx context.Context, req RingRequest) (Leg, error)
	// Available reports whether the user has a tab that is available and not in a call.
	Available(user string) bool
}

// ErrAnsweredElsewhere is the cause of a ringing attempt cancelled because
// another device took the call.
var ErrAnsweredElsewhere = errors.New("answered elsewhere")

// StateListener is implemented by legs that show call progress to a person
// (browser legs). The engine reports "ringing", "early_media", "answered",
// "held" and "ended" (with the cause).
type StateListener interface {
	CallState(state string, cause Cause)
}

// OutboundRequest is a call a user places from the browser.
type OutboundRequest struct {
	User string // who places it
	From string // caller ID to present: one of the user's numbers (E.164)
	To   string // the number as typed
}

// Errors of PlaceOutbound that callers branch on.
var (
	// ErrForbiddenCallerID: the user may not present that number.
	ErrForbiddenCallerID = errors.New("caller ID is not one of the user's numbers")
	// ErrBadNumber: the dialled string is not a phone number.
	ErrBadNumber = errors.New("not a phone number")
)

// CallerDirectory matches caller numbers to CRM contacts. The contacts
// package implements it.
type CallerDirectory interface {
	Lookup(e164 string) (store.CallerID, bool)
}

// notify tells leg about call progress if it listens.
func notify(leg Leg, state string, cause Cause) {
	if l, ok := leg.(StateListener); ok && leg != nil {
		l.CallState(state, cause)
	}
}
