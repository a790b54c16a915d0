package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	// bucketRecordings maps call ID -> JSON-encoded Recording. A call has at
	// most one recording, so the call ID is the key.
	bucketRecordings = []byte("recordings")
	// bucketRecordingsActive maps call ID -> empty value for every recording
	// still in state "recording", so the startup repair touches only the
	// files a crash could have left half-written.
	bucketRecordingsActive = []byte("recordings_active")
	// bucketRecordingsByTime maps the 8-byte big-endian Unix nanoseconds of
	// StartedAt followed by the call ID -> empty value. Keys sort by start
	// time, so the retention sweep reads the oldest recordings from the front
	// of the bucket and stops at its cutoff instead of scanning everything.
	bucketRecordingsByTime = []byte("recordings_by_time")
)

// recordingChannels is the channel count of a call recording: the caller on
// the left, the answering side on the right.
const recordingChannels = 2

// RecordingState says where a call recording's audio stands.
type RecordingState string

// Recording states.
const (
	// RecordingActive means the call is still being recorded and the file grows.
	RecordingActive RecordingState = "recording"
	// RecordingComplete means the recording ended normally and its file was closed.
	RecordingComplete RecordingState = "complete"
	// RecordingInterrupted means the gateway stopped while recording and the
	// file was repaired at startup.
	RecordingInterrupted RecordingState = "interrupted"
)

// Recording is the persisted record of a call's recording: a stereo WAV
// (caller left, answering side right) under data_dir. Its JSON form is the
// shape served by the REST API.
type Recording struct {
	CallID          string         `json:"call_id"`          // the key: one recording per call
	Number          string         `json:"number"`           // our E.164 number the call was on (required)
	File            string         `json:"file"`             // path relative to data_dir, slash separated, e.g. "recordings/<call id>.wav"
	StartedAt       time.Time      `json:"started_at"`       // when recording began
	DurationSeconds float64        `json:"duration_seconds"` // length of the recorded audio
	Bytes           int64          `json:"bytes"`            // size of the audio file
	Channels        int            `json:"channels"`         // 2: caller left, answering side right
	DroppedPackets  uint64         `json:"dropped_packets"`  // packets the recorder could not take (queue full)
	State           RecordingState `json:"state"`            // recording | complete | interrupted
	ConsentPlayed   bool           `json:"consent_played"`   // the recording notice was played to the caller
}

// validateRecording checks the invariants every stored recording keeps.
func validateRecording(r *Recording) error {
	if !validID(r.CallID) {
		return fmt.Errorf("recording of call %q: invalid call id: %w", r.CallID, ErrInvalid)
	}
	if err := checkNumber(r.Number); err != nil {
		return fmt.Errorf("recording of call %s: %w", r.CallID, err)
	}
	// The time index key holds Unix nanoseconds as an unsigned number, which
	// only keeps time order between 1970 and 2262 (the range of NewID).
	if r.StartedAt.IsZero() || r.StartedAt.Before(idEpoch) || !r.StartedAt.Before(idMaxTime) {
		return fmt.Errorf("recording of call %s: started_at %v outside 1970..2262: %w", r.CallID, r.StartedAt, ErrInvalid)
	}
	switch r.State {
	case RecordingActive, RecordingComplete, RecordingInterrupted:
	default:
		return fmt.Errorf("recording of call %s: state %q: %w", r.CallID, r.State, ErrInvalid)
	}
	if err := checkFile(r.File); err != nil {
		return fmt.Errorf("recording of call %s: %w", r.CallID, err)
	}
	// NaN and infinities would also fail json.Marshal; rejecting them here
	// names the field instead.
	if r.DurationSeconds < 0 || math.IsNaN(r.DurationSeconds) || math.IsInf(r.DurationSeconds, 0) {
		return fmt.Errorf("recording of call %s: duration_seconds %v: %w", r.CallID, r.DurationSeconds, ErrInvalid)
	}
	if r.Bytes < 0 {
		return fmt.Errorf("recording of call %s: bytes %d: %w", r.CallID, r.Bytes, ErrInvalid)
	}
	// One channel is allowed for a recorder that could only tap one side;
	// anything else does not describe a WAV this gateway writes.
	if r.Channels < 1 || r.Channels > recordingChannels {
		return fmt.Errorf("recording of call %s: channels %d not 1 or 2: %w", r.CallID, r.Channels, ErrInvalid)
	}
	return nil
}

