package routing

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the tests must not depend on the machine's zoneinfo
)

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("LoadLocation(%q): %v", name, err)
	}
	return loc
}

// local is a wall-clock time in loc; use utc for instants inside a DST
// transition, where a wall time is ambiguous or missing.
func local(t testing.TB, loc *time.Location, s string) time.Time {
	t.Helper()
	tm, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatalf("ParseInLocation(%q): %v", s, err)
	}
	return tm
}

func utc(t testing.TB, s string) time.Time { return local(t, time.UTC, s) }

func days(ds ...time.Weekday) []time.Weekday { return ds }

var weekdays = days(time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday)

func clk(t testing.TB, s string) Clock {
	t.Helper()
	c, err := ParseClock(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func rng(t testing.TB, ds []time.Weekday, from, to string) Range {
	t.Helper()
	return Range{Days: ds, From: clk(t, from), To: clk(t, to)}
}

func TestParseClock(t *testing.T) {
	tests := []struct {
		in      string
		want    Clock
		wantErr string // substring; "" means success
	}{
		{"09:00", 540, ""},
		{"9:00", 540, ""},
		{"00:00", 0, ""},
		{"23:59", 1439, ""},
		{"24:00", 1440, ""},
		{"17:30", 1050, ""},
		{"", 0, "want HH:MM"},
		{"0900", 0, "want HH:MM"},
		{"9", 0, "want HH:MM"},
		{"25:00", 0, "the hour must be 0..23"},
		{"24:01", 0, "24:00 is the latest time"},
		{"12:60", 0, "minutes must be 00..59"},
		{"12:5", 0, "the minutes must be 2 digits"},
		{"123:00", 0, "the hour must be 1 or 2 digits"},
		{"ab:00", 0, "the hour must be 1 or 2 digits"},
		{"-1:00", 0, "the hour must be 1 or 2 digits"},
		{"12:0x", 0, "the minutes must be 2 digits"},
		{" 9:00", 0, "the hour must be 1 or 2 digits"},
	}
	for _, tt := range tests {
		got, err := ParseClock(tt.in)
		if tt.wantErr == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseClock(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalidClock) {
			t.Errorf("ParseClock(%q) error = %v; want ErrInvalidClock containing %q", tt.in, err, tt.wantErr)
		}
	}
}

func TestClockString(t *testing.T) {
	tests := []struct {
		c    Clock
		want string
	}{
		{0, "00:00"}, {540, "09:00"}, {1439, "23:59"}, {1440, "24:00"}, {-1, "Clock(-1)"}, {1441, "Clock(1441)"},
	}
	for _, tt := range tests {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("Clock(%d).String() = %q; want %q", int(tt.c), got, tt.want)
		}
		if tt.c >= 0 && tt.c <= 1440 {
			if back, err := ParseClock(tt.want); err != nil || back != tt.c {
				t.Errorf("ParseClock(%q) = %d, %v; want %d", tt.want, back, err, tt.c)
			}
		}
	}
}

func TestParseDays(t *testing.T) {
	tests := []struct {
		in      []string
		want    []time.Weekday
		wantErr string
	}{
		{[]string{"mon"}, days(time.Monday), ""},
		{[]string{"Monday", "FRI"}, days(time.Monday, time.Friday), ""},
		{[]string{"mon-fri"}, weekdays, ""},
		{[]string{"Mon-Fri", "sat"}, days(time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday), ""},
		{[]string{"sun", "sat"}, days(time.Saturday, time.Sunday), ""},
		{[]string{"fri-mon"}, days(time.Monday, time.Friday, time.Saturday, time.Sunday), ""},
		{[]string{"mon,wed, fri"}, days(time.Monday, time.Wednesday, time.Friday), ""},
		{[]string{"mon", "mon-tue"}, days(time.Monday, time.Tuesday), ""},
		{[]string{"saturday-sunday"}, days(time.Saturday, time.Sunday), ""},
		{[]string{"wed-wed"}, days(time.Wednesday), ""},
		{nil, nil, "no days given"},
		{[]string{}, nil, "no days given"},
		{[]string{"mon", "funday"}, nil, `days[1] "funday": "funday" is not a day`},
		{[]string{"mon-fry"}, nil, `days[0] "mon-fry": "fry" is not a day`},
		{[]string{""}, nil, `days[0] "": empty day name`},
		{[]string{"mon,,tue"}, nil, "empty day name"},
		{[]string{"mo"}, nil, "want mon, tue, wed, thu, fri, sat, sun"},
	}
	for _, tt := range tests {
		got, err := ParseDays(tt.in)
		if tt.wantErr == "" {
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseDays(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalidDays) {
			t.Errorf("ParseDays(%q) error = %v; want ErrInvalidDays containing %q", tt.in, err, tt.wantErr)
		}
	}
}

func TestRangeString(t *testing.T) {
	tests := []struct {
		r    Range
		want string
	}{
		{Range{Days: weekdays, From: 540, To: 1020}, "Mon-Fri 09:00-17:00"},
		{Range{Days: days(time.Saturday, time.Sunday), From: 600, To: 840}, "Sat-Sun 10:00-14:00"},
		{Range{Days: days(time.Friday, time.Saturday, time.Sunday, time.Monday), From: 1320, To: 120}, "Fri-Mon 22:00-02:00"},
		{Range{Days: days(time.Monday, time.Wednesday, time.Friday), From: 0, To: 1440}, "Mon, Wed, Fri 00:00-24:00"},
		{Range{Days: days(time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday), From: 0, To: 1440}, "Mon-Sun 00:00-24:00"},
		{Range{Days: days(time.Tuesday, time.Monday, time.Tuesday), From: 60, To: 90}, "Mon-Tue 01:00-01:30"},
		{Range{Days: days(time.Sunday), From: 1380, To: 60}, "Sun 23:00-01:00"},
		{Range{From: 60, To: 90}, "no days 01:00-01:30"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("%+v.String() = %q; want %q", tt.r, got, tt.want)
		}
	}
}

// openCase is one instant checked against one Hours.
type openCase struct {
	name string
	at   time.Time
	open bool
	why  string // exact reason; "" skips the check
}

func runOpen(t *testing.T, h *Hours, cases []openCase) {
	t.Helper()
	for _, tc := range cases {
		open, why := h.Open(tc.at)
		if open != tc.open {
			t.Errorf("%s: Open(%s) = %v (%q); want %v", tc.name, tc.at.Format(time.RFC3339), open, why, tc.open)
			continue
		}
		if tc.why != "" && why != tc.why {
			t.Errorf("%s: Open(%s) reason = %q; want %q", tc.name, tc.at.Format(time.RFC3339), why, tc.why)
		}
	}
}

func TestOpenAlways(t *testing.T) {
	const always = "no working hours set: open 24/7"
	for _, h := range []*Hours{nil, {}, {Location: mustLoad(t, "Europe/Warsaw")}} {
		for _, at := range []time.Time{utc(t, "2026-03-10 03:00"), utc(t, "2026-12-25 12:00")} {
			if open, why := h.Open(at); !open || why != always {
				t.Errorf("%+v.Open(%s) = %v, %q; want true, %q", h, at, open, why, always)
			}
		}
	}
}

func TestOpenWeekly(t *testing.T) {
	waw := mustLoad(t, "Europe/Warsaw")
	h := &Hours{Location: waw, Ranges: []Range{
		rng(t, weekdays, "09:00", "17:00"),
		rng(t, days(time.Saturday), "10:00", "14:00"),
	}}
	at := func(s string) time.Time { return local(t, waw, s) }
	runOpen(t, h, []openCase{
		{"after hours on a weekday", at("2026-03-10 18:05"), false, "Tue 18:05 Europe/Warsaw is outside Mon-Fri 09:00-17:00, Sat 10:00-14:00"},
		{"opening minute", at("2026-03-10 09:00"), true, "Tue 09:00 Europe/Warsaw is within Mon-Fri 09:00-17:00"},
		{"minute before opening", at("2026-03-10 08:59"), false, ""},
		{"last minute", at("2026-03-10 16:59"), true, ""},
		{"closing minute is closed", at("2026-03-10 17:00"), false, ""},
		{"second range", at("2026-03-14 11:00"), true, "Sat 11:00 Europe/Warsaw is within Sat 10:00-14:00"},
		{"saturday afternoon", at("2026-03-14 15:00"), false, "Sat 15:00 Europe/Warsaw is outside Mon-Fri 09:00-17:00, Sat 10:00-14:00"},
		{"saturday at weekday hours", at("2026-03-14 09:30"), false, ""},
		{"sunday", at("2026-03-15 12:00"), false, ""},
		{"monday", at("2026-03-16 12:00"), true, ""},
		// The zone is the number's, not the instant's: 08:30 UTC is 09:30 in Warsaw (CET).
		{"instant given in UTC", utc(t, "2026-03-10 08:30"), true, "Tue 09:30 Europe/Warsaw is within Mon-Fri 09:00-17:00"},
		{"instant given in UTC, before opening", utc(t, "2026-03-10 07:30"), false, ""},
	})
}

func TestOpenNilLocationIsUTC(t *testing.T) {
	h := &Hours{Ranges: []Range{rng(t, weekdays, "09:00", "17:00")}}
	runOpen(t, h, []openCase{
		{"utc in", utc(t, "2026-03-10 09:00"), true, "Tue 09:00 UTC is within Mon-Fri 09:00-17:00"},
		{"utc out", local(t, mustLoad(t, "Europe/Warsaw"), "2026-03-10 09:30"), false, "Tue 08:30 UTC is outside Mon-Fri 09:00-17:00"},
	})
}

func TestOpenMidnightCrossing(t *testing.T) {
	waw := mustLoad(t, "Europe/Warsaw")
	h := &Hours{Location: waw, Ranges: []Range{
		rng(t, days(time.Friday), "22:00", "02:00"),
		rng(t, days(time.Sunday), "23:00", "01:00"),
		rng(t, days(time.Wednesday), "20:00", "24:00"),
	}}
	at := func(s string) time.Time { return local(t, waw, s) }
	runOpen(t, h, []openCase{
		{"friday before", at("2026-03-13 21:59"), false, ""},
		{"friday start", at("2026-03-13 22:00"), true, "Fri 22:00 Europe/Warsaw is within Fri 22:00-02:00"},
		{"friday midnight-1", at("2026-03-13 23:59"), true, ""},
		{"saturday midnight", at("2026-03-14 00:00"), true, ""},
		{"saturday 01:00", at("2026-03-14 01:00"), true, "Sat 01:00 Europe/Warsaw is within Fri 22:00-02:00 (opened Fri 22:00)"},
		{"saturday 01:59", at("2026-03-14 01:59"), true, ""},
		{"saturday 02:00", at("2026-03-14 02:00"), false, ""},
		{"saturday 03:00", at("2026-03-14 03:00"), false, "Sat 03:00 Europe/Warsaw is outside Fri 22:00-02:00, Sun 23:00-01:00, Wed 20:00-24:00"},
		{"saturday 22:30 (range is friday's)", at("2026-03-14 22:30"), false, ""},
		{"sunday 23:30", at("2026-03-15 23:30"), true, ""},
		{"monday 00:30", at("2026-03-16 00:30"), true, "Mon 00:30 Europe/Warsaw is within Sun 23:00-01:00 (opened Sun 23:00)"},
		{"monday 01:00", at("2026-03-16 01:00"), false, ""},
		{"sunday 00:30 (saturday has no range)", at("2026-03-15 00:30"), false, ""},
		{"wednesday until 24:00", at("2026-03-11 23:59"), true, ""},
		{"thursday 00:00 after a 24:00 end", at("2026-03-12 00:00"), false, ""},
	})
}

func TestOpenCrossingMidnightMultiDay(t *testing.T) {
	waw := mustLoad(t, "Europe/Warsaw")
	// A night shift Mon-Fri 22:00-06:00: Monday 03:00 is Sunday's night, not open.
	h := &Hours{Location: waw, Ranges: []Range{rng(t, weekdays, "22:00", "06:00")}}
	at := func(s string) time.Time { return local(t, waw, s) }
	runOpen(t, h, []openCase{
		{"monday early is sunday's night", at("2026-03-16 03:00"), false, ""},
		{"tuesday early is monday's night", at("2026-03-17 03:00"), true, "Tue 03:00 Europe/Warsaw is within Mon-Fri 22:00-06:00 (opened Mon 22:00)"},
		{"saturday early is friday's night", at("2026-03-14 05:59"), true, ""},
		{"saturday 06:00", at("2026-03-14 06:00"), false, ""},
		{"saturday night", at("2026-03-14 23:00"), false, ""},
	})
}

func TestOpenDSTWarsaw(t *testing.T) {
	waw := mustLoad(t, "Europe/Warsaw")
	// 2026-03-29 (Sunday): 02:00 CET -> 03:00 CEST; 2026-10-25 (Sunday): 03:00 CEST -> 02:00 CET.
	h := &Hours{Location: waw, Ranges: []Range{
		rng(t, weekdays, "09:00", "17:00"),
		rng(t, days(time.Sunday), "02:30", "05:00"),
	}}
	runOpen(t, h, []openCase{
		// 09:00 local on both sides of the change: 08:00 UTC in CET, 07:00 UTC in CEST.
		{"friday before, 09:00 CET", utc(t, "2026-03-27 08:00"), true, "Fri 09:00 Europe/Warsaw is within Mon-Fri 09:00-17:00"},
		{"friday before, 08:59 CET", utc(t, "2026-03-27 07:59"), false, ""},
		{"monday after, 09:00 CEST", utc(t, "2026-03-30 07:00"), true, "Mon 09:00 Europe/Warsaw is within Mon-Fri 09:00-17:00"},
		{"monday after, 08:59 CEST", utc(t, "2026-03-30 06:59"), false, ""},
		{"monday after, 16:59 CEST", utc(t, "2026-03-30 14:59"), true, ""},
		{"monday after, 17:00 CEST", utc(t, "2026-03-30 15:00"), false, ""},
		// A range starting in the skipped hour opens at the first valid instant after it.
		{"01:59 CET before the jump", utc(t, "2026-03-29 00:59"), false, "Sun 01:59 Europe/Warsaw is outside Mon-Fri 09:00-17:00, Sun 02:30-05:00"},
		{"03:00 CEST right after the jump", utc(t, "2026-03-29 01:00"), true, "Sun 03:00 Europe/Warsaw is within Sun 02:30-05:00"},
		{"04:59 CEST", utc(t, "2026-03-29 02:59"), true, ""},
		{"05:00 CEST", utc(t, "2026-03-29 03:00"), false, ""},
		// Autumn: the repeated 02:xx hour answers alike for both instants.
		{"02:30 CEST (first)", utc(t, "2026-10-25 00:30"), true, "Sun 02:30 Europe/Warsaw is within Sun 02:30-05:00"},
		{"02:30 CET (second)", utc(t, "2026-10-25 01:30"), true, "Sun 02:30 Europe/Warsaw is within Sun 02:30-05:00"},
		{"02:29 CEST (first)", utc(t, "2026-10-25 00:29"), false, ""},
		{"02:29 CET (second)", utc(t, "2026-10-25 01:29"), false, ""},
		{"04:59 CET", utc(t, "2026-10-25 03:59"), true, ""},
		{"05:00 CET", utc(t, "2026-10-25 04:00"), false, ""},
		{"monday after, 09:00 CET", utc(t, "2026-10-26 08:00"), true, ""},
		{"monday after, 08:59 CET", utc(t, "2026-10-26 07:59"), false, ""},
		{"friday before, 09:00 CEST", utc(t, "2026-10-23 07:00"), true, ""},
	})
}

func TestOpenDSTNewYork(t *testing.T) {
	nyc := mustLoad(t, "America/New_York")
	// 2026-03-08 (Sunday): 02:00 EST -> 03:00 EDT; 2026-11-01 (Sunday): 02:00 EDT -> 01:00 EST.
	h := &Hours{Location: nyc, Ranges: []Range{
		rng(t, days(time.Sunday), "01:30", "03:30"),
		rng(t, weekdays, "09:00", "17:00"),
	}}
	runOpen(t, h, []openCase{
		{"01:29 EST", utc(t, "2026-03-08 06:29"), false, "Sun 01:29 America/New_York is outside Sun 01:30-03:30, Mon-Fri 09:00-17:00"},
		{"01:30 EST", utc(t, "2026-03-08 06:30"), true, "Sun 01:30 America/New_York is within Sun 01:30-03:30"},
		{"01:59 EST", utc(t, "2026-03-08 06:59"), true, ""},
		{"03:00 EDT, after the skipped hour", utc(t, "2026-03-08 07:00"), true, "Sun 03:00 America/New_York is within Sun 01:30-03:30"},
		{"03:29 EDT", utc(t, "2026-03-08 07:29"), true, ""},
		{"03:30 EDT", utc(t, "2026-03-08 07:30"), false, ""},
		{"monday after, 09:00 EDT", utc(t, "2026-03-09 13:00"), true, "Mon 09:00 America/New_York is within Mon-Fri 09:00-17:00"},
		{"monday after, 08:59 EDT", utc(t, "2026-03-09 12:59"), false, ""},
		{"friday before, 09:00 EST", utc(t, "2026-03-06 14:00"), true, ""},
		{"friday before, 08:59 EST", utc(t, "2026-03-06 13:59"), false, ""},
		// Autumn: 01:00-02:00 happens twice; each wall time answers alike.
		{"01:29 EDT (first)", utc(t, "2026-11-01 05:29"), false, ""},
		{"01:29 EST (second)", utc(t, "2026-11-01 06:29"), false, ""},
		{"01:45 EDT (first)", utc(t, "2026-11-01 05:45"), true, "Sun 01:45 America/New_York is within Sun 01:30-03:30"},
		{"01:45 EST (second)", utc(t, "2026-11-01 06:45"), true, "Sun 01:45 America/New_York is within Sun 01:30-03:30"},
		{"03:29 EST", utc(t, "2026-11-01 08:29"), true, ""},
		{"03:30 EST", utc(t, "2026-11-01 08:30"), false, ""},
		{"monday after, 09:00 EST", utc(t, "2026-11-02 14:00"), true, ""},
		{"monday after, 08:59 EST", utc(t, "2026-11-02 13:59"), false, ""},
	})

	// A range starting inside the skipped hour opens at 03:00 EDT.
	skipped := &Hours{Location: nyc, Ranges: []Range{rng(t, days(time.Sunday), "02:30", "04:00")}}
	runOpen(t, skipped, []openCase{
		{"01:59 EST", utc(t, "2026-03-08 06:59"), false, ""},
		{"03:00 EDT", utc(t, "2026-03-08 07:00"), true, "Sun 03:00 America/New_York is within Sun 02:30-04:00"},
		{"04:00 EDT", utc(t, "2026-03-08 08:00"), false, ""},
	})
	// A range ending inside the skipped hour closes at 03:00 EDT.
	ending := &Hours{Location: nyc, Ranges: []Range{rng(t, days(time.Sunday), "01:00", "02:30")}}
	runOpen(t, ending, []openCase{
		{"01:59 EST", utc(t, "2026-03-08 06:59"), true, ""},
		{"03:00 EDT", utc(t, "2026-03-08 07:00"), false, ""},
	})
}

func TestOpenSpecials(t *testing.T) {
	waw := mustLoad(t, "Europe/Warsaw")
	h := &Hours{Location: waw,
		Ranges: []Range{
			rng(t, weekdays, "09:00", "17:00"),
			rng(t, days(time.Friday), "22:00", "02:00"),
		},
		Specials: []Special{
			{Date: "2026-12-24", Open: []Range{rng(t, nil, "10:00", "13:00")}},
			{Date: "2026-12-25", Closed: true},
			{Date: "2026-12-31", Open: []Range{rng(t, nil, "08:00", "12:00"), rng(t, nil, "20:00", "01:00")}},
			{Date: "2027-01-01", Closed: true},
			{Date: "2026-03-13", Closed: true},                                 // a Friday: its night range goes too
			{Date: "2026-03-21", Closed: true},                                 // a Saturday: Friday's night still runs into it
			{Date: "2026-03-15", Open: []Range{rng(t, nil, "12:00", "14:00")}}, // a Sunday, open specially
		}}
	at := func(s string) time.Time { return local(t, waw, s) }
	runOpen(t, h, []openCase{
		{"closed holiday", at("2026-12-25 12:00"), false, "Fri 2026-12-25 is a closed date"},
		{"closed holiday, its evening range", at("2026-12-25 23:00"), false, "Fri 2026-12-25 is a closed date"},
		{"special hours open", at("2026-12-24 11:00"), true, "Thu 11:00 Europe/Warsaw is within the special hours for 2026-12-24: 10:00-13:00"},
		{"special hours replace weekly hours", at("2026-12-24 09:30"), false, "Thu 09:30 Europe/Warsaw is outside the special hours for 2026-12-24: 10:00-13:00"},
		{"special hours end", at("2026-12-24 13:00"), false, ""},
		{"second special range", at("2026-12-31 22:00"), true, "Thu 22:00 Europe/Warsaw is within the special hours for 2026-12-31: 20:00-01:00"},
		{"special range crosses into a closed date", at("2027-01-01 00:30"), true, "Fri 00:30 Europe/Warsaw is within the special hours for 2026-12-31: 20:00-01:00 (opened Thu 20:00)"},
		{"closed date after the tail", at("2027-01-01 01:00"), false, "Fri 2027-01-01 is a closed date"},
		{"special between ranges", at("2026-12-31 15:00"), false, "Thu 15:00 Europe/Warsaw is outside the special hours for 2026-12-31: 08:00-12:00, 20:00-01:00"},
		{"ordinary day next to specials", at("2026-12-23 10:00"), true, "Wed 10:00 Europe/Warsaw is within Mon-Fri 09:00-17:00"},
		{"closed friday drops its night range", at("2026-03-13 23:00"), false, "Fri 2026-03-13 is a closed date"},
		{"closed friday's night does not spill", at("2026-03-14 01:00"), false, "Sat 01:00 Europe/Warsaw is outside Mon-Fri 09:00-17:00, Fri 22:00-02:00"},
		{"friday's night runs into a closed saturday", at("2026-03-21 01:00"), true, "Sat 01:00 Europe/Warsaw is within Fri 22:00-02:00 (opened Fri 22:00)"},
		{"closed saturday after the night", at("2026-03-21 03:00"), false, "Sat 2026-03-21 is a closed date"},
		{"sunday opened specially", at("2026-03-15 13:00"), true, ""},
		{"sunday special, outside", at("2026-03-15 15:00"), false, ""},
	})
}

func TestOpenSpecialsOnly(t *testing.T) {
	waw := mustLoad(t, "Europe/Warsaw")
	h := &Hours{Location: waw, Specials: []Special{
		{Date: "2026-12-25", Closed: true},
		{Date: "2026-12-24", Open: []Range{rng(t, nil, "10:00", "13:00")}},
	}}
	at := func(s string) time.Time { return local(t, waw, s) }
	runOpen(t, h, []openCase{
		{"ordinary day is all day", at("2026-12-23 03:00"), true, "Wed 03:00 Europe/Warsaw is open all day: only dated exceptions are set"},
		{"closed date", at("2026-12-25 03:00"), false, "Fri 2026-12-25 is a closed date"},
		{"special hours in", at("2026-12-24 10:00"), true, ""},
		{"special hours out", at("2026-12-24 14:00"), false, ""},
	})
}

func TestValidate(t *testing.T) {
	good := &Hours{
		Location: mustLoad(t, "Europe/Warsaw"),
		Ranges:   []Range{{Days: weekdays, From: 540, To: 1020}, {Days: days(time.Friday), From: 1320, To: 120}, {Days: days(time.Sunday), From: 0, To: 1440}},
		Specials: []Special{{Date: "2026-12-25", Closed: true}, {Date: "2026-12-24", Open: []Range{{From: 600, To: 780}}}},
	}
	if err := good.Validate(); err != nil {
		t.Errorf("valid hours: Validate() = %v", err)
	}
	if err := (*Hours)(nil).Validate(); err != nil {
		t.Errorf("nil hours: Validate() = %v", err)
	}
	if err := (&Hours{}).Validate(); err != nil {
		t.Errorf("empty hours: Validate() = %v", err)
	}

	tests := []struct {
		name string
		h    Hours
		want []string // every line of the joined error, in order
	}{
		{"empty days", Hours{Ranges: []Range{{Days: weekdays, From: 540, To: 1020}, {From: 540, To: 1020}}},
			[]string{"hours[1].days: invalid working hours: no days given; want e.g. [mon-fri]"}},
		{"bad weekday", Hours{Ranges: []Range{{Days: days(time.Monday, 9), From: 540, To: 1020}}},
			[]string{"hours[0].days[1]: invalid working hours: 9 is not a weekday (0 = Sunday .. 6 = Saturday)"}},
		{"from out of range", Hours{Ranges: []Range{{Days: weekdays, From: 540, To: 1020}, {Days: weekdays, From: 1440, To: 60}}},
			[]string{"hours[1].from: invalid working hours: 24:00 is not a start time; want 00:00..23:59"}},
		{"to out of range", Hours{Ranges: []Range{{Days: weekdays, From: 540, To: 1500}}},
			[]string{"hours[0].to: invalid working hours: Clock(1500) is not an end time; want 00:00..24:00"}},
		{"from equals to", Hours{Ranges: []Range{{Days: weekdays, From: 540, To: 540}}},
			[]string{"hours[0].to: invalid working hours: equals from (09:00): a range needs a length; use 00:00-24:00 for a whole day"}},
		{"garbled date", Hours{Specials: []Special{{Date: "2026-12-25", Closed: true}, {Date: "25.12.2026", Closed: true}}},
			[]string{`closed_dates[1]: invalid working hours: "25.12.2026" is not a date; want YYYY-MM-DD, e.g. 2026-12-24`}},
		{"impossible date", Hours{Specials: []Special{{Date: "2026-02-30", Closed: true}}},
			[]string{`closed_dates[0]: invalid working hours: "2026-02-30" is not a date; want YYYY-MM-DD, e.g. 2026-12-24`}},
		{"unpadded date", Hours{Specials: []Special{{Date: "2026-1-05", Closed: true}}},
			[]string{`closed_dates[0]: invalid working hours: "2026-1-05" is not a date; want YYYY-MM-DD, e.g. 2026-12-24`}},
		{"duplicate closed date", Hours{Specials: []Special{{Date: "2026-12-25", Closed: true}, {Date: "2026-12-26", Closed: true}, {Date: "2026-12-25", Closed: true}}},
			[]string{"closed_dates[2]: invalid working hours: 2026-12-25 is already listed as closed_dates[0]"}},
		{"date both closed and special", Hours{Specials: []Special{
			{Date: "2026-12-24", Open: []Range{{From: 600, To: 780}}}, {Date: "2026-12-24", Closed: true}}},
			[]string{"closed_dates[0]: invalid working hours: 2026-12-24 is already listed as special_hours[0]"}},
		{"special without ranges", Hours{Specials: []Special{{Date: "2026-12-25", Closed: true}, {Date: "2026-12-24"}}},
			[]string{"special_hours[0].open: invalid working hours: no ranges; give e.g. 10:00-14:00, or list 2026-12-24 as a closed date"}},
		{"closed with ranges", Hours{Specials: []Special{{Date: "2026-12-24", Closed: true, Open: []Range{{From: 600, To: 780}}}}},
			[]string{"closed_dates[0]: invalid working hours: a closed date has no opening ranges; list 2026-12-24 under special hours instead"}},
		{"special range equal ends", Hours{Specials: []Special{{Date: "2026-12-24", Open: []Range{{From: 600, To: 780}, {From: 600, To: 600}}}}},
			[]string{"special_hours[0].open[1].to: invalid working hours: equals from (10:00): a range needs a length; use 00:00-24:00 for a whole day"}},
		{"several problems at once", Hours{
			Ranges:   []Range{{Days: weekdays, From: -5, To: 1020}, {Days: nil, From: 60, To: 60}},
			Specials: []Special{{Date: "tomorrow", Closed: true}},
		}, []string{
			"hours[0].from: invalid working hours: Clock(-5) is not a start time; want 00:00..23:59",
			"hours[1].days: invalid working hours: no days given; want e.g. [mon-fri]",
			"hours[1].to: invalid working hours: equals from (01:00): a range needs a length; use 00:00-24:00 for a whole day",
			`closed_dates[0]: invalid working hours: "tomorrow" is not a date; want YYYY-MM-DD, e.g. 2026-12-24`,
		}},
	}
	for _, tt := range tests {
		err := tt.h.Validate()
		if err == nil {
			t.Errorf("%s: Validate() = nil; want %q", tt.name, tt.want)
			continue
		}
		if !errors.Is(err, ErrInvalidHours) {
			t.Errorf("%s: Validate() = %v; want it to wrap ErrInvalidHours", tt.name, err)
		}
		if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Validate() =\n%s\nwant\n%s", tt.name, err, strings.Join(tt.want, "\n"))
		}
	}
}
