package routing

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors wrapped by the parsers and by Hours.Validate, so callers can
// tell a bad setting from other failures with errors.Is.
var (
	// ErrInvalidClock is wrapped by ParseClock errors.
	ErrInvalidClock = errors.New("invalid time of day")
	// ErrInvalidDays is wrapped by ParseDays errors.
	ErrInvalidDays = errors.New("invalid days")
	// ErrInvalidHours is wrapped by every error Hours.Validate reports.
	ErrInvalidHours = errors.New("invalid working hours")
)

// minutesPerDay is the length of a wall-clock day; DST days are still
// 00:00..24:00 on the wall, which is the only clock hours are written in.
const minutesPerDay = 24 * 60

// dateLayout is the only accepted form of a Special's date.
const dateLayout = "2006-01-02"

// Clock is a time of day in minutes after midnight, 0..1440. The value 1440
// ("24:00") is only meaningful as the end of a range.
type Clock int

// ParseClock parses "HH:MM" or "H:MM" (24-hour clock, 00:00..23:59), and
// "24:00" for the end of the day. Errors wrap ErrInvalidClock and name the
// problem.
func ParseClock(s string) (Clock, error) {
	hs, ms, ok := strings.Cut(s, ":")
	if !ok {
		return 0, fmt.Errorf("%w: %q: want HH:MM, e.g. 09:00", ErrInvalidClock, s)
	}
	if len(hs) < 1 || len(hs) > 2 || !allDigits(hs) {
		return 0, fmt.Errorf("%w: %q: the hour must be 1 or 2 digits, want HH:MM", ErrInvalidClock, s)
	}
	if len(ms) != 2 || !allDigits(ms) {
		return 0, fmt.Errorf("%w: %q: the minutes must be 2 digits, want HH:MM", ErrInvalidClock, s)
	}
	h, _ := strconv.Atoi(hs)
	m, _ := strconv.Atoi(ms)
	switch {
	case m > 59:
		return 0, fmt.Errorf("%w: %q: minutes must be 00..59", ErrInvalidClock, s)
	case h == 24 && m != 0:
		return 0, fmt.Errorf("%w: %q: 24:00 is the latest time (the end of the day)", ErrInvalidClock, s)
	case h > 24:
		return 0, fmt.Errorf("%w: %q: the hour must be 0..23 (or 24:00 for the end of the day)", ErrInvalidClock, s)
	}
	return Clock(h*60 + m), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String formats c as "HH:MM" ("24:00" for 1440); a value outside 0..1440
// formats as "Clock(n)".
func (c Clock) String() string {
	if c < 0 || c > minutesPerDay {
		return "Clock(" + strconv.Itoa(int(c)) + ")"
	}
	var b [5]byte
	return string(c.append(b[:0]))
}

// append writes c as "HH:MM" without allocating; c must be in 0..1440.
func (c Clock) append(b []byte) []byte {
	h, m := int(c)/60, int(c)%60
	return append(b, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10))
}

// Range is one weekly opening: on each of Days, From to To in the number's
// zone. To <= From means the range crosses midnight: Fri 22:00-02:00 is open
// Fri 22:00..Sat 02:00 and belongs to Friday for the day check (and for dated
// exceptions: a closed Saturday does not cut it short, a closed Friday removes
// it entirely). To is exclusive: 09:00-17:00 is closed at 17:00.
type Range struct {
	Days     []time.Weekday
	From, To Clock
}

// crosses reports whether r runs past midnight into the next day.
func (r Range) crosses() bool { return r.To <= r.From }

// on reports whether r opens on weekday wd.
func (r Range) on(wd time.Weekday) bool {
	for _, d := range r.Days {
		if d == wd {
			return true
		}
	}
	return false
}

// String formats r as it is read in traces: "Mon-Fri 09:00-17:00".
func (r Range) String() string {
	return string(r.append(nil, true))
}

func (r Range) append(b []byte, withDays bool) []byte {
	if withDays {
		b = appendDays(b, r.Days)
		b = append(b, ' ')
	}
	b = clampClock(r.From).append(b)
	b = append(b, '-')
	return clampClock(r.To).append(b)
}

// clampClock keeps formatting total for unvalidated values.
func clampClock(c Clock) Clock {
	return max(0, min(c, minutesPerDay))
}

