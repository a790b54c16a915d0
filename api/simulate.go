package api

import (
	"net/http"
	"time"

	"switchboard/routing"
)

// Simulator returns the routing plan a call from caller to number at would
// get now, without placing a call; ok is false when number is not ours.
// The call engine implements it.
type Simulator func(number string, at time.Time, caller string) (plan routing.Plan, ok bool)

// SetSimulator turns on POST /api/numbers/{number}/simulate.
func (s *Server) SetSimulator(f Simulator) { s.simulate = f }

// maxSimulateBody bounds the simulate request: a time and a caller.
const maxSimulateBody = 4 << 10

type simulateRequest struct {
	Time   string `json:"time"`   // RFC 3339; empty means now
	Caller string `json:"caller"` // as a trunk would present it; may be empty (withheld)
}

// planJSON is the wire form of a routing plan.
type planJSON struct {
	Number     string     `json:"number"`
	Time       time.Time  `json:"time"`
	AfterHours bool       `json:"after_hours"`
	Steps      []stepJSON `json:"steps"`
	Trace      []string   `json:"trace"`
}

type stepJSON struct {
	Kind           string       `json:"kind"` // ring | voicemail | hangup
	Targets        []targetJSON `json:"targets,omitempty"`
	TimeoutSeconds float64      `json:"timeout_seconds,omitempty"`
	Screen         bool         `json:"screen,omitempty"`
	Greeting       string       `json:"greeting,omitempty"`
	Closed         bool         `json:"closed,omitempty"`
	Why            string       `json:"why"`
}

type targetJSON struct {
	Kind   string `json:"kind"` // browser | phone
	User   string `json:"user,omitempty"`
	Number string `json:"number,omitempty"`
}

func (s *Server) simulateCall(w http.ResponseWriter, r *http.Request) {
	if s.simulate == nil {
		writeError(w, http.StatusServiceUnavailable, "routing simulation is not configured on this server")
		return
	}
	v, ok := s.voiceOn(w)
	if !ok {
		return
	}
	number, owner, ok := ourNumber(w, r, v)
	if !ok {
		return
	}
	if !s.allowed(r, owner) {
		writeError(w, http.StatusForbidden, "only the owner of "+number+" may simulate its calls")
		return
	}
	var req simulateRequest
	if err := readJSON(w, r, maxSimulateBody, `{"time": "2026-11-24T18:05:00+01:00", "caller": "+15557654321"}`, &req, true); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	at := time.Now()
	if req.Time != "" {
		t, err := time.Parse(time.RFC3339, req.Time)
		if err != nil {
			writeError(w, http.StatusBadRequest, "time must be RFC 3339 like 2026-11-24T18:05:00+01:00")
			return
		}
		at = t
	}
	if len(req.Caller) > 64 {
		writeError(w, http.StatusBadRequest, "caller is longer than 64 characters")
		return
	}
	plan, ok := s.simulate(number, at, req.Caller)
	if !ok {
		writeError(w, http.StatusNotFound, "no number "+number+" on this switchboard")
		return
	}
	writeJSON(w, http.StatusOK, toPlanJSON(number, at, plan))
}

func toPlanJSON(number string, at time.Time, p routing.Plan) planJSON {
	out := planJSON{Number: number, Time: at, AfterHours: p.AfterHours, Steps: []stepJSON{}, Trace: p.Trace}
	for _, st := range p.Steps {
		sj := stepJSON{Kind: st.Kind.String(), Screen: st.Screen, Greeting: st.Greeting, Closed: st.Closed, Why: st.Why}
		if st.Kind == routing.StepRing {
			sj.TimeoutSeconds = st.Timeout.Seconds()
		}
		for _, t := range st.Targets {
			sj.Targets = append(sj.Targets, targetJSON{Kind: t.Kind.String(), User: t.User, Number: t.Number})
		}
		out.Steps = append(out.Steps, sj)
	}
	return out
}
