package store

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// newGreeting returns a valid in-hours greeting of number.
func newGreeting(number string) Greeting {
	return Greeting{
		Number:          number,
		Kind:            GreetingInHours,
		File:            "greetings/15550100/in_hours-1.mp3",
		OriginalName:    "Welcome to Acme.mp3",
		DurationSeconds: 7.25,
		UploadedAt:      time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC),
		UploadedBy:      "alice",
	}
}

func TestGreetingPutReplaceGetDelete(t *testing.T) {
	s, _ := openTemp(t)
	if _, err := s.GetGreeting(numberA, GreetingInHours); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetGreeting before upload = %v, want ErrNotFound", err)
	}

	zone := time.FixedZone("CEST", 7200)
	first := newGreeting(numberA)
	first.UploadedAt = time.Date(2025, 6, 1, 12, 0, 0, 0, zone)
	if err := s.PutGreeting(first); err != nil {
		t.Fatalf("PutGreeting: %v", err)
	}
	got, err := s.GetGreeting(numberA, GreetingInHours)
	if err != nil {
		t.Fatalf("GetGreeting: %v", err)
	}
	if got.UploadedAt.Location() != time.UTC || !got.UploadedAt.Equal(first.UploadedAt) {
		t.Fatalf("UploadedAt stored as %v, want %v in UTC", got.UploadedAt, first.UploadedAt)
	}
	got.UploadedAt = first.UploadedAt
	if !reflect.DeepEqual(got, first) {
		t.Fatalf("GetGreeting = %+v, want %+v", got, first)
	}

	// The other kind and the other number are separate slots.
	after := newGreeting(numberA)
	after.Kind, after.File = GreetingAfterHours, "greetings/15550100/after_hours-1.wav"
	other := newGreeting(numberB)
	other.File = "greetings/15550199/in_hours-1.wav"
	for _, g := range []Greeting{after, other} {
		if err := s.PutGreeting(g); err != nil {
			t.Fatalf("PutGreeting %s %s: %v", g.Number, g.Kind, err)
		}
	}

	replacement := newGreeting(numberA)
	replacement.File, replacement.OriginalName, replacement.UploadedBy = "greetings/15550100/in_hours-2.wav", "new.wav", "bob"
	if err := s.PutGreeting(replacement); err != nil {
		t.Fatalf("PutGreeting replacement: %v", err)
	}
	want := map[GreetingKind]map[string]Greeting{
		GreetingInHours:    {numberA: replacement, numberB: other},
		GreetingAfterHours: {numberA: after},
	}
	for kind, byNumber := range want {
		for number, w := range byNumber {
			if got, err := s.GetGreeting(number, kind); err != nil || !reflect.DeepEqual(got, w) {
				t.Errorf("GetGreeting(%s, %s) = %+v, %v; want %+v", number, kind, got, err, w)
			}
		}
	}

	deleted, err := s.DeleteGreeting(numberA, GreetingInHours)
	if err != nil {
		t.Fatalf("DeleteGreeting: %v", err)
	}
	if !reflect.DeepEqual(deleted, replacement) {
		t.Fatalf("DeleteGreeting returned %+v, want the replacement %+v", deleted, replacement)
	}
	if _, err := s.GetGreeting(numberA, GreetingInHours); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetGreeting after delete = %v, want ErrNotFound", err)
	}
	if _, err := s.DeleteGreeting(numberA, GreetingInHours); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second DeleteGreeting = %v, want ErrNotFound", err)
	}
	// Deleting one slot leaves the others alone.
	if got, err := s.GetGreeting(numberA, GreetingAfterHours); err != nil || !reflect.DeepEqual(got, after) {
		t.Fatalf("after-hours greeting after deleting in-hours = %+v, %v", got, err)
	}
	if got, err := s.GetGreeting(numberB, GreetingInHours); err != nil || !reflect.DeepEqual(got, other) {
		t.Fatalf("other number's greeting after delete = %+v, %v", got, err)
	}
}

func TestPutGreetingValidation(t *testing.T) {
	s, _ := openTemp(t)
	tests := []struct {
		name   string
		mutate func(*Greeting)
	}{
		{"number is required", func(g *Greeting) { g.Number = "" }},
		{"number with NUL breaks the key", func(g *Greeting) { g.Number = "+1\x00in_hours" }},
		{"kind is required", func(g *Greeting) { g.Kind = "" }},
		{"unknown kind", func(g *Greeting) { g.Kind = "holiday" }},
		{"file is required", func(g *Greeting) { g.File = "" }},
		{"absolute file", func(g *Greeting) { g.File = "/srv/greeting.wav" }},
		{"file escapes data_dir", func(g *Greeting) { g.File = "greetings/../../x.wav" }},
		{"backslash file", func(g *Greeting) { g.File = `greetings\x.wav` }},
		{"original name over 255 bytes", func(g *Greeting) { g.OriginalName = strings.Repeat("n", maxOriginalNameLength+1) }},
		{"negative duration", func(g *Greeting) { g.DurationSeconds = -0.5 }},
		{"NaN duration", func(g *Greeting) { g.DurationSeconds = math.NaN() }},
		{"zero upload time", func(g *Greeting) { g.UploadedAt = time.Time{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGreeting(numberA)
			tt.mutate(&g)
			if err := s.PutGreeting(g); !errors.Is(err, ErrInvalid) {
				t.Fatalf("PutGreeting = %v, want ErrInvalid", err)
			}
		})
	}
	// A name of exactly 255 bytes is fine.
	g := newGreeting(numberA)
	g.OriginalName = strings.Repeat("n", maxOriginalNameLength)
	if err := s.PutGreeting(g); err != nil {
		t.Fatalf("PutGreeting with a 255-byte name: %v", err)
	}
	if _, err := s.GetGreeting(numberB, GreetingInHours); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rejected puts stored something: %v", err)
	}
}

func TestGreetingLookupArguments(t *testing.T) {
	s, _ := openTemp(t)
	tests := []struct {
		name   string
		number string
		kind   GreetingKind
	}{
		{"unknown kind", numberA, "weekend"},
		{"empty kind", numberA, ""},
		{"empty number", "", GreetingInHours},
		{"NUL in number", "+1\x00", GreetingInHours},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.GetGreeting(tt.number, tt.kind); !errors.Is(err, ErrInvalid) || !errors.Is(err, ErrNotFound) {
				t.Errorf("GetGreeting = %v, want ErrInvalid and ErrNotFound", err)
			}
			if _, err := s.DeleteGreeting(tt.number, tt.kind); !errors.Is(err, ErrInvalid) || !errors.Is(err, ErrNotFound) {
				t.Errorf("DeleteGreeting = %v, want ErrInvalid and ErrNotFound", err)
			}
		})
	}
}
