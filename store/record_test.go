package store

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	start := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	end := start.Add(time.Minute)
	ok := func() CallRecord {
		return CallRecord{ID: NewID(start), Direction: DirectionInbound, StartedAt: start}
	}
	tests := []struct {
		name    string
		mutate  func(*CallRecord)
		wantErr bool
	}{
		{"open inbound", func(*CallRecord) {}, false},
		{"closed outbound", func(r *CallRecord) { r.Direction, r.EndedAt, r.Outcome = DirectionOutbound, &end, OutcomeMissed }, false},
		{"end before start is kept", func(r *CallRecord) { e := start.Add(-time.Hour); r.EndedAt, r.Outcome = &e, OutcomeFailed }, false},
		{"sip code", func(r *CallRecord) { r.SIPCode = 486 }, false},
		{"voicemail outcome", func(r *CallRecord) { r.EndedAt, r.Outcome, r.VoicemailID = &end, OutcomeVoicemail, NewID(start) }, false},
		{"empty id", func(r *CallRecord) { r.ID = "" }, true},
		{"bad id", func(r *CallRecord) { r.ID = "a b" }, true},
		{"bad direction", func(r *CallRecord) { r.Direction = "sideways" }, true},
		{"empty direction", func(r *CallRecord) { r.Direction = "" }, true},
		{"zero start", func(r *CallRecord) { r.StartedAt = time.Time{} }, true},
		{"unknown outcome", func(r *CallRecord) { r.EndedAt, r.Outcome = &end, "exploded" }, true},
		{"outcome while open", func(r *CallRecord) { r.Outcome = OutcomeAnswered }, true},
		{"ended without outcome", func(r *CallRecord) { r.EndedAt = &end }, true},
		{"sip code out of range", func(r *CallRecord) { r.SIPCode = 42 }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok()
			tt.mutate(&r)
			err := validate(&r)
			if tt.wantErr && !errors.Is(err, ErrInvalid) {
				t.Fatalf("validate = %v, want ErrInvalid", err)
			}
			if !tt.wantErr && err != nil {
				t.Fatalf("validate = %v, want nil", err)
			}
		})
	}
}

func TestNormalizeDuration(t *testing.T) {
	start := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := start.Add(d); return &t }
	tests := []struct {
		name             string
		answered, ended  *time.Time
		preset, wantSecs float64
	}{
		{"not answered", nil, at(time.Minute), 99, 0},
		{"open and answered", at(time.Second), nil, 99, 0},
		{"answered and ended", at(2 * time.Second), at(92*time.Second + 1234567*time.Nanosecond), 0, 90.001},
		{"clock stepped back", at(time.Minute), at(time.Second), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := CallRecord{StartedAt: start, AnsweredAt: tt.answered, EndedAt: tt.ended, DurationSeconds: tt.preset}
			normalize(&r)
			if r.DurationSeconds != tt.wantSecs {
				t.Errorf("DurationSeconds = %v, want %v", r.DurationSeconds, tt.wantSecs)
			}
			if r.Legs == nil {
				t.Error("Legs left nil; the API must show []")
			}
		})
	}
}

func TestNormalizeConvertsToUTCWithoutTouchingCaller(t *testing.T) {
	zone := time.FixedZone("CET", 3600)
	start := time.Date(2025, 5, 1, 13, 0, 0, 0, zone)
	end := start.Add(time.Minute)
	r := CallRecord{StartedAt: start, EndedAt: &end}
	normalize(&r)
	if r.StartedAt.Location() != time.UTC || r.EndedAt.Location() != time.UTC {
		t.Errorf("times not UTC: %v %v", r.StartedAt, *r.EndedAt)
	}
	if end.Location() != zone {
		t.Error("normalize modified the caller's time value")
	}
}

