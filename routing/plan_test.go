package routing

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	ownNumber = "+48221234567"
	mobile    = "+48600100200"
	caller    = "+15551234567"
)

func browser(user string) Target { return Target{Kind: TargetBrowser, User: user} }
func phone(num string) Target    { return Target{Kind: TargetPhone, Number: num} }

func ringStep(timeout time.Duration, screen bool, targets ...Target) Step {
	return Step{Kind: StepRing, Targets: targets, Timeout: timeout, Screen: screen}
}

var (
	vmIn     = Step{Kind: StepVoicemail, Greeting: GreetingInHours}
	vmAfter  = Step{Kind: StepVoicemail, Greeting: GreetingAfterHours}
	hangOpen = Step{Kind: StepHangup}
	hangShut = Step{Kind: StepHangup, Closed: true}
)

// baseInput is a number owned by alice, ringing her browser 25 s in
// Mon-Fri 09:00-17:00 Warsaw hours, with voicemail on, and a sales team.
func baseInput(t testing.TB, now string) Input {
	t.Helper()
	waw := mustLoad(t, "Europe/Warsaw")
	return Input{
		Number: Number{
			E164: ownNumber, Name: "Sales",
			Owner:       Member{ID: "alice", Available: true},
			Ringing:     RingBrowser,
			ForwardTo:   mobile,
			RingTimeout: 25 * time.Second,
			Hours:       &Hours{Location: waw, Ranges: []Range{{Days: weekdays, From: 540, To: 1020}}},
			NoAnswer:    Action{Kind: ActionVoicemail},
			AfterHours:  Action{Kind: ActionVoicemail},
			Voicemail:   true,
		},
		Now:    local(t, waw, now),
		Caller: caller,
		Teams: map[string]Team{
			"sales": {Name: "sales", Mode: TeamAll, MemberTimeout: 15 * time.Second, Members: []Member{
				{ID: "bob", Available: true},
				{ID: "carol", Reason: "away"},
				{ID: "alice", Available: true},
				{ID: "dave", Reason: "on a call"},
				{ID: "erin", Available: true},
			}},
			"night": {Name: "night", Mode: TeamAll, Members: []Member{{ID: "zoe", Reason: "no tab open"}, {ID: "yan"}}},
			"empty": {Name: "empty", Mode: TeamRotation},
			"rota": {Name: "rota", Mode: TeamRotation, MemberTimeout: 10 * time.Second, Members: []Member{
				{ID: "bob", Available: true},
				{ID: "carol", Reason: "away"},
				{ID: "dave", Available: true},
				{ID: "erin", Available: true},
			}},
		},
	}
}

const (
	inHours    = "2026-03-10 10:00" // a Tuesday
	afterHours = "2026-03-10 18:05"
)

