package routing

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAction(t *testing.T) {
	tests := []struct {
		in      string
		want    Action
		wantErr string // substring; "" means success
	}{
		{"voicemail", Action{Kind: ActionVoicemail}, ""},
		{"hangup", Action{Kind: ActionHangup}, ""},
		{"team:sales", Action{Kind: ActionTeam, Team: "sales"}, ""},
		{"team:support-2", Action{Kind: ActionTeam, Team: "support-2"}, ""},
		{"forward:+48221234567", Action{Kind: ActionForward, Number: "+48221234567"}, ""},
		{"forward:+12345678", Action{Kind: ActionForward, Number: "+12345678"}, ""},
		{"forward:+123456789012345", Action{Kind: ActionForward, Number: "+123456789012345"}, ""},
		{"", Action{}, "want voicemail, team:<team>, forward:<+E.164 number> or hangup"},
		{"Voicemail", Action{}, "want voicemail, team:<team>, forward:<+E.164 number> or hangup"},
		{"ring", Action{}, "want voicemail, team:<team>, forward:<+E.164 number> or hangup"},
		{"voicemail:box1", Action{}, "voicemail takes no argument"},
		{"hangup:now", Action{}, "hangup takes no argument"},
		{"team", Action{}, "the team name is missing; want team:<team>"},
		{"team:", Action{}, "the team name is missing"},
		{"team:sales team", Action{}, "a team name has no spaces"},
		{"forward", Action{}, "the number is missing; want forward:<+E.164 number>"},
		{"forward:", Action{}, "the number is missing"},
		{"forward:48221234567", Action{}, `"48221234567" is not an E.164 number; want + and 8 to 15 digits`},
		{"forward:+1234567", Action{}, "is not an E.164 number"},
		{"forward:+1234567890123456", Action{}, "is not an E.164 number"},
		{"forward:+48 22 123 45 67", Action{}, "is not an E.164 number"},
		{"forward:+0221234567", Action{}, "is not an E.164 number"},
		{"forward:+4822123456a", Action{}, "is not an E.164 number"},
	}
	for _, tt := range tests {
		got, err := ParseAction(tt.in)
		if tt.wantErr == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseAction(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
				continue
			}
			if s := got.String(); s != tt.in {
				t.Errorf("ParseAction(%q).String() = %q; want the input back", tt.in, s)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrInvalidAction) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseAction(%q) error = %v; want ErrInvalidAction containing %q", tt.in, err, tt.wantErr)
		}
	}
}

func TestActionString(t *testing.T) {
	tests := []struct {
		a    Action
		want string
	}{
		{Action{}, "voicemail"},
		{Action{Kind: ActionHangup}, "hangup"},
		{Action{Kind: ActionTeam, Team: "sales"}, "team:sales"},
		{Action{Kind: ActionForward, Number: "+15550100"}, "forward:+15550100"},
		{Action{Kind: 9}, "ActionKind(9)"},
	}
	for _, tt := range tests {
		if got := tt.a.String(); got != tt.want {
			t.Errorf("%+v.String() = %q; want %q", tt.a, got, tt.want)
		}
	}
	for k, want := range map[ActionKind]string{ActionVoicemail: "voicemail", ActionTeam: "team", ActionForward: "forward", ActionHangup: "hangup"} {
		if got := k.String(); got != want {
			t.Errorf("ActionKind(%d).String() = %q; want %q", int(k), got, want)
		}
	}
}
