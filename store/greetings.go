package store

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketGreetings maps number + "\x00" + kind -> JSON-encoded Greeting.
var bucketGreetings = []byte("greetings")

// maxOriginalNameLength bounds an uploaded greeting's original file name,
// the usual file-system limit for one name.
const maxOriginalNameLength = 255

// GreetingKind is which greeting of a number.
type GreetingKind string

// Greeting kinds.
const (
	// GreetingInHours is played to callers during the number's business hours.
	GreetingInHours GreetingKind = "in_hours"
	// GreetingAfterHours is played to callers outside the number's business hours.
	GreetingAfterHours GreetingKind = "after_hours"
)

// Greeting is an uploaded greeting that replaces the configured one.
type Greeting struct {
	Number          string       `json:"number"`                  // our E.164 number the greeting belongs to
	Kind            GreetingKind `json:"kind"`                    // in_hours | after_hours
	File            string       `json:"file"`                    // relative to data_dir, slash separated (same checks as Voicemail.File)
	OriginalName    string       `json:"original_name,omitempty"` // upload's file name, at most 255 bytes
	DurationSeconds float64      `json:"duration_seconds"`        // length of the decoded audio
	UploadedAt      time.Time    `json:"uploaded_at"`             // when the upload was stored
	UploadedBy      string       `json:"uploaded_by,omitempty"`   // user id of the uploader
}

// checkGreetingKind accepts the two known greeting kinds.
func checkGreetingKind(kind GreetingKind) error {
	switch kind {
	case GreetingInHours, GreetingAfterHours:
		return nil
	}
	return fmt.Errorf("greeting kind %q: %w", kind, ErrInvalid)
}

// greetingKey is the bucket key of number's greeting of the given kind.
func greetingKey(number string, kind GreetingKind) []byte {
	return []byte(number + numberKeySep + string(kind))
}

// validateGreeting checks the invariants every stored greeting keeps.
func validateGreeting(g *Greeting) error {
	if err := checkNumber(g.Number); err != nil {
		return err
	}
	if err := checkGreetingKind(g.Kind); err != nil {
		return err
	}
	if err := checkFile(g.File); err != nil {
		return err
	}
	if len(g.OriginalName) > maxOriginalNameLength {
		return fmt.Errorf("original name of %d bytes > %d: %w", len(g.OriginalName), maxOriginalNameLength, ErrInvalid)
	}
	if g.DurationSeconds < 0 || math.IsNaN(g.DurationSeconds) || math.IsInf(g.DurationSeconds, 0) {
		return fmt.Errorf("duration_seconds %v: %w", g.DurationSeconds, ErrInvalid)
	}
	if g.UploadedAt.IsZero() {
		return fmt.Errorf("uploaded_at is zero: %w", ErrInvalid)
	}
	return nil
}

// PutGreeting stores g as g.Number's greeting of kind g.Kind, replacing any
// earlier one; the caller removes the replaced file if it has a different
// name. The greeting needs a Number, a known Kind, a File relative to
// data_dir that cannot escape it, an OriginalName of at most 255 bytes and
// a non-zero UploadedAt; anything else yields ErrInvalid. UploadedAt is
// stored in UTC.
func (s *Store) PutGreeting(g Greeting) error {
	g.UploadedAt = g.UploadedAt.UTC()
	if err := validateGreeting(&g); err != nil {
		return fmt.Errorf("store: put greeting: %w", err)
	}
	val, err := json.Marshal(&g)
	if err != nil {
		return fmt.Errorf("store: put greeting %s %s: encode: %w", g.Number, g.Kind, err)
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()

	// Batch may run this more than once; it writes fixed values, so a
	// re-run is harmless.
	err = s.db.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketGreetings).Put(greetingKey(g.Number, g.Kind), val)
	})
	if err != nil {
		return fmt.Errorf("store: put greeting %s %s: %w", g.Number, g.Kind, err)
	}
	return nil
}

// GetGreeting returns number's uploaded greeting of the given kind, or an
// error wrapping ErrNotFound when none was uploaded. An unknown kind or a
// number that could not be stored yields ErrInvalid as well as ErrNotFound.
func (s *Store) GetGreeting(number string, kind GreetingKind) (Greeting, error) {
	if err := greetingLookupArgs(number, kind); err != nil {
		return Greeting{}, fmt.Errorf("store: get greeting: %w: %w", err, ErrNotFound)
	}
	if err := s.acquire(); err != nil {
		return Greeting{}, err
	}
	defer s.mu.RUnlock()

	var g Greeting
	err := s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketGreetings).Get(greetingKey(number, kind))
		if raw == nil {
			return ErrNotFound
		}
		return json.Unmarshal(raw, &g)
	})
	if err != nil {
		return Greeting{}, fmt.Errorf("store: get greeting %s %s: %w", number, kind, err)
	}
	return g, nil
}

// DeleteGreeting removes number's uploaded greeting of the given kind and
// returns it, so the caller can remove its file; the configured greeting
// applies again. It returns an error wrapping ErrNotFound when none was
// uploaded. An unknown kind or a number that could not be stored yields
// ErrInvalid as well as ErrNotFound.
func (s *Store) DeleteGreeting(number string, kind GreetingKind) (Greeting, error) {
	if err := greetingLookupArgs(number, kind); err != nil {
		return Greeting{}, fmt.Errorf("store: delete greeting: %w: %w", err, ErrNotFound)
	}
	if err := s.acquire(); err != nil {
		return Greeting{}, err
	}
	defer s.mu.RUnlock()

	var (
		opErr   error
		deleted Greeting
	)
	err := s.db.Batch(func(tx *bolt.Tx) error {
		opErr, deleted = nil, Greeting{} // Batch may re-run this function
		b := tx.Bucket(bucketGreetings)
		key := greetingKey(number, kind)
		raw := b.Get(key)
		if raw == nil {
			opErr = fmt.Errorf("store: delete greeting %s %s: %w", number, kind, ErrNotFound)
			return nil
		}
		var g Greeting
		if err := json.Unmarshal(raw, &g); err != nil {
			return fmt.Errorf("decode greeting %s %s: %w", number, kind, err)
		}
		if err := b.Delete(key); err != nil {
			return fmt.Errorf("delete greeting %s %s: %w", number, kind, err)
		}
		deleted = g
		return nil
	})
	if err != nil {
		return Greeting{}, fmt.Errorf("store: delete greeting %s %s: %w", number, kind, err)
	}
	if opErr != nil {
		return Greeting{}, opErr
	}
	return deleted, nil
}

// greetingLookupArgs checks the arguments naming one greeting.
func greetingLookupArgs(number string, kind GreetingKind) error {
	if err := checkNumber(number); err != nil {
		return err
	}
	return checkGreetingKind(kind)
}