// stripWhy drops the trace text so steps compare structurally.
func stripWhy(steps []Step) []Step {
	out := make([]Step, len(steps))
	for i, s := range steps {
		s.Why = ""
		out[i] = s
	}
	return out
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name       string
		now        string
		edit       func(*Input)
		want       []Step
		afterHours bool
		rotated    map[string]int
		trace      []string // exact trace; nil skips
		contains   []string // lines that must appear in the trace
	}{
		{
			name: "in hours, browser, owner available",
			now:  inHours,
			want: []Step{ringStep(25*time.Second, false, browser("alice")), vmIn},
			trace: []string{
				"call from +15551234567 to +48221234567 (Sales)",
				"Tue 10:00 Europe/Warsaw is within Mon-Fri 09:00-17:00 -> in hours: ring browser",
				"ring alice's browser for 25s",
				"no answer within 25s -> no-answer action voicemail",
				"take a voicemail with the in_hours greeting",
			},
		},
		{
			name: "in hours, browser, owner away",
			now:  inHours,
			edit: func(in *Input) { in.Number.Owner = Member{ID: "alice", Reason: "away"} },
			want: []Step{vmIn},
			trace: []string{
				"call from +15551234567 to +48221234567 (Sales)",
				"Tue 10:00 Europe/Warsaw is within Mon-Fri 09:00-17:00 -> in hours: ring browser",
				"owner alice is away: not rung",
				"nobody to ring -> no-answer action voicemail",
				"take a voicemail with the in_hours greeting",
			},
		},
		{
			name:     "owner unavailable without a reason",
			now:      inHours,
			edit:     func(in *Input) { in.Number.Owner.Available = false },
			want:     []Step{vmIn},
			contains: []string{"owner alice is unavailable: not rung"},
		},
		{
			name:     "browser with no owner",
			now:      inHours,
			edit:     func(in *Input) { in.Number.Owner = Member{} },
			want:     []Step{vmIn},
			contains: []string{"the number has no owner: no browser rung", "nobody to ring -> no-answer action voicemail"},
		},
		{
			name:     "forward",
			now:      inHours,
			edit:     func(in *Input) { in.Number.Ringing = RingForward },
			want:     []Step{ringStep(25*time.Second, false, phone(mobile)), vmIn},
			contains: []string{"ring phone +48600100200 for 25s"},
		},
		{
			name:     "forward with screening",
			now:      inHours,
			edit:     func(in *Input) { in.Number.Ringing, in.Number.Screening = RingForward, true },
			want:     []Step{ringStep(25*time.Second, true, phone(mobile)), vmIn},
			contains: []string{"ring phone +48600100200 (screened: press 1 to accept) for 25s"},
		},
		{
			name:     "forward with no forward_to",
			now:      inHours,
			edit:     func(in *Input) { in.Number.Ringing, in.Number.ForwardTo = RingForward, "" },
			want:     []Step{vmIn},
			contains: []string{"forward_to is not set: no phone rung", "nobody to ring -> no-answer action voicemail"},
		},
		{
			name:     "forward to the number itself is refused",
			now:      inHours,
			edit:     func(in *Input) { in.Number.Ringing, in.Number.ForwardTo = RingForward, ownNumber },
			want:     []Step{vmIn},
			contains: []string{"forward_to +48221234567 is this number itself: not rung (the call would loop back to us)"},
		},
		{
			name:     "both, owner available, screening",
			now:      inHours,
			edit:     func(in *Input) { in.Number.Ringing, in.Number.Screening = RingBoth, true },
			want:     []Step{ringStep(25*time.Second, true, browser("alice"), phone(mobile)), vmIn},
			contains: []string{"ring alice's browser, phone +48600100200 (screened: press 1 to accept) for 25s"},
		},
		{
			name: "both, owner away: only the phone",
			now:  inHours,
			edit: func(in *Input) {
				in.Number.Ringing = RingBoth
				in.Number.Owner = Member{ID: "alice", Reason: "no tab open"}
			},
			want:     []Step{ringStep(25*time.Second, false, phone(mobile)), vmIn},
			contains: []string{"owner alice has no tab open: not rung", "ring phone +48600100200 for 25s"},
		},
		{
			name:     "unknown ringing mode rings nothing",
			now:      inHours,
			edit:     func(in *Input) { in.Number.Ringing = "pager" },
			want:     []Step{vmIn},
			contains: []string{"ringing mode pager is unknown: nothing rung"},
		},
		{
			name: "after hours, voicemail",
			now:  afterHours,
			want: []Step{vmAfter}, afterHours: true,
			trace: []string{
				"call from +15551234567 to +48221234567 (Sales)",
				"Tue 18:05 Europe/Warsaw is outside Mon-Fri 09:00-17:00 -> after-hours action voicemail",
				"take a voicemail with the after_hours greeting",
			},
		},
		{
			name: "after hours, hangup with the closed announcement",
			now:  afterHours,
			edit: func(in *Input) { in.Number.AfterHours = Action{Kind: ActionHangup} },
			want: []Step{hangShut}, afterHours: true,
			trace: []string{
				"call from +15551234567 to +48221234567 (Sales)",
				"Tue 18:05 Europe/Warsaw is outside Mon-Fri 09:00-17:00 -> after-hours action hangup",
				"hang up after the closed announcement",
			},
		},
		{
			name: "after hours, voicemail off",
			now:  afterHours,
			edit: func(in *Input) { in.Number.Voicemail = false },
			want: []Step{hangShut}, afterHours: true,
			contains: []string{"voicemail is off: hang up after the closed announcement"},
		},
		{
			name: "after hours on a closed date",
			now:  "2026-12-25 11:00",
			edit: func(in *Input) {
				in.Number.Hours.Specials = []Special{{Date: "2026-12-25", Closed: true}}
			},
			want: []Step{vmAfter}, afterHours: true,
			contains: []string{"Fri 2026-12-25 is a closed date -> after-hours action voicemail"},
		},
		{
			name:     "in hours, no-answer hangup has no closed announcement",
			now:      inHours,
			edit:     func(in *Input) { in.Number.NoAnswer = Action{Kind: ActionHangup} },
			want:     []Step{ringStep(25*time.Second, false, browser("alice")), hangOpen},
			contains: []string{"no answer within 25s -> no-answer action hangup", "hang up"},
		},
		{
			name:     "in hours, voicemail off",
			now:      inHours,
			edit:     func(in *Input) { in.Number.Voicemail = false },
			want:     []Step{ringStep(25*time.Second, false, browser("alice")), hangOpen},
			contains: []string{"voicemail is off: hang up"},
		},
		{
			name:     "24/7 without hours",
			now:      "2026-03-15 03:00",
			edit:     func(in *Input) { in.Number.Hours = nil },
			want:     []Step{ringStep(25*time.Second, false, browser("alice")), vmIn},
			contains: []string{"no working hours set: open 24/7 -> in hours: ring browser"},
		},
		{
			name:     "withheld caller, unnamed number",
			now:      inHours,
			edit:     func(in *Input) { in.Caller, in.Number.Name = "", "" },
			want:     []Step{ringStep(25*time.Second, false, browser("alice")), vmIn},
			contains: []string{"call from a withheld number to +48221234567"},
		},
		{
			name: "no answer -> team, all at once, owner and unavailable skipped",
			now:  inHours,
			edit: func(in *Input) { in.Number.NoAnswer = Action{Kind: ActionTeam, Team: "sales"} },
			want: []Step{
				ringStep(25*time.Second, false, browser("alice")),
				ringStep(15*time.Second, false, browser("bob"), browser("erin")),
				vmIn,
			},
			trace: []string{
				"call from +15551234567 to +48221234567 (Sales)",
				"Tue 10:00 Europe/Warsaw is within Mon-Fri 09:00-17:00 -> in hours: ring browser",
				"ring alice's browser for 25s",
				"no answer within 25s -> no-answer action team:sales",
				"team sales: carol is away: skipped",
				"team sales: alice is the owner and already rang: skipped",
				"team sales: dave is on a call: skipped",
				"team sales (all at once): ring bob's browser, erin's browser for 15s",
				"no answer from team sales -> voicemail",
				"take a voicemail with the in_hours greeting",
			},
		},
		{
			name: "owner away is not rung, so the team rings them if available there",
			now:  inHours,
			edit: func(in *Input) {
				in.Number.Ringing = RingForward
				in.Number.NoAnswer = Action{Kind: ActionTeam, Team: "sales"}
			},
			want: []Step{
				ringStep(25*time.Second, false, phone(mobile)),
				ringStep(15*time.Second, false, browser("bob"), browser("alice"), browser("erin")),
				vmIn,
			},
		},
		{
			name: "after hours -> team, member timeout defaults to ring timeout",
			now:  afterHours,
			edit: func(in *Input) {
				tm := in.Teams["sales"]
				tm.MemberTimeout = 0
				in.Teams["sales"] = tm
				in.Number.AfterHours = Action{Kind: ActionTeam, Team: "sales"}
			},
			want: []Step{
				ringStep(25*time.Second, false, browser("bob"), browser("alice"), browser("erin")),
				vmAfter,
			},
			afterHours: true,
			contains:   []string{"Tue 18:05 Europe/Warsaw is outside Mon-Fri 09:00-17:00 -> after-hours action team:sales"},
		},
		{
			name: "team with nobody available falls back to voicemail",
			now:  inHours,
			edit: func(in *Input) { in.Number.NoAnswer = Action{Kind: ActionTeam, Team: "night"} },
			want: []Step{ringStep(25*time.Second, false, browser("alice")), vmIn},
			contains: []string{
				"team night: zoe has no tab open: skipped",
				"team night: yan is unavailable: skipped",
				"nobody in team night can take the call -> voicemail",
			},
		},
		{
			name: "team with nobody available and voicemail off hangs up",
			now:  afterHours,
			edit: func(in *Input) {
				in.Number.AfterHours = Action{Kind: ActionTeam, Team: "night"}
				in.Number.Voicemail = false
			},
			want: []Step{hangShut}, afterHours: true,
			contains: []string{"nobody in team night can take the call -> voicemail", "voicemail is off: hang up after the closed announcement"},
		},
		{
			name:     "unknown team",
			now:      inHours,
			edit:     func(in *Input) { in.Number.NoAnswer = Action{Kind: ActionTeam, Team: "ghosts"} },
			want:     []Step{ringStep(25*time.Second, false, browser("alice")), vmIn},
			contains: []string{"team ghosts is unknown: nobody rung -> voicemail"},
		},
		{
			name:     "team without members",
			now:      afterHours,
			edit:     func(in *Input) { in.Number.AfterHours = Action{Kind: ActionTeam, Team: "empty"} },
			want:     []Step{vmAfter},
			contains: []string{"team empty has no members: nobody rung -> voicemail"}, afterHours: true,
		},
		{
			name: "rotation from the start",
			now:  afterHours,
			edit: func(in *Input) { in.Number.AfterHours = Action{Kind: ActionTeam, Team: "rota"} },
			want: []Step{
				ringStep(10*time.Second, false, browser("bob")),
				ringStep(10*time.Second, false, browser("dave")),
				ringStep(10*time.Second, false, browser("erin")),
				vmAfter,
			},
			afterHours: true, rotated: map[string]int{"rota": 1},
			contains: []string{
				"team rota: carol is away: skipped",
				"team rota (rotation 1 of 3): ring bob's browser for 10s",
				"team rota (rotation 2 of 3): ring dave's browser for 10s",
				"team rota (rotation 3 of 3): ring erin's browser for 10s",
				"no answer from team rota -> voicemail",
			},
		},
		{
			name: "rotation wraps from the last member",
			now:  afterHours,
			edit: func(in *Input) {
				in.Number.AfterHours = Action{Kind: ActionTeam, Team: "rota"}
				in.Rotation = map[string]int{"rota": 3}
			},
			want: []Step{
				ringStep(10*time.Second, false, browser("erin")),
				ringStep(10*time.Second, false, browser("bob")),
				ringStep(10*time.Second, false, browser("dave")),
				vmAfter,
			},
			afterHours: true, rotated: map[string]int{"rota": 0},
		},
		{
			name: "rotation starting at an unavailable member advances past the first rung",
			now:  afterHours,
			edit: func(in *Input) {
				in.Number.AfterHours = Action{Kind: ActionTeam, Team: "rota"}
				in.Rotation = map[string]int{"rota": 1}
			},
			want: []Step{
				ringStep(10*time.Second, false, browser("dave")),
				ringStep(10*time.Second, false, browser("erin")),
				ringStep(10*time.Second, false, browser("bob")),
				vmAfter,
			},
			afterHours: true, rotated: map[string]int{"rota": 3},
		},
		{
			name: "rotation index out of range wraps",
			now:  afterHours,
			edit: func(in *Input) {
				in.Number.AfterHours = Action{Kind: ActionTeam, Team: "rota"}
				in.Rotation = map[string]int{"rota": 6}
			},
			want: []Step{
				ringStep(10*time.Second, false, browser("dave")),
				ringStep(10*time.Second, false, browser("erin")),
				ringStep(10*time.Second, false, browser("bob")),
				vmAfter,
			},
			afterHours: true, rotated: map[string]int{"rota": 3},
		},
		{
			name: "negative rotation index wraps",
			now:  afterHours,
			edit: func(in *Input) {
				in.Number.AfterHours = Action{Kind: ActionTeam, Team: "rota"}
				in.Rotation = map[string]int{"rota": -1}
			},
			want: []Step{
				ringStep(10*time.Second, false, browser("erin")),
				ringStep(10*time.Second, false, browser("bob")),
				ringStep(10*time.Second, false, browser("dave")),
				vmAfter,
			},
			afterHours: true, rotated: map[string]int{"rota": 0},
		},
		{
			name: "rotation skips the owner who already rang",
			now:  inHours,
			edit: func(in *Input) {
				in.Number.Owner = Member{ID: "dave", Available: true}
				in.Number.NoAnswer = Action{Kind: ActionTeam, Team: "rota"}
				in.Rotation = map[string]int{"rota": 2}
			},
			want: []Step{
				ringStep(25*time.Second, false, browser("dave")),
				ringStep(10*time.Second, false, browser("erin")),
				ringStep(10*time.Second, false, browser("bob")),
				vmIn,
			},
			rotated:  map[string]int{"rota": 0},
			contains: []string{"team rota: dave is the owner and already rang: skipped"},
		},
		{
			name: "rotation with nobody available keeps the rotation",
			now:  afterHours,
			edit: func(in *Input) {
				in.Number.AfterHours = Action{Kind: ActionTeam, Team: "rota"}
				tm := in.Teams["rota"]
				tm.Members = []Member{{ID: "bob", Reason: "away"}}
				in.Teams["rota"] = tm
				in.Rotation = map[string]int{"rota": 0}
			},
			want:       []Step{vmAfter},
			afterHours: true,
			contains:   []string{"team rota: bob is away: skipped", "nobody in team rota can take the call -> voicemail"},
		},
		{
			name: "no answer -> forward with screening",
			now:  inHours,
			edit: func(in *Input) {
				in.Number.Screening = true
				in.Number.NoAnswer = Action{Kind: ActionForward, Number: "+48700100100"}
			},
			want: []Step{
				ringStep(25*time.Second, false, browser("alice")),
				ringStep(25*time.Second, true, phone("+48700100100")),
				vmIn,
			},
			contains: []string{
				"forward: ring phone +48700100100 (screened: press 1 to accept) for 25s",
				"no answer from +48700100100 -> voicemail",
			},
		},
		{
			name: "after hours -> forward, voicemail off",
			now:  afterHours,
			edit: func(in *Input) {
				in.Number.AfterHours = Action{Kind: ActionForward, Number: "+48700100100"}
				in.Number.Voicemail = false
			},
			want:       []Step{ringStep(25*time.Second, false, phone("+48700100100")), hangShut},
			afterHours: true,
		},
		{
			name: "forward action to the phone that already rang is not repeated",
			now:  inHours,
			edit: func(in *Input) {
				in.Number.Ringing = RingForward
				in.Number.NoAnswer = Action{Kind: ActionForward, Number: mobile}
			},
			want: []Step{ringStep(25*time.Second, false, phone(mobile)), vmIn},
			contains: []string{
				"phone +48600100200 already rang for this call: not rung again",
				"nothing to forward to -> voicemail",
			},
		},
		{
			name: "forward action to the number itself is refused",
			now:  afterHours,
			edit: func(in *Input) {
				in.Number.AfterHours = Action{Kind: ActionForward, Number: ownNumber}
			},
			want:       []Step{vmAfter},
			afterHours: true,
			contains:   []string{"forward target +48221234567 is this number itself: not rung (the call would loop back to us)"},
		},
		{
			name:     "unknown action kind falls back to voicemail",
			now:      afterHours,
			edit:     func(in *Input) { in.Number.AfterHours = Action{Kind: 42} },
			want:     []Step{vmAfter},
			contains: []string{"action ActionKind(42) is unknown -> voicemail"}, afterHours: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInput(t, tt.now)
			if tt.edit != nil {
				tt.edit(&in)
			}
			p := Decide(in)
			if got := stripWhy(p.Steps); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("steps =\n%s\nwant\n%s\ntrace:\n%s", fmtSteps(got), fmtSteps(tt.want), p)
			}
			if p.AfterHours != tt.afterHours {
				t.Errorf("AfterHours = %v; want %v", p.AfterHours, tt.afterHours)
			}
			if !reflect.DeepEqual(p.Rotated, tt.rotated) {
				t.Errorf("Rotated = %v; want %v", p.Rotated, tt.rotated)
			}
			if tt.trace != nil && !reflect.DeepEqual(p.Trace, tt.trace) {
				t.Errorf("trace =\n%s\nwant\n%s", p, strings.Join(tt.trace, "\n"))
			}
			for _, line := range tt.contains {
				if !slices.Contains(p.Trace, line) {
					t.Errorf("trace lacks %q; got\n%s", line, p)
				}
			}
			checkInvariants(t, in, p)
		})
	}
}