// Special is a dated exception: Closed all day, or open only during Open
// (whose Days are ignored) on Date, a "2006-01-02" date in the number's zone.
type Special struct {
	Date   string
	Closed bool
	Open   []Range
}

// Hours is a number's working hours. A nil *Hours, or one with no Ranges and
// no Specials, is open 24/7. With Specials but no Ranges, every date that is
// not a Special is open all day (24/7 apart from the exceptions). A nil
// Location means UTC.
type Hours struct {
	Location *time.Location
	Ranges   []Range
	Specials []Special
}

// dayNames are the accepted day names, indexed by time.Weekday.
var dayNames = [7][2]string{
	{"sun", "sunday"}, {"mon", "monday"}, {"tue", "tuesday"}, {"wed", "wednesday"},
	{"thu", "thursday"}, {"fri", "friday"}, {"sat", "saturday"},
}

// dayAbbr is the trace form of each weekday, indexed by time.Weekday.
var dayAbbr = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

func parseDay(s string) (time.Weekday, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	for d, names := range dayNames {
		if s == names[0] || s == names[1] {
			return time.Weekday(d), true
		}
	}
	return 0, false
}

// ParseDays parses day names: "mon".."sun" or "monday".."sunday" in any case,
// and ranges such as "mon-fri" (a range may wrap the week: "fri-mon" is
// Friday to Monday). An element may hold several comma-separated names
// ("mon,wed,fri"). The result lists each day once, Monday first. Errors wrap
// ErrInvalidDays and name the bad element.
func ParseDays(names []string) ([]time.Weekday, error) {
	var set [7]bool
	for i, item := range names {
		for part := range strings.SplitSeq(item, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				return nil, fmt.Errorf("%w: days[%d] %q: empty day name; want mon..sun, e.g. mon-fri", ErrInvalidDays, i, item)
			}
			first, last, isRange := strings.Cut(part, "-")
			a, ok := parseDay(first)
			if !ok {
				return nil, fmt.Errorf("%w: days[%d] %q: %q is not a day; want mon, tue, wed, thu, fri, sat, sun or a range like mon-fri", ErrInvalidDays, i, item, strings.TrimSpace(first))
			}
			b := a
			if isRange {
				if b, ok = parseDay(last); !ok {
					return nil, fmt.Errorf("%w: days[%d] %q: %q is not a day; want mon, tue, wed, thu, fri, sat, sun or a range like mon-fri", ErrInvalidDays, i, item, strings.TrimSpace(last))
				}
			}
			for d := a; ; d = (d + 1) % 7 {
				set[d] = true
				if d == b {
					break
				}
			}
		}
	}
	var days []time.Weekday
	for i := range 7 {
		if d := time.Weekday((i + 1) % 7); set[d] {
			days = append(days, d)
		}
	}
	if len(days) == 0 {
		return nil, fmt.Errorf("%w: no days given; want e.g. [mon-fri] or [sat, sun]", ErrInvalidDays)
	}
	return days, nil
}

// appendDays writes a day set compactly, runs joined with a dash, in week
// order Monday first, starting a wrapped run where it begins: "Mon-Fri",
// "Sat-Sun", "Mon, Wed, Fri", "Fri-Mon", "Mon-Sun".
func appendDays(b []byte, days []time.Weekday) []byte {
	var set [7]bool
	n := 0
	for _, d := range days {
		if d >= 0 && d < 7 && !set[d] {
			set[d] = true
			n++
		}
	}
	switch n {
	case 0:
		return append(b, "no days"...)
	case 7:
		return append(b, "Mon-Sun"...)
	}
	// Start at the first day (Monday first) whose previous day is not in the
	// set, so a run wrapping Sunday -> Monday is printed as one run.
	start := time.Monday
	for i := range 7 {
		d := time.Weekday((i + 1) % 7)
		if set[d] && !set[(d+6)%7] {
			start = d
			break
		}
	}
	first := true
	for i := 0; i < 7; {
		d := (start + time.Weekday(i)) % 7
		if !set[d] {
			i++
			continue
		}
		j := i
		for j+1 < 7 && set[(start+time.Weekday(j+1))%7] {
			j++
		}
		if !first {
			b = append(b, ", "...)
		}
		first = false
		b = append(b, dayAbbr[d]...)
		if j > i {
			b = append(b, '-')
			b = append(b, dayAbbr[(start+time.Weekday(j))%7]...)
		}
		i = j + 1
	}
	return b
}

