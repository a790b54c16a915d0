package signaling

import (
	"encoding/json"
	"errors"

	"switchboard/store"
)

// Message types of the protocol (docs/signaling.md).
const (
	// Client -> server.
	typeAuth     = "auth"
	typePresence = "presence" // also server -> client
	typeAnswer   = "answer"
	typeDecline  = "decline"
	typeHangup   = "hangup"
	typeDial     = "dial"
	typeICE      = "ice" // also server -> client
	typeDTMF     = "dtmf"
	typeMute     = "mute"
	typeHold     = "hold"
	typePing     = "ping"

	// Server -> client.
	typeWelcome           = "welcome"
	typeIncoming          = "incoming"
	typeAnswerSDP         = "answer_sdp"
	typeDialSDP           = "dial_sdp"
	typeCallState         = "call_state"
	typeAnsweredElsewhere = "answered_elsewhere"
	typeCancelled         = "cancelled"
	typeOK                = "ok"
	typeError             = "error"
	typePong              = "pong"
)

// Error codes of the "error" message.
const (
	codeBadJSON     = "bad_json"
	codeUnknownType = "unknown_type"
	codeBadRequest  = "bad_request"
	codeNotFound    = "not_found"
	codeForbidden   = "forbidden"
	codeRateLimited = "rate_limited"
	codeUnavailable = "unavailable"
)

// Presence values.
const (
	statusAvailable = "available"
	statusAway      = "away"
	statusInCall    = "in_call"
)

// Close codes in the private range (RFC 6455 §7.4.2: 4000-4999 are for
// applications).
const (
	closeInvalidToken = 4001
	closeAuthTimeout  = 4002
)

// Field limits. The message size limit bounds everything; these keep
// values we echo, log or hand on at sizes a person could have typed.
const (
	maxIDLen     = 64  // a request id, echoed in replies
	maxCallIDLen = 128 // call ids are ours; anything longer cannot match
	maxToLen     = 64  // a phone number in any common format
	maxFromLen   = 32  // an E.164 number
	maxDigits    = 32  // DTMF digits per message
)

// inMsg is any client message; each type uses some of the fields.
type inMsg struct {
	Type string `json:"type"`
	// ID is echoed verbatim in the reply: a JSON string or number.
	ID        json.RawMessage `json:"id,omitempty"`
	Token     string          `json:"token,omitempty"`
	Status    string          `json:"status,omitempty"`
	CallID    string          `json:"call_id,omitempty"`
	SDP       string          `json:"sdp,omitempty"`
	To        string          `json:"to,omitempty"`
	From      string          `json:"from,omitempty"`
	Candidate json.RawMessage `json:"candidate,omitempty"`
	Digits    string          `json:"digits,omitempty"`
	Muted     *bool           `json:"muted,omitempty"`
	Held      *bool           `json:"held,omitempty"`
}

var (
	errBadJSON = errors.New("message is not a JSON object with a string type")
	errBadID   = errors.New("id must be a string or a number of at most 64 characters")
)

// decodeMsg parses one client message. On failure it still returns the id
// when it could be read, so the error reply can echo it.
func decodeMsg(data []byte) (*inMsg, error) {
	var m inMsg
	if err := json.Unmarshal(data, &m); err != nil {
		var idOnly struct {
			ID json.RawMessage `json:"id"`
		}
		if json.Unmarshal(data, &idOnly) == nil && validID(idOnly.ID) {
			return &inMsg{ID: echoID(idOnly.ID)}, errBadJSON
		}
		return &inMsg{}, errBadJSON
	}
	if !validID(m.ID) {
		return &inMsg{Type: m.Type}, errBadID
	}
	m.ID = echoID(m.ID)
	return &m, nil
}

// echoID drops a null id: there is nothing to echo.
func echoID(id json.RawMessage) json.RawMessage {
	if string(id) == "null" {
		return nil
	}
	return id
}

// validID reports whether id may be echoed: absent, null, a string or a number.
func validID(id json.RawMessage) bool {
	if len(id) == 0 {
		return true
	}
	if len(id) > maxIDLen+2 {
		return false
	}
	switch c := id[0]; {
	case c == '"', c == '-', c >= '0' && c <= '9':
		return true
	default:
		return string(id) == "null"
	}
}

// validDigits reports whether s is 1 to maxDigits DTMF symbols (RFC 4733
// §3.2: events 0-15 are 0-9, *, # and A-D).
func validDigits(s string) bool {
	if s == "" || len(s) > maxDigits {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c == '*', c == '#', c >= 'A' && c <= 'D':
		default:
			return false
		}
	}
	return true
}

type userInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Team string `json:"team,omitempty"`
}

type numberInfo struct {
	Number string `json:"number"`
	Name   string `json:"name"`
}

type welcomeMsg struct {
	Type     string          `json:"type"`
	ID       json.RawMessage `json:"id,omitempty"`
	User     userInfo        `json:"user"`
	Numbers  []numberInfo    `json:"numbers"`
	Presence string          `json:"presence"`
	// ICEServers for the browser's RTCPeerConnection; TURN credentials in it
	// are short-lived when a shared secret is configured.
	ICEServers []ICEServer `json:"ice_servers"`
}

type presenceMsg struct {
	Type   string `json:"type"`
	User   string `json:"user"`
	Status string `json:"status"`
}

type incomingMsg struct {
	Type          string          `json:"type"`
	CallID        string          `json:"call_id"`
	Number        string          `json:"number"`
	NumberName    string          `json:"number_name"`
	Caller        string          `json:"caller"`
	CallerDisplay string          `json:"caller_display"`
	Contact       *store.CallerID `json:"contact"` // null when the caller is unknown
}

type sdpMsg struct {
	Type   string          `json:"type"`
	ID     json.RawMessage `json:"id,omitempty"`
	CallID string          `json:"call_id"`
	SDP    string          `json:"sdp"`
}

type callMsg struct {
	Type   string `json:"type"`
	CallID string `json:"call_id"`
	Cause  string `json:"cause,omitempty"`
}

type okMsg struct {
	Type string          `json:"type"`
	ID   json.RawMessage `json:"id,omitempty"`
}

type errorMsg struct {
	Type    string          `json:"type"`
	ID      json.RawMessage `json:"id,omitempty"`
	Code    string          `json:"code"`
	Message string          `json:"message"`
}

// callScoped is a message about one call that a leg may have to hold back
// until the engine has given the call its id (an outbound call's progress
// can be reported before PlaceOutbound returns).
type callScoped interface {
	withCallID(id string) any
}

type callStateMsg struct {
	Type      string `json:"type"`
	CallID    string `json:"call_id"`
	State     string `json:"state"`
	Cause     string `json:"cause,omitempty"`
	Direction string `json:"direction"` // inbound | outbound
}

func (m callStateMsg) withCallID(id string) any { m.CallID = id; return m }

type iceMsg struct {
	Type      string          `json:"type"`
	CallID    string          `json:"call_id"`
	Candidate json.RawMessage `json:"candidate"`
}

func (m iceMsg) withCallID(id string) any { m.CallID = id; return m }