func fmtSteps(steps []Step) string {
	var b strings.Builder
	for _, s := range steps {
		fmt.Fprintf(&b, "  %s targets=%v timeout=%s screen=%v greeting=%q closed=%v\n", s.Kind, s.Targets, s.Timeout, s.Screen, s.Greeting, s.Closed)
	}
	return b.String()
}

// checkInvariants holds for every plan: it ends in exactly one terminal step,
// every step's Why is a trace line in order, greetings and the closed
// announcement match AfterHours, and only phone targets are screened.
func checkInvariants(t *testing.T, in Input, p Plan) {
	t.Helper()
	if len(p.Steps) == 0 {
		t.Fatalf("plan has no steps:\n%s", p)
	}
	line := 0
	for i, s := range p.Steps {
		terminal := s.Kind == StepVoicemail || s.Kind == StepHangup
		if terminal != (i == len(p.Steps)-1) {
			t.Errorf("step %d (%s): terminal steps must be last and only last", i, s.Kind)
		}
		j := slices.Index(p.Trace[line:], s.Why)
		if s.Why == "" || j < 0 {
			t.Errorf("step %d Why %q is not a later trace line", i, s.Why)
		} else {
			line += j + 1
		}
		switch s.Kind {
		case StepRing:
			if len(s.Targets) == 0 || s.Timeout <= 0 {
				t.Errorf("ring step %d has targets %v, timeout %s", i, s.Targets, s.Timeout)
			}
			hasPhone := slices.ContainsFunc(s.Targets, func(t Target) bool { return t.Kind == TargetPhone })
			if s.Screen != (hasPhone && in.Number.Screening) {
				t.Errorf("ring step %d Screen = %v with targets %v, screening %v", i, s.Screen, s.Targets, in.Number.Screening)
			}
			for _, tg := range s.Targets {
				if tg.Kind == TargetPhone && tg.Number == in.Number.E164 {
					t.Errorf("ring step %d rings the number itself", i)
				}
			}
		case StepVoicemail:
			want := GreetingInHours
			if p.AfterHours {
				want = GreetingAfterHours
			}
			if s.Greeting != want || !in.Number.Voicemail {
				t.Errorf("voicemail step greeting %q (voicemail on: %v); want %q", s.Greeting, in.Number.Voicemail, want)
			}
		case StepHangup:
			if s.Closed != p.AfterHours {
				t.Errorf("hangup Closed = %v with AfterHours %v", s.Closed, p.AfterHours)
			}
		}
	}
}

