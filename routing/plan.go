package routing

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors for the setting parsers below.
var (
	// ErrInvalidRinging is wrapped by ParseRinging errors.
	ErrInvalidRinging = errors.New("invalid ringing mode")
	// ErrInvalidTeamMode is wrapped by ParseTeamMode errors.
	ErrInvalidTeamMode = errors.New("invalid team mode")
)

// Ringing says which devices a number rings while it is in hours.
type Ringing string

// The ringing modes.
const (
	// RingForward rings the number's ForwardTo phone through the trunk.
	RingForward Ringing = "forward"
	// RingBrowser rings the owner's signed-in browser tabs.
	RingBrowser Ringing = "browser"
	// RingBoth rings the owner's browsers and the forward phone at once;
	// the first to answer wins.
	RingBoth Ringing = "both"
)

// ParseRinging parses "forward", "browser" or "both". Errors wrap
// ErrInvalidRinging and list the accepted values.
func ParseRinging(s string) (Ringing, error) {
	switch r := Ringing(s); r {
	case RingForward, RingBrowser, RingBoth:
		return r, nil
	}
	return "", fmt.Errorf("%w: %q: want forward, browser or both", ErrInvalidRinging, s)
}

// TeamMode says how a team's members are rung.
type TeamMode string

// The team modes. An empty TeamMode rings like TeamAll.
const (
	// TeamAll rings every available member at once.
	TeamAll TeamMode = "all"
	// TeamRotation rings available members one after another, starting
	// where the previous call's rotation left off.
	TeamRotation TeamMode = "rotation"
)

// ParseTeamMode parses "all" or "rotation". Errors wrap ErrInvalidTeamMode
// and list the accepted values.
func ParseTeamMode(s string) (TeamMode, error) {
	switch m := TeamMode(s); m {
	case TeamAll, TeamRotation:
		return m, nil
	}
	return "", fmt.Errorf("%w: %q: want all or rotation", ErrInvalidTeamMode, s)
}

// Team is a group of users a call can be sent to, with each member's
// availability at the moment of the decision.
type Team struct {
	Name string
	Mode TeamMode
	// MemberTimeout is how long each rotation step (or the single all-at-once
	// step) rings; 0 means the number's RingTimeout.
	MemberTimeout time.Duration
	Members       []Member
}

// Member is a user and whether they can take a call now; Reason says why not
// ("away", "on a call", "no tab open"), phrased to follow "is", or starting
// with "no", so traces read "bob is away" and "bob has no tab open".
type Member struct {
	ID        string
	Available bool
	Reason    string
}

// state phrases why the member is unavailable for a trace line that starts
// with their ID: "is away", "is on a call", "has no tab open", "is unavailable".
func (m Member) state() string {
	switch r := m.Reason; {
	case r == "":
		return "is unavailable"
	case strings.HasPrefix(r, "no "):
		return "has " + r
	case strings.HasPrefix(r, "is "), strings.HasPrefix(r, "has "):
		return r
	default:
		return "is " + r
	}
}

// Number is one of our phone numbers with the settings routing needs.
type Number struct {
	E164, Name string
	// Owner is the user whose browsers ring; ID "" when the number has no owner.
	Owner Member
	// Ringing is what rings in hours; an unknown value rings nothing (traced).
	Ringing Ringing
	// ForwardTo is the E.164 phone rung in forward and both modes.
	ForwardTo string
	// RingTimeout is how long the in-hours ring step lasts.
	RingTimeout time.Duration
	// Hours are the working hours; nil is open 24/7.
	Hours *Hours
	// NoAnswer runs in hours when the ring step is not answered (or rang
	// nobody); AfterHours runs instead of ringing outside the hours.
	NoAnswer, AfterHours Action
	// Screening makes forwarded phones press 1 to accept, so a call is not
	// taken by the mobile's own voicemail.
	Screening bool
	// Voicemail says whether the number's voicemail is enabled.
	Voicemail bool
}

