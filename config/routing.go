package config

import (
	"fmt"
	"strings"
	"time"
	// The zone database is embedded, so working hours validate and decide
	// the same on a host without /usr/share/zoneinfo.
	_ "time/tzdata"

	"gopkg.in/yaml.v3"

	"switchboard/phone"
	"switchboard/routing"
)

// WorkingHours is a number's opening hours (yaml "working_hours"). Absent,
// the number is open 24/7.
type WorkingHours struct {
	Timezone     string         // yaml "timezone": IANA zone, e.g. "Europe/Warsaw". Default "UTC".
	Hours        []HoursRange   // yaml "hours": weekly ranges.
	ClosedDates  []string       // yaml "closed_dates": "2026-12-24" dates closed all day.
	SpecialHours []SpecialHours // yaml "special_hours": dates open only at other times.
	// Parsed is the validated form routing decides with.
	Parsed *routing.Hours
}

// HoursRange is one weekly opening: days, from, to ("09:00"; a "to" at or
// before "from" crosses midnight).
type HoursRange struct {
	Days     []string // yaml "days": mon..sun, or ranges such as mon-fri.
	From, To string   // yaml "from", "to": "HH:MM", to may be "24:00".
}

// SpecialHours opens a date at other times than usual, e.g. a short day.
type SpecialHours struct {
	Date     string // yaml "date": "2026-12-31".
	From, To string // yaml "from", "to".
}

// Team says how calls sent to a team ring (yaml "teams"). Teams named by
// users[].team exist without an entry, ringing all members at once.
type Team struct {
	Name          string        // yaml "name": the users[].team value.
	Ring          string        // yaml "ring": "all" at once, or "rotation" one after another. ["all"]
	MemberTimeout time.Duration // yaml "member_timeout": how long each rotation step (or the team) rings. ["20s"]
}

func (d *decoder) workingHours(dst **WorkingHours) func(*yaml.Node, string) {
	return func(n *yaml.Node, p string) {
		w := &WorkingHours{Timezone: "UTC"}
		d.mapping(n, p, keys{
			"timezone": d.str(&w.Timezone),
			"hours": func(n *yaml.Node, p string) {
				d.sequence(n, p, func(_ int, item *yaml.Node, ip string) {
					var r HoursRange
					d.mapping(item, ip, keys{"days": d.stringList(&r.Days), "from": d.str(&r.From), "to": d.str(&r.To)})
					w.Hours = append(w.Hours, r)
				})
			},
			"closed_dates": d.stringList(&w.ClosedDates),
			"special_hours": func(n *yaml.Node, p string) {
				d.sequence(n, p, func(_ int, item *yaml.Node, ip string) {
					var sh SpecialHours
					d.mapping(item, ip, keys{"date": d.str(&sh.Date), "from": d.str(&sh.From), "to": d.str(&sh.To)})
					w.SpecialHours = append(w.SpecialHours, sh)
				})
			},
		})
		*dst = w
	}
}

func (d *decoder) team(item *yaml.Node, p string) Team {
	t := Team{Ring: string(routing.TeamAll), MemberTimeout: 20 * time.Second}
	d.mapping(item, p, keys{
		"name":           d.str(&t.Name),
		"ring":           d.str(&t.Ring),
		"member_timeout": d.duration(&t.MemberTimeout),
	})
	return t
}

