package config

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseNumber(t *testing.T) {
	cfg, err := Parse([]byte(valid+`  - number: "+15550101"
    trunk: carrier
    owner: alice
    ringing: browser
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	body := `{"trunk": "carrier", "ringing": "both", "forward_to": "+15550199", "ring_timeout": "40s",
	  "working_hours": {"timezone": "Europe/Warsaw", "hours": [{"days": ["mon-fri"], "from": "08:00", "to": "16:00"}]},
	  "no_answer": "forward:+15550177", "screening": true}`
	n, err := cfg.ParseNumber([]byte(body), "+15550100")
	if err != nil {
		t.Fatal(err)
	}
	if n.Number != "+15550100" || n.Ringing != RingBoth || n.RingTimeout != 40*time.Second || !n.Screening ||
		n.NoAnswerAction.Number != "+15550177" || n.WorkingHours == nil || n.WorkingHours.Parsed == nil {
		t.Errorf("parsed %+v", n)
	}
	if !json.Valid(n.Raw) || !strings.Contains(string(n.Raw), `"ring_timeout":"40s"`) {
		t.Errorf("Raw = %s", n.Raw)
	}

	for _, tc := range []struct {
		name, number, body string
		fields             []string // every field a problem must name
		msg                string
	}{
		{"bad zone and clock", "+15550100", `{"trunk": "carrier", "forward_to": "+15550199", "working_hours": {"timezone": "Mars/Base", "hours": [{"days": ["mon"], "from": "25:00", "to": "10:00"}]}}`,
			[]string{"working_hours.timezone", "working_hours.hours[0].from"}, ""},
		{"forward loop", "+15550100", `{"trunk": "carrier", "forward_to": "+15550101"}`, []string{"forward_to"}, "would loop"},
		{"forward not a number", "+15550100", `{"trunk": "carrier", "forward_to": "call me"}`, []string{"forward_to"}, "not a phone number"},
		{"no-answer loop", "+15550100", `{"trunk": "carrier", "forward_to": "+15550199", "no_answer": "forward:+15550101"}`, []string{"no_answer"}, "would loop"},
		{"owner change", "+15550101", `{"trunk": "carrier", "owner": "bob", "ringing": "browser"}`, []string{"owner"}, "cannot change at runtime"},
		{"unknown key", "+15550100", `{"trunk": "carrier", "forward_to": "+15550199", "ringtone": "loud"}`, []string{"ringtone"}, "unknown key"},
		{"not JSON", "+15550100", `{"trunk": `, []string{"(settings)"}, ""},
		{"rename", "+15550100", `{"number": "+15550102", "trunk": "carrier", "forward_to": "+15550199"}`, []string{"number"}, "cannot be renamed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cfg.ParseNumber([]byte(tc.body), tc.number)
			var se *SettingsError
			if !errors.As(err, &se) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want a *SettingsError wrapping ErrInvalid", err)
			}
			for _, f := range tc.fields {
				found := false
				for _, p := range se.Problems {
					found = found || (p.Field == f && strings.Contains(p.Msg, tc.msg))
				}
				if !found {
					t.Errorf("no problem at %q mentioning %q in %v", f, tc.msg, se.Problems)
				}
			}
		})
	}
	if _, err := cfg.ParseNumber([]byte(`{}`), "+19995550000"); !errors.Is(err, ErrInvalid) {
		t.Errorf("a number not ours: %v", err)
	}
}