func TestCallRecordJSONShape(t *testing.T) {
	start := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	end := start.Add(time.Minute)
	r := CallRecord{
		ID: "x", Direction: DirectionInbound, Number: "+4930123", Caller: "+4917", Callee: "alice",
		Trunk: "t1", Legs: []Leg{{Role: "caller", Kind: "sip", Peer: "sip:a@b", CallID: "c", Remote: "1.2.3.4:5060", Codec: "PCMU"}},
		StartedAt: start, AnsweredAt: &start, EndedAt: &end, DurationSeconds: 60, Outcome: OutcomeAnswered,
		HangupCause: "normal_clearing", HangupSide: "caller", SIPCode: 200,
	}
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := []string{"id", "direction", "number", "caller", "callee", "trunk", "legs", "started_at", "answered_at",
		"ended_at", "duration_seconds", "outcome", "hangup_cause", "hangup_side", "sip_code"}
	if len(got) != len(want) {
		t.Errorf("got %d keys %v, want %d", len(got), got, len(want))
	}
	for _, k := range want {
		if _, ok := got[k]; !ok {
			t.Errorf("missing JSON key %q in %s", k, raw)
		}
	}
	leg := got["legs"].([]any)[0].(map[string]any)
	wantLeg := map[string]any{"role": "caller", "kind": "sip", "peer": "sip:a@b", "call_id": "c", "remote": "1.2.3.4:5060", "codec": "PCMU"}
	if !reflect.DeepEqual(leg, wantLeg) {
		t.Errorf("leg JSON = %v, want %v", leg, wantLeg)
	}

	// An open record omits the optional fields but always carries the required ones.
	open := CallRecord{ID: "y", Direction: DirectionOutbound, StartedAt: start}
	normalize(&open)
	raw, err = json.Marshal(open)
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"trunk", "answered_at", "ended_at", "hangup_cause", "hangup_side", "sip_code", "caller_id", "voicemail_id"} {
		if _, ok := got[k]; ok {
			t.Errorf("open record has %q in %s", k, raw)
		}
	}
	if legs, ok := got["legs"].([]any); !ok || len(legs) != 0 {
		t.Errorf("open record legs = %v, want []", got["legs"])
	}
	if got["outcome"] != "" || got["duration_seconds"] != 0.0 {
		t.Errorf("open record outcome/duration = %v/%v", got["outcome"], got["duration_seconds"])
	}
}

func TestCallRecordCallerID(t *testing.T) {
	start := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		id   *CallerID
		want string // the caller_id JSON value
	}{
		{
			"with deal",
			&CallerID{Name: "Jan Kowalski", Company: "Acme", Deal: &Deal{Name: "Acme renewal", Amount: 12000.5, Currency: "USD"}},
			`{"name":"Jan Kowalski","company":"Acme","deal":{"name":"Acme renewal","amount":12000.5,"currency":"USD"}}`,
		},
		{"name only", &CallerID{Name: "Ewa"}, `{"name":"Ewa"}`},
		{"zero amount kept", &CallerID{Name: "Ewa", Deal: &Deal{Name: "Pilot", Currency: "PLN"}}, `{"name":"Ewa","deal":{"name":"Pilot","amount":0,"currency":"PLN"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := CallRecord{ID: "x", Direction: DirectionInbound, StartedAt: start, CallerID: tt.id}
			raw, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]json.RawMessage
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			if string(got["caller_id"]) != tt.want {
				t.Errorf("caller_id = %s, want %s", got["caller_id"], tt.want)
			}
		})
	}
}

func TestCallerIDSurvivesStore(t *testing.T) {
	s, _ := openTemp(t)
	rec := newRecord(time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC))
	rec.CallerID = &CallerID{Name: "Jan Kowalski", Company: "Acme", Deal: &Deal{Name: "Acme renewal", Amount: 12000, Currency: "USD"}}
	if err := s.CreateCall(rec); err != nil {
		t.Fatalf("CreateCall: %v", err)
	}
	got, err := s.GetCall(rec.ID)
	if err != nil {
		t.Fatalf("GetCall: %v", err)
	}
	if !reflect.DeepEqual(got.CallerID, rec.CallerID) {
		t.Fatalf("stored caller ID = %+v, want %+v", got.CallerID, rec.CallerID)
	}
}

func TestVoicemailOutcomeSurvivesStore(t *testing.T) {
	s, _ := openTemp(t)
	start := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	rec := newRecord(start)
	if err := s.CreateCall(rec); err != nil {
		t.Fatalf("CreateCall: %v", err)
	}
	vmID := NewID(start.Add(20 * time.Second))
	end := start.Add(50 * time.Second)
	if err := s.UpdateCall(rec.ID, func(r *CallRecord) error {
		r.EndedAt, r.Outcome, r.VoicemailID, r.HangupSide = &end, OutcomeVoicemail, vmID, "caller"
		return nil
	}); err != nil {
		t.Fatalf("UpdateCall to voicemail outcome: %v", err)
	}
	got, err := s.GetCall(rec.ID)
	if err != nil {
		t.Fatalf("GetCall: %v", err)
	}
	if got.Outcome != OutcomeVoicemail || got.VoicemailID != vmID || got.DurationSeconds != 0 {
		t.Fatalf("stored outcome/voicemail/duration = %q/%q/%v, want voicemail/%s/0", got.Outcome, got.VoicemailID, got.DurationSeconds, vmID)
	}
	raw, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var shape map[string]any
	if err := json.Unmarshal(raw, &shape); err != nil {
		t.Fatal(err)
	}
	if shape["outcome"] != "voicemail" || shape["voicemail_id"] != vmID {
		t.Fatalf("JSON outcome/voicemail_id = %v/%v in %s", shape["outcome"], shape["voicemail_id"], raw)
	}
	if isOpen(t, s, rec.ID) {
		t.Fatal("call closed with a voicemail outcome is still in the open index")
	}
}
