package routing

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalidAction is wrapped by ParseAction errors.
var ErrInvalidAction = errors.New("invalid action")

// actionForms lists what ParseAction accepts, for error messages.
const actionForms = "want voicemail, team:<team>, forward:<+E.164 number> or hangup"

// ActionKind is what an Action does with a call.
type ActionKind int

// The action kinds. The zero value is ActionVoicemail, the safe default.
const (
	// ActionVoicemail takes a message (or hangs up when voicemail is off).
	ActionVoicemail ActionKind = iota
	// ActionTeam rings the available members of a team.
	ActionTeam
	// ActionForward rings another phone number through the trunk.
	ActionForward
	// ActionHangup ends the call, after hours with the closed announcement.
	ActionHangup
)

// String returns "voicemail", "team", "forward" or "hangup".
func (k ActionKind) String() string {
	switch k {
	case ActionVoicemail:
		return "voicemail"
	case ActionTeam:
		return "team"
	case ActionForward:
		return "forward"
	case ActionHangup:
		return "hangup"
	}
	return "ActionKind(" + strconv.Itoa(int(k)) + ")"
}

// Action is what happens to a call that is not (or no longer) ringing the
// number's own devices: on no answer, or after hours.
type Action struct {
	Kind   ActionKind
	Team   string // ActionTeam: the team's name
	Number string // ActionForward: the E.164 number to ring
}

// ParseAction parses "voicemail", "team:<team>", "forward:<+E164>" or
// "hangup". A team name must be non-empty without spaces; a forward target
// must look like E.164: "+" and 8..15 digits. Errors wrap ErrInvalidAction and
// say what is accepted.
func ParseAction(s string) (Action, error) {
	kind, arg, hasArg := strings.Cut(s, ":")
	switch kind {
	case "voicemail", "hangup":
		if hasArg {
			return Action{}, fmt.Errorf("%w: %q: %s takes no argument; %s", ErrInvalidAction, s, kind, actionForms)
		}
		if kind == "voicemail" {
			return Action{Kind: ActionVoicemail}, nil
		}
		return Action{Kind: ActionHangup}, nil
	case "team":
		if !hasArg || arg == "" {
			return Action{}, fmt.Errorf("%w: %q: the team name is missing; want team:<team>, e.g. team:sales", ErrInvalidAction, s)
		}
		if strings.ContainsAny(arg, " \t\r\n") {
			return Action{}, fmt.Errorf("%w: %q: a team name has no spaces", ErrInvalidAction, s)
		}
		return Action{Kind: ActionTeam, Team: arg}, nil
	case "forward":
		if !hasArg || arg == "" {
			return Action{}, fmt.Errorf("%w: %q: the number is missing; want forward:<+E.164 number>, e.g. forward:+48221234567", ErrInvalidAction, s)
		}
		if !isE164(arg) {
			return Action{}, fmt.Errorf("%w: %q: %q is not an E.164 number; want + and 8 to 15 digits, e.g. forward:+48221234567", ErrInvalidAction, s, arg)
		}
		return Action{Kind: ActionForward, Number: arg}, nil
	}
	return Action{}, fmt.Errorf("%w: %q: %s", ErrInvalidAction, s, actionForms)
}

// isE164 reports whether s is "+" followed by 8..15 digits, the first not 0
// (ITU-T E.164 §6: at most 15 digits, and a country code never starts with 0).
func isE164(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	return allDigits(s[1:])
}

// String formats a as ParseAction accepts it, so the two round-trip.
func (a Action) String() string {
	switch a.Kind {
	case ActionTeam:
		return "team:" + a.Team
	case ActionForward:
		return "forward:" + a.Number
	}
	return a.Kind.String()
}