// recordingTimeKey is the by-time index key of the recording of callID
// started at start, which validateRecording has put in 1970..2262.
func recordingTimeKey(start time.Time, callID string) []byte {
	key := make([]byte, 8, 8+len(callID))
	binary.BigEndian.PutUint64(key, uint64(start.UnixNano()))
	return append(key, callID...)
}

// encodeRecording marshals a normalized, validated recording and enforces the size bound.
func encodeRecording(r *Recording) ([]byte, error) {
	val, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode recording of call %s: %w", r.CallID, err)
	}
	if len(val) > maxRecordBytes {
		return nil, fmt.Errorf("recording of call %s: encoded size %d > %d: %w", r.CallID, len(val), maxRecordBytes, ErrInvalid)
	}
	return val, nil
}

// decodeRecording unmarshals a stored recording; Unmarshal copies out of the
// mmap, so the result stays valid after the transaction.
func decodeRecording(key, raw []byte) (Recording, error) {
	var r Recording
	if err := json.Unmarshal(raw, &r); err != nil {
		return Recording{}, fmt.Errorf("decode recording of call %s: %w", key, err)
	}
	return r, nil
}

// CreateRecording stores the recording of call r.CallID, which must be a
// valid call ID; a recording for that call that already exists fails with
// ErrExists. An empty State becomes "recording" and a zero Channels becomes
// 2. The record must carry a Number, a StartedAt between 1970 and 2262,
// Channels of 1 or 2, and a File relative to data_dir that cannot escape
// it; anything else yields ErrInvalid. On success *r is replaced by the
// stored form (StartedAt in UTC).
func (s *Store) CreateRecording(r *Recording) error {
	if r == nil {
		return fmt.Errorf("store: create recording: nil record: %w", ErrInvalid)
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()

	rec := *r
	if rec.State == "" {
		rec.State = RecordingActive
	}
	if rec.Channels == 0 {
		rec.Channels = recordingChannels
	}
	rec.StartedAt = rec.StartedAt.UTC()
	if err := validateRecording(&rec); err != nil {
		return fmt.Errorf("store: create recording: %w", err)
	}
	val, err := encodeRecording(&rec)
	if err != nil {
		return fmt.Errorf("store: create recording: %w", err)
	}

	// Batch may run this function more than once, so it resets its result
	// each time; refusals go through opErr with a nil return so they do not
	// roll back the other writers sharing the commit.
	var opErr error
	err = s.db.Batch(func(tx *bolt.Tx) error {
		opErr = nil
		recs := tx.Bucket(bucketRecordings)
		key := []byte(rec.CallID)
		if recs.Get(key) != nil {
			opErr = fmt.Errorf("store: create recording of call %s: %w", rec.CallID, ErrExists)
			return nil
		}
		if err := recs.Put(key, val); err != nil {
			return fmt.Errorf("put recording of call %s: %w", rec.CallID, err)
		}
		if err := tx.Bucket(bucketRecordingsByTime).Put(recordingTimeKey(rec.StartedAt, rec.CallID), []byte{}); err != nil {
			return fmt.Errorf("index recording of call %s by time: %w", rec.CallID, err)
		}
		if rec.State == RecordingActive {
			if err := tx.Bucket(bucketRecordingsActive).Put(key, []byte{}); err != nil {
				return fmt.Errorf("mark recording of call %s active: %w", rec.CallID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: create recording of call %s: %w", rec.CallID, err)
	}
	if opErr != nil {
		return opErr
	}
	*r = rec
	return nil
}

// UpdateRecording applies fn to the stored recording of call callID and
// writes the result back, all in one write transaction, and returns the
// stored form. If fn returns an error nothing is written and that error is
// returned wrapped. fn must not change the CallID, nor move a finished
// recording back to "recording" (ErrInvalid); it must not call the Store
// and may be invoked more than once (bbolt's Batch re-runs a function solo
// when its shared batch fails), so it should only modify the record it is
// given. Leaving state "recording" removes the recording from the active
// index, and changing StartedAt moves its time index entry, in the same
// transaction. A missing recording yields ErrNotFound.
func (s *Store) UpdateRecording(callID string, fn func(*Recording) error) (Recording, error) {
	if fn == nil {
		return Recording{}, fmt.Errorf("store: update recording of call %s: nil function: %w", callID, ErrInvalid)
	}
	if !validID(callID) {
		// No such key can exist, because CreateRecording validates call IDs.
		return Recording{}, fmt.Errorf("store: update recording of call %q: %w: %w", callID, ErrInvalid, ErrNotFound)
	}
	if err := s.acquire(); err != nil {
		return Recording{}, err
	}
	defer s.mu.RUnlock()

	var (
		opErr  error
		stored Recording
	)
	err := s.db.Batch(func(tx *bolt.Tx) error {
		opErr, stored = nil, Recording{}
		recs := tx.Bucket(bucketRecordings)
		key := []byte(callID)
		raw := recs.Get(key)
		if raw == nil {
			opErr = fmt.Errorf("store: update recording of call %s: %w", callID, ErrNotFound)
			return nil
		}
		rec, err := decodeRecording(key, raw)
		if err != nil {
			return err
		}
		oldStart, wasActive := rec.StartedAt, rec.State == RecordingActive
		if err := fn(&rec); err != nil {
			opErr = fmt.Errorf("store: update recording of call %s: %w", callID, err)
			return nil
		}
		switch {
		case rec.CallID != callID:
			opErr = fmt.Errorf("store: update recording of call %s: call id changed to %q: %w", callID, rec.CallID, ErrInvalid)
			return nil
		case !wasActive && rec.State == RecordingActive:
			// The file of a finished recording is closed; calling it
			// active again would make the startup repair rewrite it.
			opErr = fmt.Errorf("store: update recording of call %s: cannot resume a finished recording: %w", callID, ErrInvalid)
			return nil
		}
		rec.StartedAt = rec.StartedAt.UTC()
		if err := validateRecording(&rec); err != nil {
			opErr = fmt.Errorf("store: update recording: %w", err)
			return nil
		}
		val, err := encodeRecording(&rec)
		if err != nil {
			opErr = fmt.Errorf("store: update recording: %w", err)
			return nil
		}
		if err := recs.Put(key, val); err != nil {
			return fmt.Errorf("put recording of call %s: %w", callID, err)
		}
		if !rec.StartedAt.Equal(oldStart) {
			byTime := tx.Bucket(bucketRecordingsByTime)
			if err := byTime.Delete(recordingTimeKey(oldStart, callID)); err != nil {
				return fmt.Errorf("unindex recording of call %s by time: %w", callID, err)
			}
			if err := byTime.Put(recordingTimeKey(rec.StartedAt, callID), []byte{}); err != nil {
				return fmt.Errorf("index recording of call %s by time: %w", callID, err)
			}
		}
		if wasActive && rec.State != RecordingActive {
			if err := tx.Bucket(bucketRecordingsActive).Delete(key); err != nil {
				return fmt.Errorf("unmark recording of call %s active: %w", callID, err)
			}
		}
		stored = rec
		return nil
	})
	if err != nil {
		return Recording{}, fmt.Errorf("store: update recording of call %s: %w", callID, err)
	}
	if opErr != nil {
		return Recording{}, opErr
	}
	return stored, nil
}

// GetRecording returns the recording of call callID, or an error wrapping ErrNotFound.
func (s *Store) GetRecording(callID string) (Recording, error) {
	if !validID(callID) {
		return Recording{}, fmt.Errorf("store: get recording of call %q: %w: %w", callID, ErrInvalid, ErrNotFound)
	}
	if err := s.acquire(); err != nil {
		return Recording{}, err
	}
	defer s.mu.RUnlock()

	var rec Recording
	err := s.db.View(func(tx *bolt.Tx) error {
		key := []byte(callID)
		raw := tx.Bucket(bucketRecordings).Get(key)
		if raw == nil {
			return ErrNotFound
		}
		var err error
		rec, err = decodeRecording(key, raw)
		return err
	})
	if err != nil {
		return Recording{}, fmt.Errorf("store: get recording of call %s: %w", callID, err)
	}
	return rec, nil
}

// DeleteRecording removes the recording of call callID together with its
// index entries and returns the deleted record, so the caller can remove
// its audio file. A missing recording yields ErrNotFound.
func (s *Store) DeleteRecording(callID string) (Recording, error) {
	if !validID(callID) {
		return Recording{}, fmt.Errorf("store: delete recording of call %q: %w: %w", callID, ErrInvalid, ErrNotFound)
	}
	if err := s.acquire(); err != nil {
		return Recording{}, err
	}
	defer s.mu.RUnlock()

	var (
		opErr   error
		deleted Recording
	)
	err := s.db.Batch(func(tx *bolt.Tx) error {
		opErr, deleted = nil, Recording{} // Batch may re-run this function
		recs := tx.Bucket(bucketRecordings)
		key := []byte(callID)
		raw := recs.Get(key)
		if raw == nil {
			opErr = fmt.Errorf("store: delete recording of call %s: %w", callID, ErrNotFound)
			return nil
		}
		rec, err := decodeRecording(key, raw)
		if err != nil {
			return err
		}
		if err := recs.Delete(key); err != nil {
			return fmt.Errorf("delete recording of call %s: %w", callID, err)
		}
		if err := tx.Bucket(bucketRecordingsByTime).Delete(recordingTimeKey(rec.StartedAt, callID)); err != nil {
			return fmt.Errorf("unindex recording of call %s by time: %w", callID, err)
		}
		// Deleted regardless of state: a stale entry would only make the
		// startup repair log a missing record.
		if err := tx.Bucket(bucketRecordingsActive).Delete(key); err != nil {
			return fmt.Errorf("unmark recording of call %s active: %w", callID, err)
		}
		deleted = rec
		return nil
	})
	if err != nil {
		return Recording{}, fmt.Errorf("store: delete recording of call %s: %w", callID, err)
	}
	if opErr != nil {
		return Recording{}, opErr
	}
	return deleted, nil
}

// ActiveRecordings returns every recording still in state "recording",
// oldest StartedAt first (ties by call ID), never nil. After a restart
// these are the files the previous process was writing when it stopped;
// the startup repair fixes them and moves them to "interrupted" with
// UpdateRecording. It walks only the active index, not all recordings.
func (s *Store) ActiveRecordings() ([]Recording, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()

	recs := []Recording{}
	err := s.db.View(func(tx *bolt.Tx) error {
		all := tx.Bucket(bucketRecordings)
		return tx.Bucket(bucketRecordingsActive).ForEach(func(k, _ []byte) error {
			raw := all.Get(k)
			if raw == nil {
				slog.Warn("store: active recording index names a missing recording", "call_id", string(k))
				return nil
			}
			rec, err := decodeRecording(k, raw)
			if err != nil {
				return err
			}
			recs = append(recs, rec)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: active recordings: %w", err)
	}
	// The index is ordered by call ID; the repair reads better in time order.
	slices.SortStableFunc(recs, func(a, b Recording) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), cmp.Compare(a.CallID, b.CallID))
	})
	return recs, nil
}

// RecordingsBefore returns up to limit finished (complete or interrupted)
// recordings whose StartedAt is strictly before t, oldest first (ties by
// call ID), never nil; it is the retention sweep's work list. Recordings
// still in state "recording" are left out, because their file is open and
// deleting it would lose the call's audio; leaving them out also means a
// sweep that deletes every returned recording and asks again always makes
// progress. It walks the time index from the oldest entry and stops at t
// or after limit recordings, so it never scans all history. A zero t or a
// limit below 1 yields ErrInvalid.
func (s *Store) RecordingsBefore(t time.Time, limit int) ([]Recording, error) {
	if t.IsZero() {
		return nil, fmt.Errorf("store: recordings before: zero time: %w", ErrInvalid)
	}
	if limit < 1 {
		return nil, fmt.Errorf("store: recordings before: limit %d: %w", limit, ErrInvalid)
	}
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()

	recs := make([]Recording, 0, min(limit, 64))
	if !t.After(idEpoch) {
		// Every stored StartedAt is at or after the epoch.
		return recs, nil
	}
	// Index keys are the 8-byte start time then the call ID, so every key
	// of a recording started before t sorts below the bare 8-byte time of
	// t. Times past 2262 are beyond every stored key: walk to the end.
	var end []byte
	if t.Before(idMaxTime) {
		end = binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano()))
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		all := tx.Bucket(bucketRecordings)
		c := tx.Bucket(bucketRecordingsByTime).Cursor()
		for k, _ := c.First(); k != nil && len(recs) < limit; k, _ = c.Next() {
			if end != nil && bytes.Compare(k, end) >= 0 {
				break
			}
			if len(k) <= 8 {
				return fmt.Errorf("time index key %x has no call id", k)
			}
			id := k[8:]
			raw := all.Get(id)
			if raw == nil {
				slog.Warn("store: recording time index names a missing recording", "call_id", string(id))
				continue
			}
			rec, err := decodeRecording(id, raw)
			if err != nil {
				return err
			}
			if rec.State == RecordingActive {
				continue
			}
			recs = append(recs, rec)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: recordings before %v: %w", t, err)
	}
	return recs, nil
}
