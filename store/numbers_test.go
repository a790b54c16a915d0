package store

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"
)

func TestNumberSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.NumberSettings("+15550100"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("before seeding: %v, want ErrNotFound", err)
	}
	seeded, err := s.SeedNumberSettings(map[string][]byte{"+15550100": []byte(`{"ringing":"forward"}`), "+15550101": []byte(`{"ringing":"browser"}`)})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(seeded)
	if !slices.Equal(seeded, []string{"+15550100", "+15550101"}) {
		t.Fatalf("seeded %v", seeded)
	}
	// A runtime change survives the next start's seeding.
	if err := s.PutNumberSettings("+15550100", []byte(`{"ringing":"both"}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seeded, err = s.SeedNumberSettings(map[string][]byte{"+15550100": []byte(`{"ringing":"forward"}`), "+15550102": []byte(`{}`)})
	if err != nil || !slices.Equal(seeded, []string{"+15550102"}) {
		t.Fatalf("second seeding: %v %v, want only the new number", seeded, err)
	}
	if got, err := s.NumberSettings("+15550100"); err != nil || string(got) != `{"ringing":"both"}` {
		t.Fatalf("settings = %s %v, want the runtime change", got, err)
	}
	for _, bad := range [][]byte{nil, []byte(`{`), make([]byte, maxSettingsBytes+1)} {
		if err := s.PutNumberSettings("+15550100", bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Put(%.10q) = %v, want ErrInvalid", bad, err)
		}
	}
	if err := s.PutNumberSettings("", []byte(`{}`)); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty number: %v", err)
	}
}
