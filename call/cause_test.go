package call

import (
	"errors"
	"testing"
)

func TestCauseSIPStatusAndName(t *testing.T) {
	for _, tc := range []struct {
		cause Cause
		code  int
		name  string
	}{
		{CauseBusy, 486, "user_busy"},
		{CauseDeclined, 603, "call_rejected"},
		{CauseNoAnswer, 480, "no_answer"},
		{CauseUnavailable, 480, "temporarily_unavailable"},
		{CauseCancelled, 487, "originator_cancel"},
		{CauseNotFound, 404, "unallocated_number"},
		{CauseForbidden, 403, "forbidden"},
		{CauseIncompatible, 488, "incompatible_destination"},
		{CauseShutdown, 503, "shutdown"},
		{CauseFailed, 502, "network_failure"},
		{CauseRTPTimeout, 502, "rtp_timeout"},
		{Cause(99), 502, "unknown"},
	} {
		if got := tc.cause.SIPStatus(); got != tc.code {
			t.Errorf("%v.SIPStatus() = %d, want %d", tc.cause, got, tc.code)
		}
		if got := tc.cause.String(); got != tc.name {
			t.Errorf("Cause(%d).String() = %q, want %q", int(tc.cause), got, tc.name)
		}
	}
}

// TestWorstOf: when every device failed, the caller hears the most telling
// failure, whatever order the attempts ended in.
func TestWorstOf(t *testing.T) {
	busy := &DialError{Cause: CauseBusy, Code: 486}
	declined := &DialError{Cause: CauseDeclined}
	noAnswer := &DialError{Cause: CauseNoAnswer}
	unavailable := &DialError{Cause: CauseUnavailable}
	other := errors.New("socket closed")
	for _, tc := range []struct {
		name string
		errs []error
		want error
	}{
		{"busy phone beats a browser nobody answered", []error{noAnswer, busy}, busy},
		{"decline beats unavailable", []error{unavailable, declined}, declined},
		{"no answer beats unavailable", []error{unavailable, noAnswer}, noAnswer},
		{"a DialError beats a plain error", []error{other, unavailable}, unavailable},
		{"only a plain error", []error{other}, other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := worstOf(tc.errs); got != tc.want {
				t.Errorf("worstOf = %v, want %v", got, tc.want)
			}
		})
	}
	if !errors.Is(busy, ErrDialFailed) {
		t.Error("a DialError must match ErrDialFailed")
	}
}
