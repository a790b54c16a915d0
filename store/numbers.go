package store

import (
	"bytes"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// bucketNumbers maps our E.164 number -> its settings as JSON (the shape of
// a numbers[] entry of the configuration). The configuration seeds it at
// first start; the API's runtime updates replace entries.
var bucketNumbers = []byte("number_settings")

// maxSettingsBytes bounds one number's stored settings.
const maxSettingsBytes = 64 << 10

func checkSettings(number string, raw []byte) error {
	if err := checkNumber(number); err != nil {
		return err
	}
	if len(raw) == 0 || len(raw) > maxSettingsBytes || !json.Valid(raw) {
		return fmt.Errorf("settings of %s: %d bytes of JSON (at most %d): %w", number, len(raw), maxSettingsBytes, ErrInvalid)
	}
	return nil
}

// NumberSettings returns number's stored settings, or an error wrapping
// ErrNotFound when none are stored.
func (s *Store) NumberSettings(number string) ([]byte, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketNumbers).Get([]byte(number)); v != nil {
			out = bytes.Clone(v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: number settings %s: %w", number, err)
	}
	if out == nil {
		return nil, fmt.Errorf("store: number settings %s: %w", number, ErrNotFound)
	}
	return out, nil
}

// PutNumberSettings stores number's settings (valid JSON), replacing any.
// A write that returned nil is on disk.
func (s *Store) PutNumberSettings(number string, raw []byte) error {
	if err := checkSettings(number, raw); err != nil {
		return fmt.Errorf("store: put number settings: %w", err)
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	val := bytes.Clone(raw)
	err := s.db.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketNumbers).Put([]byte(number), val)
	})
	if err != nil {
		return fmt.Errorf("store: put number settings %s: %w", number, err)
	}
	return nil
}

// SeedNumberSettings stores the settings of every number in seed that has
// none yet, in one transaction, and returns the numbers it seeded: the
// configuration seeds a number at its first start and runtime changes are
// kept across restarts.
func (s *Store) SeedNumberSettings(seed map[string][]byte) ([]string, error) {
	for number, raw := range seed {
		if err := checkSettings(number, raw); err != nil {
			return nil, fmt.Errorf("store: seed number settings: %w", err)
		}
	}
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	var seeded []string
	err := s.db.Update(func(tx *bolt.Tx) error {
		seeded = seeded[:0]
		b := tx.Bucket(bucketNumbers)
		for number, raw := range seed {
			if b.Get([]byte(number)) != nil {
				continue
			}
			if err := b.Put([]byte(number), bytes.Clone(raw)); err != nil {
				return err
			}
			seeded = append(seeded, number)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: seed number settings: %w", err)
	}
	return seeded, nil
}