// location is the zone h is written in.
func (h *Hours) location() *time.Location {
	if h == nil || h.Location == nil {
		return time.UTC
	}
	return h.Location
}

// special returns the exception for date (in dateLayout form), if any.
func (h *Hours) special(date []byte) *Special {
	for i := range h.Specials {
		if h.Specials[i].Date == string(date) {
			return &h.Specials[i]
		}
	}
	return nil
}

// appendDate writes y-m-d in dateLayout form without allocating.
func appendDate(b []byte, y int, m time.Month, d int) []byte {
	b = strconv.AppendInt(b, int64(y), 10)
	return append(b, '-', byte('0'+int(m)/10), byte('0'+int(m)%10), '-', byte('0'+d/10), byte('0'+d%10))
}

// match is an opening found for an instant.
type match struct {
	r       Range
	special *Special     // non-nil: r comes from this dated exception
	opened  time.Weekday // the day r opened on
	tail    bool         // the instant is in r's after-midnight part
}

// Open reports whether t falls in the hours, with a one-line human-readable
// reason in the number's zone, e.g. "Tue 18:05 Europe/Warsaw is outside
// Mon-Fri 09:00-17:00", "Thu 2026-12-24 is a closed date", "no working hours
// set: open 24/7" or "Sat 11:00 Europe/Warsaw is within Sat 10:00-14:00".
// Hours are compared on the wall clock of t.In(Location) at minute
// resolution; see the package comment for daylight saving.
func (h *Hours) Open(t time.Time) (open bool, why string) {
	if h == nil || (len(h.Ranges) == 0 && len(h.Specials) == 0) {
		return true, "no working hours set: open 24/7"
	}
	loc := h.location()
	lt := t.In(loc)
	y, mo, d := lt.Date()
	wd := lt.Weekday()
	now := Clock(lt.Hour()*60 + lt.Minute())

	var todayBuf, prevBuf [16]byte
	today := appendDate(todayBuf[:0], y, mo, d)
	py, pm, pd := time.Date(y, mo, d-1, 12, 0, 0, 0, time.UTC).Date()
	prev := appendDate(prevBuf[:0], py, pm, pd)
	prevWd := (wd + 6) % 7

	sp := h.special(today)
	var m match
	found := false
	switch {
	case sp != nil && sp.Closed:
		// No opening starts today; yesterday's may still run past midnight.
	case sp != nil:
		for _, r := range sp.Open {
			if now >= r.From && (r.crosses() || now < r.To) {
				m, found = match{r: r, special: sp, opened: wd}, true
				break
			}
		}
	case len(h.Ranges) == 0:
		var b []byte
		b = appendWall(b, lt, loc)
		b = append(b, " is open all day: only dated exceptions are set"...)
		return true, string(b)
	default:
		for _, r := range h.Ranges {
			if r.on(wd) && now >= r.From && (r.crosses() || now < r.To) {
				m, found = match{r: r, opened: wd}, true
				break
			}
		}
	}
	if !found {
		m, found = h.tail(prev, prevWd, now)
	}

	b := make([]byte, 0, 96)
	if found {
		b = appendWall(b, lt, loc)
		b = append(b, " is within "...)
		if m.special != nil {
			b = append(b, "the special hours for "...)
			b = append(b, m.special.Date...)
			b = append(b, ": "...)
			b = m.r.append(b, false)
		} else {
			b = m.r.append(b, true)
		}
		if m.tail {
			b = append(b, " (opened "...)
			b = append(b, dayAbbr[m.opened]...)
			b = append(b, ' ')
			b = m.r.From.append(b)
			b = append(b, ')')
		}
		return true, string(b)
	}
	switch {
	case sp != nil && sp.Closed:
		b = append(b, dayAbbr[wd]...)
		b = append(b, ' ')
		b = append(b, today...)
		b = append(b, " is a closed date"...)
	case sp != nil:
		b = appendWall(b, lt, loc)
		b = append(b, " is outside the special hours for "...)
		b = append(b, sp.Date...)
		b = append(b, ": "...)
		b = appendRanges(b, sp.Open, false)
	default:
		b = appendWall(b, lt, loc)
		b = append(b, " is outside "...)
		b = appendRanges(b, h.Ranges, true)
	}
	return false, string(b)
}

