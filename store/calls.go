package store

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// List page sizes.
const (
	defaultListLimit = 50
	maxListLimit     = 500
)

// ListOptions selects one page of ListCalls or ListVoicemails.
type ListOptions struct {
	// Limit is the page size: 50 when <= 0, at most 500.
	Limit int
	// Before is the paging cursor: only records with ID < Before are listed.
	// Empty starts at the newest record.
	Before string
}

// encodeRecord marshals a normalized, validated record and enforces the size bound.
func encodeRecord(r *CallRecord) ([]byte, error) {
	val, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode call %s: %w", r.ID, err)
	}
	if len(val) > maxRecordBytes {
		return nil, fmt.Errorf("call %s: encoded size %d > %d: %w", r.ID, len(val), maxRecordBytes, ErrInvalid)
	}
	return val, nil
}

// CreateCall stores a new record. When rec.ID is empty it is set to
// NewID(rec.StartedAt) (a fresh one is drawn on the unlikely collision);
// an explicit ID that already exists fails with ErrExists. On success *rec
// is replaced by the stored form (UTC times, derived DurationSeconds).
// A record created without EndedAt is tracked as open for CloseInterrupted.
func (s *Store) CreateCall(rec *CallRecord) error {
	if rec == nil {
		return fmt.Errorf("store: create call: nil record: %w", ErrInvalid)
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()

	r := *rec
	generated := r.ID == ""
	if generated {
		r.ID = NewID(r.StartedAt)
	}
	normalize(&r)
	if err := validate(&r); err != nil {
		return fmt.Errorf("store: create call: %w", err)
	}
	val, err := encodeRecord(&r)
	if err != nil {
		return fmt.Errorf("store: create call: %w", err)
	}

	// Batch may run this function more than once (it re-runs a call solo
	// when another call in the same batch failed), so it only reads the
	// closure state it needs and resets its result each time. Refusals are
	// reported through opErr with a nil return so they do not roll back the
	// other writers sharing the commit.
	var opErr error
	err = s.db.Batch(func(tx *bolt.Tx) error {
		opErr = nil
		calls, open := tx.Bucket(bucketCalls), tx.Bucket(bucketOpen)
		for calls.Get([]byte(r.ID)) != nil {
			if !generated {
				opErr = fmt.Errorf("store: create call %s: %w", r.ID, ErrExists)
				return nil
			}
			r.ID = NewID(r.StartedAt)
			v, err := encodeRecord(&r)
			if err != nil {
				return err
			}
			val = v
		}
		key := []byte(r.ID)
		if err := calls.Put(key, val); err != nil {
			return fmt.Errorf("put call %s: %w", r.ID, err)
		}
		if r.EndedAt == nil {
			if err := open.Put(key, []byte{}); err != nil {
				return fmt.Errorf("mark call %s open: %w", r.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: create call %s: %w", r.ID, err)
	}
	if opErr != nil {
		return opErr
	}
	*rec = r
	return nil
}

// UpdateCall applies fn to the stored record with the given ID and writes
// the result back, all in one write transaction. If fn returns an error
// nothing is written and that error is returned wrapped. fn must not change
// the ID or clear EndedAt of a closed record (ErrInvalid), must not call the
// Store, and may be invoked more than once (bbolt's Batch re-runs a function
// solo when its shared batch fails), so it should only modify the record it
// is given. Setting EndedAt closes the record and removes it from the open
// index in the same transaction. A missing ID yields ErrNotFound.
func (s *Store) UpdateCall(id string, fn func(*CallRecord) error) error {
	if fn == nil {
		return fmt.Errorf("store: update call %s: nil function: %w", id, ErrInvalid)
	}
	if !validID(id) {
		// No such key can exist, because CreateCall validates IDs.
		return fmt.Errorf("store: update call %q: %w: %w", id, ErrInvalid, ErrNotFound)
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()

	var opErr error
	err := s.db.Batch(func(tx *bolt.Tx) error {
		opErr = nil
		calls, open := tx.Bucket(bucketCalls), tx.Bucket(bucketOpen)
		key := []byte(id)
		raw := calls.Get(key)
		if raw == nil {
			opErr = fmt.Errorf("store: update call %s: %w", id, ErrNotFound)
			return nil
		}
		var rec CallRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return fmt.Errorf("decode call %s: %w", id, err)
		}
		wasOpen := rec.EndedAt == nil
		if err := fn(&rec); err != nil {
			opErr = fmt.Errorf("store: update call %s: %w", id, err)
			return nil
		}
		if rec.ID != id {
			opErr = fmt.Errorf("store: update call %s: id changed to %q: %w", id, rec.ID, ErrInvalid)
			return nil
		}
		if !wasOpen && rec.EndedAt == nil {
			opErr = fmt.Errorf("store: update call %s: cannot reopen a closed call: %w", id, ErrInvalid)
			return nil
		}
		normalize(&rec)
		if err := validate(&rec); err != nil {
			opErr = fmt.Errorf("store: update call: %w", err)
			return nil
		}
		val, err := encodeRecord(&rec)
		if err != nil {
			opErr = fmt.Errorf("store: update call: %w", err)
			return nil
		}
		if err := calls.Put(key, val); err != nil {
			return fmt.Errorf("put call %s: %w", id, err)
		}
		if wasOpen && rec.EndedAt != nil {
			if err := open.Delete(key); err != nil {
				return fmt.Errorf("unmark call %s open: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: update call %s: %w", id, err)
	}
	return opErr
}

// GetCall returns the record with the given ID, or an error wrapping ErrNotFound.
func (s *Store) GetCall(id string) (CallRecord, error) {
	if !validID(id) {
		return CallRecord{}, fmt.Errorf("store: get call %q: %w: %w", id, ErrInvalid, ErrNotFound)
	}
	if err := s.acquire(); err != nil {
		return CallRecord{}, err
	}
	defer s.mu.RUnlock()

	var rec CallRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketCalls).Get([]byte(id))
		if raw == nil {
			return ErrNotFound
		}
		// Unmarshal copies out of the mmap, so rec stays valid after the tx.
		return json.Unmarshal(raw, &rec)
	})
	if err != nil {
		return CallRecord{}, fmt.Errorf("store: get call %s: %w", id, err)
	}
	return rec, nil
}

// ListCalls returns one page of records, newest first, and the cursor for
// the next page (pass it as ListOptions.Before), or "" when this page is the
// last. A Before that is not a valid ID yields ErrInvalid.
func (s *Store) ListCalls(opt ListOptions) (calls []CallRecord, next string, err error) {
	limit := opt.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}
	limit = min(limit, maxListLimit)
	if opt.Before != "" && !validID(opt.Before) {
		return nil, "", fmt.Errorf("store: list calls: cursor %q: %w", opt.Before, ErrInvalid)
	}
	if err := s.acquire(); err != nil {
		return nil, "", err
	}
	defer s.mu.RUnlock()

	calls = make([]CallRecord, 0, min(limit, 64))
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketCalls).Cursor()
		var k, v []byte
		if opt.Before == "" {
			k, v = c.Last()
		} else {
			// Seek lands on the first key >= Before; the page starts one before it.
			k, v = c.Seek([]byte(opt.Before))
			if k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		}
		for ; k != nil && len(calls) < limit; k, v = c.Prev() {
			var rec CallRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decode call %s: %w", k, err)
			}
			calls = append(calls, rec)
		}
		if k != nil && len(calls) > 0 {
			next = calls[len(calls)-1].ID
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("store: list calls: %w", err)
	}
	return calls, next, nil
}

// CountCalls returns the number of stored call records.
func (s *Store) CountCalls() (int, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	var n int
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketCalls).Stats().KeyN
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: count calls: %w", err)
	}
	return n, nil
}