// TestDecideCombinations runs Decide over every combination of the settings
// that steer it and checks the invariants every plan must keep.
func TestDecideCombinations(t *testing.T) {
	actions := []Action{
		{Kind: ActionVoicemail}, {Kind: ActionHangup},
		{Kind: ActionTeam, Team: "sales"}, {Kind: ActionTeam, Team: "rota"}, {Kind: ActionTeam, Team: "night"}, {Kind: ActionTeam, Team: "nope"},
		{Kind: ActionForward, Number: "+48700100100"}, {Kind: ActionForward, Number: mobile}, {Kind: ActionForward, Number: ownNumber},
	}
	n := 0
	for _, now := range []string{inHours, afterHours} {
		for _, ringing := range []Ringing{RingBrowser, RingForward, RingBoth, ""} {
			for _, ownerOK := range []bool{true, false} {
				for _, a := range actions {
					for _, vm := range []bool{true, false} {
						for _, screen := range []bool{true, false} {
							in := baseInput(t, now)
							in.Number.Ringing = ringing
							in.Number.Owner.Available = ownerOK
							in.Number.NoAnswer, in.Number.AfterHours = a, a
							in.Number.Voicemail, in.Number.Screening = vm, screen
							p := Decide(in)
							checkInvariants(t, in, p)
							if p.AfterHours != (now == afterHours) {
								t.Errorf("%s: AfterHours = %v", now, p.AfterHours)
							}
							if len(p.Steps) > 6 {
								t.Errorf("plan too long (%d steps):\n%s", len(p.Steps), p)
							}
							n++
						}
					}
				}
			}
		}
	}
	if n != 2*4*2*len(actions)*2*2 {
		t.Fatalf("ran %d combinations", n)
	}
}