// Input is everything one routing decision depends on.
type Input struct {
	Number Number
	// Now is the instant the call arrived.
	Now time.Time
	// Caller is the caller's number as presented (E.164 when known, "" when
	// withheld). It only appears in the trace.
	Caller string
	// Teams are the teams by name, with members' availability.
	Teams map[string]Team
	// Rotation is where each team's fair rotation starts: the index into
	// Members of the member to ring first (the caller keeps and advances it;
	// see Plan.Rotated). Missing = 0; out-of-range values wrap.
	Rotation map[string]int
}

// StepKind is what a plan step does.
type StepKind int

// The step kinds.
const (
	// StepRing rings Targets at once for Timeout; the first answer wins.
	StepRing StepKind = iota
	// StepVoicemail plays a greeting and records a message.
	StepVoicemail
	// StepHangup ends the call.
	StepHangup
)

// String returns "ring", "voicemail" or "hangup".
func (k StepKind) String() string {
	switch k {
	case StepRing:
		return "ring"
	case StepVoicemail:
		return "voicemail"
	case StepHangup:
		return "hangup"
	}
	return "StepKind(" + strconv.Itoa(int(k)) + ")"
}

// TargetKind is the kind of device a ring step reaches.
type TargetKind int

// The target kinds.
const (
	// TargetBrowser is a user's signed-in browser tabs.
	TargetBrowser TargetKind = iota
	// TargetPhone is a phone number called through the trunk.
	TargetPhone
)

// String returns "browser" or "phone".
func (k TargetKind) String() string {
	switch k {
	case TargetBrowser:
		return "browser"
	case TargetPhone:
		return "phone"
	}
	return "TargetKind(" + strconv.Itoa(int(k)) + ")"
}

// Target is one device to ring: a user's browsers (User) or a phone (Number).
type Target struct {
	Kind   TargetKind
	User   string
	Number string
}

// String returns "browser:<user>" or "phone:<number>".
func (t Target) String() string {
	if t.Kind == TargetPhone {
		return "phone:" + t.Number
	}
	return t.Kind.String() + ":" + t.User
}

// Greetings a voicemail step plays.
const (
	// GreetingInHours is played when the call was not answered in hours.
	GreetingInHours = "in_hours"
	// GreetingAfterHours is played when the call came after hours.
	GreetingAfterHours = "after_hours"
)

// Step is one thing the engine does with the call; steps run in order until
// one is answered or ends the call.
type Step struct {
	Kind     StepKind
	Targets  []Target      // StepRing: all ring at once, first answer wins
	Timeout  time.Duration // StepRing
	Screen   bool          // StepRing: phone targets must press 1 to accept
	Greeting string        // StepVoicemail: GreetingInHours or GreetingAfterHours
	Closed   bool          // StepHangup: play the closed announcement first
	Why      string        // the trace line that produced this step
}

// Plan is the outcome of Decide: the steps to run and why.
type Plan struct {
	Steps []Step
	// AfterHours is true when the call arrived outside the working hours.
	AfterHours bool
	// Trace is every decision in order, human-readable, including skipped
	// members and why.
	Trace []string
	// Rotated is the new rotation start per team rung in rotation mode: one
	// past the first member rung. The caller stores it for the next call;
	// nil when no rotation was used.
	Rotated map[string]int
}

// String returns the trace joined with "\n".
func (p Plan) String() string {
	return strings.Join(p.Trace, "\n")
}

// decider carries one Decide call's state.
type decider struct {
	in        *Input
	p         Plan
	ownerRung bool
	rungPhone map[string]bool // phones already rung by an earlier step
	greeting  string
}