// tail finds an opening that started the day before (date prev, weekday
// prevWd) and is still open at now, after midnight.
func (h *Hours) tail(prev []byte, prevWd time.Weekday, now Clock) (match, bool) {
	if sp := h.special(prev); sp != nil {
		if sp.Closed {
			return match{}, false
		}
		for _, r := range sp.Open {
			if r.crosses() && now < r.To {
				return match{r: r, special: sp, opened: prevWd, tail: true}, true
			}
		}
		return match{}, false
	}
	for _, r := range h.Ranges {
		if r.crosses() && r.on(prevWd) && now < r.To {
			return match{r: r, opened: prevWd, tail: true}, true
		}
	}
	return match{}, false
}

// appendWall writes "Tue 18:05 Europe/Warsaw" for lt in loc.
func appendWall(b []byte, lt time.Time, loc *time.Location) []byte {
	b = lt.AppendFormat(b, "Mon 15:04 ")
	return append(b, loc.String()...)
}

func appendRanges(b []byte, rs []Range, withDays bool) []byte {
	if len(rs) == 0 {
		return append(b, "no opening ranges"...)
	}
	for i, r := range rs {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = r.append(b, withDays)
	}
	return b
}

// Validate checks h and reports every problem at once (errors.Join; each
// wraps ErrInvalidHours). Each names the field by its configuration key:
// weekly ranges are "hours[i]" ("hours[1].from: ..."), closed Specials are
// "closed_dates[k]" and open ones "special_hours[k]" ("special_hours[0].open[1].to: ..."),
// k counting only Specials of that kind, in order. It rejects empty or unknown
// days, times outside 00:00..24:00 (24:00 only as an end), ranges with
// From == To, dates not in YYYY-MM-DD form, a date listed twice, a closed date
// with opening ranges and special hours with none. A nil *Hours is valid.
func (h *Hours) Validate() error {
	if h == nil {
		return nil
	}
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %w: %s", field, ErrInvalidHours, fmt.Sprintf(format, args...)))
	}
	checkRange := func(field string, r Range, needDays bool) {
		if needDays {
			if len(r.Days) == 0 {
				add(field+".days", "no days given; want e.g. [mon-fri]")
			}
			for j, d := range r.Days {
				if d < time.Sunday || d > time.Saturday {
					add(fmt.Sprintf("%s.days[%d]", field, j), "%d is not a weekday (0 = Sunday .. 6 = Saturday)", int(d))
				}
			}
		}
		if r.From < 0 || r.From >= minutesPerDay {
			add(field+".from", "%s is not a start time; want 00:00..23:59", r.From)
		}
		if r.To < 0 || r.To > minutesPerDay {
			add(field+".to", "%s is not an end time; want 00:00..24:00", r.To)
		}
		if r.From == r.To {
			add(field+".to", "equals from (%s): a range needs a length; use 00:00-24:00 for a whole day", r.From)
		}
	}
	for i, r := range h.Ranges {
		checkRange(fmt.Sprintf("hours[%d]", i), r, true)
	}
	seen := make(map[string]string, len(h.Specials))
	closedN, specialN := 0, 0
	for _, sp := range h.Specials {
		var field string
		if sp.Closed {
			field = fmt.Sprintf("closed_dates[%d]", closedN)
			closedN++
		} else {
			field = fmt.Sprintf("special_hours[%d]", specialN)
			specialN++
		}
		if d, err := time.Parse(dateLayout, sp.Date); err != nil || d.Format(dateLayout) != sp.Date {
			add(field, "%q is not a date; want YYYY-MM-DD, e.g. 2026-12-24", sp.Date)
		} else if other, dup := seen[sp.Date]; dup {
			add(field, "%s is already listed as %s", sp.Date, other)
		} else {
			seen[sp.Date] = field
		}
		switch {
		case sp.Closed && len(sp.Open) > 0:
			add(field, "a closed date has no opening ranges; list %s under special hours instead", sp.Date)
		case !sp.Closed && len(sp.Open) == 0:
			add(field+".open", "no ranges; give e.g. 10:00-14:00, or list %s as a closed date", sp.Date)
		}
		for j, r := range sp.Open {
			checkRange(fmt.Sprintf("%s.open[%d]", field, j), r, false)
		}
	}
	return errors.Join(errs...)
}