func TestPlanString(t *testing.T) {
	p := Plan{Trace: []string{"a", "b", "c"}}
	if got := p.String(); got != "a\nb\nc" {
		t.Errorf("String() = %q", got)
	}
	if got := (Plan{}).String(); got != "" {
		t.Errorf("empty String() = %q", got)
	}
}

func TestKindStrings(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{StepRing.String(), "ring"},
		{StepVoicemail.String(), "voicemail"},
		{StepHangup.String(), "hangup"},
		{StepKind(7).String(), "StepKind(7)"},
		{TargetBrowser.String(), "browser"},
		{TargetPhone.String(), "phone"},
		{TargetKind(3).String(), "TargetKind(3)"},
		{browser("alice").String(), "browser:alice"},
		{phone(mobile).String(), "phone:+48600100200"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q; want %q", tt.got, tt.want)
		}
	}
}

func TestParseRingingAndTeamMode(t *testing.T) {
	for _, s := range []string{"forward", "browser", "both"} {
		if r, err := ParseRinging(s); err != nil || string(r) != s {
			t.Errorf("ParseRinging(%q) = %q, %v", s, r, err)
		}
	}
	for _, s := range []string{"", "Browser", "mobile"} {
		if _, err := ParseRinging(s); !errors.Is(err, ErrInvalidRinging) || !strings.Contains(err.Error(), "want forward, browser or both") {
			t.Errorf("ParseRinging(%q) error = %v", s, err)
		}
	}
	for _, s := range []string{"all", "rotation"} {
		if m, err := ParseTeamMode(s); err != nil || string(m) != s {
			t.Errorf("ParseTeamMode(%q) = %q, %v", s, m, err)
		}
	}
	for _, s := range []string{"", "round-robin"} {
		if _, err := ParseTeamMode(s); !errors.Is(err, ErrInvalidTeamMode) || !strings.Contains(err.Error(), "want all or rotation") {
			t.Errorf("ParseTeamMode(%q) error = %v", s, err)
		}
	}
}