// Decide turns a number's settings, the time, the caller and who is
// available into a plan. In hours it rings the number's devices per Ringing
// for RingTimeout, then runs the no-answer action; after hours it runs the
// after-hours action. A team or forward action that reaches nobody, or is not
// answered, falls back to voicemail (or hangup when voicemail is off). Each
// action runs at most once, so a plan is always finite.
func Decide(in Input) Plan {
	d := decider{in: &in}
	d.p.Steps = make([]Step, 0, 4)
	d.p.Trace = make([]string, 0, 8)
	n := &in.Number

	caller := in.Caller
	if caller == "" {
		caller = "a withheld number"
	}
	to := n.E164
	if n.Name != "" {
		to += " (" + n.Name + ")"
	}
	d.trace("call from " + caller + " to " + to)

	open, why := n.Hours.Open(in.Now)
	if !open {
		d.p.AfterHours = true
		d.greeting = GreetingAfterHours
		d.trace(why + " -> after-hours action " + n.AfterHours.String())
		d.run(n.AfterHours)
		return d.p
	}
	d.greeting = GreetingInHours
	d.trace(why + " -> in hours: ring " + ringingName(n.Ringing))
	if d.ringNumber() {
		d.trace("no answer within " + n.RingTimeout.String() + " -> no-answer action " + n.NoAnswer.String())
	} else {
		d.trace("nobody to ring -> no-answer action " + n.NoAnswer.String())
	}
	d.run(n.NoAnswer)
	return d.p
}

func ringingName(r Ringing) string {
	if r == "" {
		return `"" (not set)`
	}
	return string(r)
}

// trace records a decision and returns it for the step it produces.
func (d *decider) trace(s string) string {
	d.p.Trace = append(d.p.Trace, s)
	return s
}

// ringNumber adds the in-hours ring step; it reports whether anything rings.
func (d *decider) ringNumber() bool {
	n := &d.in.Number
	var browser, phone bool
	switch n.Ringing {
	case RingBrowser:
		browser = true
	case RingForward:
		phone = true
	case RingBoth:
		browser, phone = true, true
	default:
		d.trace("ringing mode " + ringingName(n.Ringing) + " is unknown: nothing rung")
		return false
	}
	var targets []Target
	if browser {
		switch {
		case n.Owner.ID == "":
			d.trace("the number has no owner: no browser rung")
		case !n.Owner.Available:
			d.trace("owner " + n.Owner.ID + " " + n.Owner.state() + ": not rung")
		default:
			targets = append(targets, Target{Kind: TargetBrowser, User: n.Owner.ID})
		}
	}
	if phone {
		if t, ok := d.phoneTarget(n.ForwardTo, "forward_to"); ok {
			targets = append(targets, t)
		}
	}
	if len(targets) == 0 {
		return false
	}
	d.ring(targets, n.RingTimeout, "ring ")
	return true
}

// phoneTarget checks a phone before it is rung: set, not this number itself
// (the trunk would deliver the call straight back to us), not rung already.
func (d *decider) phoneTarget(num, what string) (Target, bool) {
	n := &d.in.Number
	switch {
	case num == "":
		d.trace(what + " is not set: no phone rung")
	case num == n.E164:
		d.trace(what + " " + num + " is this number itself: not rung (the call would loop back to us)")
	case d.rungPhone[num]:
		d.trace("phone " + num + " already rang for this call: not rung again")
	default:
		return Target{Kind: TargetPhone, Number: num}, true
	}
	return Target{}, false
}

// ring appends a ring step for targets, tracing it as prefix + their names.
func (d *decider) ring(targets []Target, timeout time.Duration, prefix string) {
	n := &d.in.Number
	screen := false
	b := make([]byte, 0, 64)
	b = append(b, prefix...)
	for i, t := range targets {
		if i > 0 {
			b = append(b, ", "...)
		}
		switch t.Kind {
		case TargetBrowser:
			if t.User == n.Owner.ID {
				d.ownerRung = true
			}
			b = append(b, t.User...)
			b = append(b, "'s browser"...)
		case TargetPhone:
			if d.rungPhone == nil {
				d.rungPhone = make(map[string]bool, 2)
			}
			d.rungPhone[t.Number] = true
			screen = n.Screening
			b = append(b, "phone "...)
			b = append(b, t.Number...)
			if screen {
				b = append(b, " (screened: press 1 to accept)"...)
			}
		}
	}
	b = append(b, " for "...)
	b = append(b, timeout.String()...)
	why := d.trace(string(b))
	d.p.Steps = append(d.p.Steps, Step{Kind: StepRing, Targets: targets, Timeout: timeout, Screen: screen, Why: why})
}

