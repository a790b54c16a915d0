package call

// Cause says why a leg or a call ended. The SIP layer maps a Cause to a status
// code and a Reason header (RFC 3326); the call record stores its String().
type Cause int

// The causes a call can end with.
const (
	CauseNone         Cause = iota // still running
	CauseNormal                    // one side hung up after answer
	CauseBusy                      // the callee was busy (486/600)
	CauseDeclined                  // the callee declined (603)
	CauseNoAnswer                  // nobody answered within the ring timeout
	CauseUnavailable               // no one could be rung (480)
	CauseCancelled                 // the caller hung up before answer (CANCEL)
	CauseNotFound                  // the dialled number is not ours (404)
	CauseForbidden                 // the source may not place this call (403)
	CauseIncompatible              // no common codec (488)
	CauseRTPTimeout                // no media for too long on an answered call
	CauseShutdown                  // the gateway is draining or stopping
	CauseFailed                    // the far side or the network failed
)

var causeNames = [...]string{
	CauseNone:         "none",
	CauseNormal:       "normal_clearing",
	CauseBusy:         "user_busy",
	CauseDeclined:     "call_rejected",
	CauseNoAnswer:     "no_answer",
	CauseUnavailable:  "temporarily_unavailable",
	CauseCancelled:    "originator_cancel",
	CauseNotFound:     "unallocated_number",
	CauseForbidden:    "forbidden",
	CauseIncompatible: "incompatible_destination",
	CauseRTPTimeout:   "rtp_timeout",
	CauseShutdown:     "shutdown",
	CauseFailed:       "network_failure",
}

// String returns the snake_case name stored in call records.
func (c Cause) String() string {
	if c >= 0 && int(c) < len(causeNames) {
		return causeNames[c]
	}
	return "unknown"
}

// SIPStatus is the final response an unanswered caller gets for c
// (RFC 3261 §21; RFC 3398 §7.2 for the Q.850-like causes).
func (c Cause) SIPStatus() int {
	switch c {
	case CauseBusy:
		return 486
	case CauseDeclined:
		return 603
	case CauseNoAnswer, CauseUnavailable:
		return 480
	case CauseCancelled:
		return 487
	case CauseNotFound:
		return 404
	case CauseForbidden:
		return 403
	case CauseIncompatible:
		return 488
	case CauseShutdown:
		return 503
	case CauseNormal, CauseNone:
		return 200
	default:
		return 502
	}
}