// TestDecideDoesNotMutateInput guards the callers' shared settings and maps.
func TestDecideDoesNotMutateInput(t *testing.T) {
	in := baseInput(t, afterHours)
	in.Number.AfterHours = Action{Kind: ActionTeam, Team: "rota"}
	in.Rotation = map[string]int{"rota": 2}
	before := fmt.Sprintf("%+v %+v %v", in.Number, in.Teams, in.Rotation)
	p := Decide(in)
	if after := fmt.Sprintf("%+v %+v %v", in.Number, in.Teams, in.Rotation); after != before {
		t.Errorf("Decide changed its input:\nbefore %s\nafter  %s", before, after)
	}
	if p.Rotated["rota"] != 3 || in.Rotation["rota"] != 2 {
		t.Errorf("Rotated = %v, input Rotation = %v; want 3 and an untouched 2", p.Rotated, in.Rotation)
	}
}

// benchInput is a number with 3 ranges and 10 closed dates whose no-answer
// action is a rotation over a team of 10.
func benchInput(b *testing.B) Input {
	waw := mustLoad(b, "Europe/Warsaw")
	h := &Hours{Location: waw, Ranges: []Range{
		{Days: weekdays, From: 540, To: 1020},
		{Days: days(time.Saturday), From: 600, To: 840},
		{Days: days(time.Friday), From: 1320, To: 120},
	}}
	for i := range 10 {
		h.Specials = append(h.Specials, Special{Date: fmt.Sprintf("2026-12-%02d", 20+i), Closed: true})
	}
	if err := h.Validate(); err != nil {
		b.Fatal(err)
	}
	members := make([]Member, 10)
	for i := range members {
		members[i] = Member{ID: fmt.Sprintf("user%d", i), Available: i%3 != 0, Reason: "away"}
	}
	return Input{
		Number: Number{
			E164: ownNumber, Name: "Sales", Owner: Member{ID: "user1", Available: true},
			Ringing: RingBoth, ForwardTo: mobile, RingTimeout: 25 * time.Second, Hours: h,
			NoAnswer: Action{Kind: ActionTeam, Team: "sales"}, AfterHours: Action{Kind: ActionVoicemail},
			Screening: true, Voicemail: true,
		},
		Now:      local(b, waw, inHours),
		Caller:   caller,
		Teams:    map[string]Team{"sales": {Name: "sales", Mode: TeamRotation, MemberTimeout: 10 * time.Second, Members: members}},
		Rotation: map[string]int{"sales": 4},
	}
}

func BenchmarkDecide(b *testing.B) {
	in := benchInput(b)
	if p := Decide(in); len(p.Steps) != 7 || p.Rotated["sales"] != 5 {
		b.Fatalf("benchmark plan has %d steps, want 7 (and rotation 5):\n%s", len(p.Steps), p)
	}
	b.ReportAllocs()
	for b.Loop() {
		Decide(in)
	}
}