// validateHours parses w into routing.Hours, reporting each problem at its key.
func (d *decoder) validateHours(w *WorkingHours, p string) {
	loc, err := time.LoadLocation(w.Timezone)
	if err != nil || w.Timezone == "" || w.Timezone == "Local" {
		d.failAt(p+".timezone", "%q is not an IANA time zone such as Europe/Warsaw or America/New_York", w.Timezone)
		loc = time.UTC
	}
	h := &routing.Hours{Location: loc}
	clocks := func(path, from, to string) (routing.Clock, routing.Clock, bool) {
		f, err1 := routing.ParseClock(from)
		if err1 != nil {
			d.failAt(path+".from", "%v", err1)
		}
		t, err2 := routing.ParseClock(to)
		if err2 != nil {
			d.failAt(path+".to", "%v", err2)
		}
		if err1 == nil && err2 == nil && f == t {
			d.failAt(path, "from and to are both %s: an empty range (24 hours is 00:00-24:00)", f)
			return 0, 0, false
		}
		return f, t, err1 == nil && err2 == nil
	}
	for i, r := range w.Hours {
		rp := fmt.Sprintf("%s.hours[%d]", p, i)
		days, err := routing.ParseDays(r.Days)
		if err != nil || len(days) == 0 {
			if err == nil {
				err = fmt.Errorf("needs at least one day")
			}
			d.failAt(rp+".days", "%v", err)
			continue
		}
		if f, t, ok := clocks(rp, r.From, r.To); ok {
			h.Ranges = append(h.Ranges, routing.Range{Days: days, From: f, To: t})
		}
	}
	seen := map[string]string{}
	date := func(path, s string) bool {
		if _, err := time.Parse("2006-01-02", s); err != nil {
			d.failAt(path, "%q is not a date like 2026-12-24", s)
			return false
		}
		if other := seen[s]; other != "" {
			d.failAt(path, "%s is also %s", s, other)
			return false
		}
		seen[s] = path
		return true
	}
	for i, s := range w.ClosedDates {
		if date(fmt.Sprintf("%s.closed_dates[%d]", p, i), s) {
			h.Specials = append(h.Specials, routing.Special{Date: s, Closed: true})
		}
	}
	for i, sh := range w.SpecialHours {
		sp := fmt.Sprintf("%s.special_hours[%d]", p, i)
		if !date(sp+".date", sh.Date) {
			continue
		}
		if f, t, ok := clocks(sp, sh.From, sh.To); ok {
			h.Specials = append(h.Specials, routing.Special{Date: sh.Date, Open: []routing.Range{{From: f, To: t}}})
		}
	}
	if err := h.Validate(); err != nil {
		d.failAt(p, "%v", err)
	}
	w.Parsed = h
}

// validateAction parses a no_answer / after_hours action: a team must
// exist, a forward target must be a phone number that is not ours.
func (d *decoder) validateAction(s, p string, c *Config, ours map[string]string) routing.Action {
	a, err := routing.ParseAction(strings.TrimSpace(s))
	if err != nil {
		// A national forward target is accepted like forward_to is.
		if num, ok := strings.CutPrefix(strings.TrimSpace(s), "forward:"); ok {
			if e, nerr := phone.Normalize(num, c.DefaultRegion); nerr == nil {
				a, err = routing.Action{Kind: routing.ActionForward, Number: e}, nil
			}
		}
	}
	if err != nil {
		d.failAt(p, "%v", err)
		return a
	}
	switch a.Kind {
	case routing.ActionTeam:
		if !c.hasTeam(a.Team) {
			d.failAt(p, "no user is in team %q (users[].team) and teams[] does not name it", a.Team)
		}
	case routing.ActionForward:
		if other := ours[a.Number]; other != "" {
			d.failAt(p, "%s is our own number (%s); forwarding there would loop", a.Number, other)
		}
	}
	return a
}

// hasTeam reports whether name is a team of the configuration.
func (c *Config) hasTeam(name string) bool {
	for _, u := range c.Users {
		if u.Team == name {
			return true
		}
	}
	for _, t := range c.Teams {
		if t.Name == name {
			return true
		}
	}
	return false
}

func (d *decoder) validateTeams(c *Config) {
	names := map[string]string{}
	for i, t := range c.Teams {
		p := fmt.Sprintf("teams[%d]", i)
		if t.Name == "" {
			d.required(p+".name", "")
		} else if other := names[t.Name]; other != "" {
			d.failAt(p+".name", "duplicate team %q (also %s)", t.Name, other)
		} else {
			names[t.Name] = p
		}
		if _, err := routing.ParseTeamMode(t.Ring); err != nil {
			d.failAt(p+".ring", "%q must be all or rotation", t.Ring)
		}
		if t.MemberTimeout < time.Second || t.MemberTimeout > 300*time.Second {
			d.failAt(p+".member_timeout", "%s is out of range (1s to 300s)", t.MemberTimeout)
		}
	}
}