// run expands an action into steps; team and forward fall back to voicemail
// when they reach nobody or are not answered. Fallbacks are terminal, so no
// action ever runs twice.
func (d *decider) run(a Action) {
	switch a.Kind {
	case ActionVoicemail:
		d.voicemail()
	case ActionHangup:
		d.hangup("hang up")
	case ActionTeam:
		if d.team(a.Team) {
			d.trace("no answer from team " + a.Team + " -> voicemail")
		}
		d.voicemail()
	case ActionForward:
		if t, ok := d.phoneTarget(a.Number, "forward target"); ok {
			d.ring([]Target{t}, d.in.Number.RingTimeout, "forward: ring ")
			d.trace("no answer from " + a.Number + " -> voicemail")
		} else {
			d.trace("nothing to forward to -> voicemail")
		}
		d.voicemail()
	default:
		d.trace("action " + a.String() + " is unknown -> voicemail")
		d.voicemail()
	}
}

func (d *decider) voicemail() {
	if !d.in.Number.Voicemail {
		d.hangup("voicemail is off: hang up")
		return
	}
	why := d.trace("take a voicemail with the " + d.greeting + " greeting")
	d.p.Steps = append(d.p.Steps, Step{Kind: StepVoicemail, Greeting: d.greeting, Why: why})
}

func (d *decider) hangup(line string) {
	closed := d.p.AfterHours
	if closed {
		line += " after the closed announcement"
	}
	why := d.trace(line)
	d.p.Steps = append(d.p.Steps, Step{Kind: StepHangup, Closed: closed, Why: why})
}

// team adds the ring steps for a team; it reports whether anyone rings.
func (d *decider) team(name string) bool {
	t, ok := d.in.Teams[name]
	if !ok {
		d.trace("team " + name + " is unknown: nobody rung -> voicemail")
		return false
	}
	if len(t.Members) == 0 {
		d.trace("team " + name + " has no members: nobody rung -> voicemail")
		return false
	}
	timeout := t.MemberTimeout
	if timeout <= 0 {
		timeout = d.in.Number.RingTimeout
	}
	rotation := t.Mode == TeamRotation
	start := 0
	if rotation {
		start = d.in.Rotation[name] % len(t.Members)
		if start < 0 {
			start += len(t.Members)
		}
	}
	// Collect available members in ringing order first, tracing skips, so
	// the traces read in the order members are considered.
	avail := make([]int, 0, len(t.Members))
	owner := d.in.Number.Owner.ID
	for k := range t.Members {
		i := (start + k) % len(t.Members)
		m := t.Members[i]
		switch {
		case m.ID != "" && m.ID == owner && d.ownerRung:
			d.trace("team " + name + ": " + m.ID + " is the owner and already rang: skipped")
		case !m.Available:
			d.trace("team " + name + ": " + m.ID + " " + m.state() + ": skipped")
		default:
			avail = append(avail, i)
		}
	}
	if len(avail) == 0 {
		d.trace("nobody in team " + name + " can take the call -> voicemail")
		return false
	}
	if !rotation {
		targets := make([]Target, len(avail))
		for k, i := range avail {
			targets[k] = Target{Kind: TargetBrowser, User: t.Members[i].ID}
		}
		d.ring(targets, timeout, "team "+name+" (all at once): ring ")
		return true
	}
	for k, i := range avail {
		prefix := "team " + name + " (rotation " + strconv.Itoa(k+1) + " of " + strconv.Itoa(len(avail)) + "): ring "
		d.ring([]Target{{Kind: TargetBrowser, User: t.Members[i].ID}}, timeout, prefix)
	}
	if d.p.Rotated == nil {
		d.p.Rotated = make(map[string]int, 1)
	}
	d.p.Rotated[name] = (avail[0] + 1) % len(t.Members)
	return true
}
