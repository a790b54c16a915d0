package store

import (
	"fmt"
	"time"
)

// Direction says which side started a call.
type Direction string

// Call directions.
const (
	// DirectionInbound is a call from a trunk to one of our numbers.
	DirectionInbound Direction = "inbound"
	// DirectionOutbound is a call placed by an agent to an external number.
	DirectionOutbound Direction = "outbound"
)

// Outcome is how a call ended; it is empty while the call is still open.
type Outcome string

// Call outcomes.
const (
	// OutcomeAnswered means the call was answered by a callee.
	OutcomeAnswered Outcome = "answered"
	// OutcomeMissed means nobody answered before the caller gave up or the ring timed out.
	OutcomeMissed Outcome = "missed"
	// OutcomeBusy means the callee reported busy.
	OutcomeBusy Outcome = "busy"
	// OutcomeFailed means the call could not be set up.
	OutcomeFailed Outcome = "failed"
	// OutcomeCancelled means the caller cancelled before an answer.
	OutcomeCancelled Outcome = "cancelled"
	// OutcomeInterrupted means the gateway stopped (crash or restart) while the call was open.
	OutcomeInterrupted Outcome = "interrupted"
	// OutcomeVoicemail means the caller left a voicemail; no person answered.
	OutcomeVoicemail Outcome = "voicemail"
)

const (
	hangupSideSystem          = "system"
	hangupCauseGatewayRestart = "gateway_restart"
)

// maxRecordBytes bounds one encoded record. A call has a handful of legs, so
// anything near this size is a bug upstream that must not bloat the database.
const maxRecordBytes = 64 << 10

// Leg is one signalling leg of a call as seen by the B2BUA.
type Leg struct {
	Role   string `json:"role"`              // "caller" | "callee"
	Kind   string `json:"kind"`              // "sip" (later "webrtc")
	Peer   string `json:"peer"`              // URI or user id
	CallID string `json:"call_id,omitempty"` // SIP Call-ID of that leg
	Remote string `json:"remote,omitempty"`  // signalling source/destination host:port
	Codec  string `json:"codec,omitempty"`   // "PCMU" | "PCMA"
}

// CallerID is the contact matched to a call's external number: what the
// ringing browser shows before answering and what the call log keeps, so the
// record still says who called after the contact changes.
type CallerID struct {
	Name    string `json:"name"`
	Company string `json:"company,omitempty"`
	Deal    *Deal  `json:"deal,omitempty"`
}

// Deal is the contact's open sales deal shown with the caller ID.
type Deal struct {
	Name     string  `json:"name"`
	Amount   float64 `json:"amount"`
	Currency string  `json:"currency"` // ISO 4217 code such as "USD"
}

// CallRecord is the persisted history entry of one call. Its JSON form is
// the shape served by the REST API.
type CallRecord struct {
	ID              string     `json:"id"`
	Direction       Direction  `json:"direction"`
	Number          string     `json:"number"` // our number (E.164)
	Caller          string     `json:"caller"`
	Callee          string     `json:"callee"`
	Trunk           string     `json:"trunk,omitempty"`
	Legs            []Leg      `json:"legs"`
	StartedAt       time.Time  `json:"started_at"`
	AnsweredAt      *time.Time `json:"answered_at,omitempty"`
	EndedAt         *time.Time `json:"ended_at,omitempty"`
	DurationSeconds float64    `json:"duration_seconds"` // answered..ended, 0 when not answered
	Outcome         Outcome    `json:"outcome"`
	HangupCause     string     `json:"hangup_cause,omitempty"` // e.g. "normal_clearing","no_answer","rtp_timeout","user_busy","shutdown"
	HangupSide      string     `json:"hangup_side,omitempty"`  // "caller" | "callee" | "system"
	SIPCode         int        `json:"sip_code,omitempty"`     // final SIP status sent to the caller
	CallerID        *CallerID  `json:"caller_id,omitempty"`    // contact matched to the external party; nil when unknown
	Route           []string   `json:"route,omitempty"`        // why the call went where it did: the routing trace, one decision a line
	VoicemailID     string     `json:"voicemail_id,omitempty"` // the voicemail the caller left on this call
}

// normalize puts r in its stored form: times in UTC, a non-nil Legs slice
// (so the API shows [] rather than null) and DurationSeconds derived from
// AnsweredAt and EndedAt, so it can never disagree with them.
func normalize(r *CallRecord) {
	if r.Legs == nil {
		r.Legs = []Leg{}
	}
	r.StartedAt = r.StartedAt.UTC()
	if r.AnsweredAt != nil {
		t := r.AnsweredAt.UTC()
		r.AnsweredAt = &t
	}
	if r.EndedAt != nil {
		t := r.EndedAt.UTC()
		r.EndedAt = &t
	}
	r.DurationSeconds = 0
	if r.AnsweredAt != nil && r.EndedAt != nil {
		// A wall-clock step (NTP) can put EndedAt before AnsweredAt; the
		// record is still kept, with a zero duration rather than a negative one.
		if d := r.EndedAt.Sub(*r.AnsweredAt); d > 0 {
			r.DurationSeconds = d.Round(time.Millisecond).Seconds()
		}
	}
}

// validate checks the invariants every stored record keeps. It deliberately
// does not reject odd time ordering: losing a call record because a clock
// stepped backwards would be worse than storing it.
func validate(r *CallRecord) error {
	if !validID(r.ID) {
		return fmt.Errorf("call id %q: %w", r.ID, ErrInvalid)
	}
	switch r.Direction {
	case DirectionInbound, DirectionOutbound:
	default:
		return fmt.Errorf("call %s: direction %q: %w", r.ID, r.Direction, ErrInvalid)
	}
	if r.StartedAt.IsZero() {
		return fmt.Errorf("call %s: started_at is zero: %w", r.ID, ErrInvalid)
	}
	switch r.Outcome {
	case "", OutcomeAnswered, OutcomeMissed, OutcomeBusy, OutcomeFailed, OutcomeCancelled, OutcomeInterrupted, OutcomeVoicemail:
	default:
		return fmt.Errorf("call %s: outcome %q: %w", r.ID, r.Outcome, ErrInvalid)
	}
	// Outcome is "" exactly while the call is open; the open index relies on EndedAt alone.
	if (r.EndedAt == nil) != (r.Outcome == "") {
		return fmt.Errorf("call %s: outcome %q with ended_at set=%t: %w", r.ID, r.Outcome, r.EndedAt != nil, ErrInvalid)
	}
	if r.SIPCode != 0 && (r.SIPCode < 100 || r.SIPCode > 699) {
		return fmt.Errorf("call %s: sip_code %d: %w", r.ID, r.SIPCode, ErrInvalid)
	}
	return nil
}
