package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"path"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	// bucketVoicemails maps voicemail ID -> JSON-encoded Voicemail.
	bucketVoicemails = []byte("voicemails")
	// bucketVoicemailsByNumber maps number + "\x00" + voicemail ID -> empty
	// value, so one number's mailbox is a contiguous key range and listing it
	// never walks other numbers' messages. Numbers cannot contain NUL, so the
	// prefix of one number never matches another's keys.
	bucketVoicemailsByNumber = []byte("voicemails_by_number")
	// bucketVoicemailsRecording maps voicemail ID -> empty value for every
	// message still in state "recording", so the startup repair touches only
	// the messages a crash could have left half-written.
	bucketVoicemailsRecording = []byte("voicemails_recording")
)

// numberKeySep separates the number from the rest of an index key.
const numberKeySep = "\x00"

// maxNumberLength bounds a phone number used as part of an index key; E.164
// allows at most 15 digits, so anything near this is not a phone number.
const maxNumberLength = 64

// maxFileLength bounds a stored relative file path.
const maxFileLength = 1024

// VoicemailState says where a voicemail's audio stands.
type VoicemailState string

// Voicemail states.
const (
	// VoicemailRecording means the caller is still speaking and the file grows.
	VoicemailRecording VoicemailState = "recording"
	// VoicemailComplete means the message was recorded and its file closed normally.
	VoicemailComplete VoicemailState = "complete"
	// VoicemailInterrupted means the gateway stopped while recording and the
	// file was repaired at startup.
	VoicemailInterrupted VoicemailState = "interrupted"
)

// Voicemail is the persisted record of one message a caller left. Its JSON
// form is the shape served by the REST API.
type Voicemail struct {
	ID              string         `json:"id"`                   // NewID(StartedAt) when created empty
	CallID          string         `json:"call_id"`              // the call record the message was left on
	Number          string         `json:"number"`               // our E.164 number the caller dialled (required)
	Owner           string         `json:"owner,omitempty"`      // user id of the number's owner
	Caller          string         `json:"caller"`               // the external party's number
	CallerID        *CallerID      `json:"caller_id,omitempty"`  // contact matched to the caller; nil when unknown
	Greeting        string         `json:"greeting,omitempty"`   // "in_hours" | "after_hours": the greeting played before the beep
	File            string         `json:"file"`                 // path relative to data_dir, slash separated, e.g. "voicemail/15550100/<id>.wav"
	StartedAt       time.Time      `json:"started_at"`           // when recording began
	DurationSeconds float64        `json:"duration_seconds"`     // length of the recorded audio
	Bytes           int64          `json:"bytes"`                // size of the audio file
	State           VoicemailState `json:"state"`                // recording | complete | interrupted
	EndReason       string         `json:"end_reason,omitempty"` // hangup | dtmf | silence | max_length | shutdown | interrupted
	Heard           bool           `json:"heard"`                // someone has listened to the message
	HeardAt         *time.Time     `json:"heard_at,omitempty"`   // when it was first marked heard; nil while unheard
}

// unheard reports whether v counts towards CountUnheard: a finished message
// nobody has listened to. A message still being recorded is not yet news.
func (v *Voicemail) unheard() bool {
	return !v.Heard && v.State != VoicemailRecording
}

// normalizeVoicemail puts v in its stored form: times in UTC and HeardAt
// cleared while the message is unheard, so the two fields never disagree.
func normalizeVoicemail(v *Voicemail) {
	v.StartedAt = v.StartedAt.UTC()
	if !v.Heard {
		v.HeardAt = nil
	} else if v.HeardAt != nil {
		t := v.HeardAt.UTC()
		v.HeardAt = &t
	}
}

// validateVoicemail checks the invariants every stored voicemail keeps.
func validateVoicemail(v *Voicemail) error {
	if !validID(v.ID) {
		return fmt.Errorf("voicemail id %q: %w", v.ID, ErrInvalid)
	}
	if err := checkNumber(v.Number); err != nil {
		return fmt.Errorf("voicemail %s: %w", v.ID, err)
	}
	if v.StartedAt.IsZero() {
		return fmt.Errorf("voicemail %s: started_at is zero: %w", v.ID, ErrInvalid)
	}
	switch v.State {
	case VoicemailRecording, VoicemailComplete, VoicemailInterrupted:
	default:
		return fmt.Errorf("voicemail %s: state %q: %w", v.ID, v.State, ErrInvalid)
	}
	switch GreetingKind(v.Greeting) {
	case "", GreetingInHours, GreetingAfterHours:
	default:
		return fmt.Errorf("voicemail %s: greeting %q: %w", v.ID, v.Greeting, ErrInvalid)
	}
	if err := checkFile(v.File); err != nil {
		return fmt.Errorf("voicemail %s: %w", v.ID, err)
	}
	// NaN and infinities would also fail json.Marshal; rejecting them here
	// names the field instead.
	if v.DurationSeconds < 0 || math.IsNaN(v.DurationSeconds) || math.IsInf(v.DurationSeconds, 0) {
		return fmt.Errorf("voicemail %s: duration_seconds %v: %w", v.ID, v.DurationSeconds, ErrInvalid)
	}
	if v.Bytes < 0 {
		return fmt.Errorf("voicemail %s: bytes %d: %w", v.ID, v.Bytes, ErrInvalid)
	}
	return nil
}

// checkNumber accepts a phone number usable as an index key prefix.
func checkNumber(number string) error {
	switch {
	case number == "":
		return fmt.Errorf("empty number: %w", ErrInvalid)
	case len(number) > maxNumberLength:
		return fmt.Errorf("number of %d bytes > %d: %w", len(number), maxNumberLength, ErrInvalid)
	case strings.Contains(number, numberKeySep):
		return fmt.Errorf("number %q contains NUL: %w", number, ErrInvalid)
	}
	return nil
}

// checkFile accepts a path relative to data_dir that cannot escape it: slash
// separated, in clean form (no "." or empty elements, no trailing slash), not
// absolute, with no ".." element, backslash or NUL. The file is later
// removed by whoever deletes the record, so a path that escaped data_dir
// would let a bad record delete an arbitrary file.
func checkFile(file string) error {
	switch {
	case file == "":
		return fmt.Errorf("empty file path: %w", ErrInvalid)
	case len(file) > maxFileLength:
		return fmt.Errorf("file path of %d bytes > %d: %w", len(file), maxFileLength, ErrInvalid)
	case strings.HasPrefix(file, "/"):
		return fmt.Errorf("file path %q is absolute: %w", file, ErrInvalid)
	case strings.ContainsAny(file, "\\\x00"):
		return fmt.Errorf("file path %q contains a backslash or NUL: %w", file, ErrInvalid)
	}
	for elem := range strings.SplitSeq(file, "/") {
		if elem == ".." {
			return fmt.Errorf("file path %q has a \"..\" element: %w", file, ErrInvalid)
		}
	}
	if file == "." || path.Clean(file) != file {
		return fmt.Errorf("file path %q is not in clean form: %w", file, ErrInvalid)
	}
	return nil
}

// numberKey is the by-number index key of voicemail id under number.
func numberKey(number, id string) []byte {
	return []byte(number + numberKeySep + id)
}

// encodeVoicemail marshals a normalized, validated voicemail and enforces the size bound.
func encodeVoicemail(v *Voicemail) ([]byte, error) {
	val, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode voicemail %s: %w", v.ID, err)
	}
	if len(val) > maxRecordBytes {
		return nil, fmt.Errorf("voicemail %s: encoded size %d > %d: %w", v.ID, len(val), maxRecordBytes, ErrInvalid)
	}
	return val, nil
}

// CreateVoicemail stores a new voicemail. When v.ID is empty it is set to
// NewID(v.StartedAt) (a fresh one is drawn on the unlikely collision); an
// explicit ID that already exists fails with ErrExists. Callers that name
// the audio file after the ID set v.ID = NewID(v.StartedAt) themselves
// first. An empty State becomes "recording". The record must carry a
// Number, a non-zero StartedAt, a Greeting of "", "in_hours" or
// "after_hours", and a File relative to data_dir that cannot escape it;
// anything else yields ErrInvalid. On success *v is replaced by the stored
// form (UTC times).
func (s *Store) CreateVoicemail(v *Voicemail) error {
	if v == nil {
		return fmt.Errorf("store: create voicemail: nil record: %w", ErrInvalid)
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()

	r := *v
	generated := r.ID == ""
	if generated {
		r.ID = NewID(r.StartedAt)
	}
	if r.State == "" {
		r.State = VoicemailRecording
	}
	normalizeVoicemail(&r)
	if err := validateVoicemail(&r); err != nil {
		return fmt.Errorf("store: create voicemail: %w", err)
	}
	val, err := encodeVoicemail(&r)
	if err != nil {
		return fmt.Errorf("store: create voicemail: %w", err)
	}

	// Batch may run this function more than once, so it resets its result
	// each time; refusals go through opErr with a nil return so they do not
	// roll back the other writers sharing the commit.
	var opErr error
	err = s.db.Batch(func(tx *bolt.Tx) error {
		opErr = nil
		vms := tx.Bucket(bucketVoicemails)
		for vms.Get([]byte(r.ID)) != nil {
			if !generated {
				opErr = fmt.Errorf("store: create voicemail %s: %w", r.ID, ErrExists)
				return nil
			}
			r.ID = NewID(r.StartedAt)
			b, err := encodeVoicemail(&r)
			if err != nil {
				return err
			}
			val = b
		}
		key := []byte(r.ID)
		if err := vms.Put(key, val); err != nil {
			return fmt.Errorf("put voicemail %s: %w", r.ID, err)
		}
		if err := tx.Bucket(bucketVoicemailsByNumber).Put(numberKey(r.Number, r.ID), []byte{}); err != nil {
			return fmt.Errorf("index voicemail %s by number: %w", r.ID, err)
		}
		if r.State == VoicemailRecording {
			if err := tx.Bucket(bucketVoicemailsRecording).Put(key, []byte{}); err != nil {
				return fmt.Errorf("mark voicemail %s recording: %w", r.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: create voicemail %s: %w", r.ID, err)
	}
	if opErr != nil {
		return opErr
	}
	*v = r
	return nil
}

// UpdateVoicemail applies fn to the stored voicemail with the given ID and
// writes the result back, all in one write transaction, and returns the
// stored form. If fn returns an error nothing is written and that error is
// returned wrapped. fn must not change the ID or Number, nor move a finished
// message back to "recording" (ErrInvalid); it must not call the Store and
// may be invoked more than once (bbolt's Batch re-runs a function solo when
// its shared batch fails), so it should only modify the record it is given.
// Leaving state "recording" removes the message from the recording index in
// the same transaction. Setting Heard to false clears HeardAt. A missing ID
// yields ErrNotFound.
func (s *Store) UpdateVoicemail(id string, fn func(*Voicemail) error) (Voicemail, error) {
	if fn == nil {
		return Voicemail{}, fmt.Errorf("store: update voicemail %s: nil function: %w", id, ErrInvalid)
	}
	if !validID(id) {
		// No such key can exist, because CreateVoicemail validates IDs.
		return Voicemail{}, fmt.Errorf("store: update voicemail %q: %w: %w", id, ErrInvalid, ErrNotFound)
	}
	if err := s.acquire(); err != nil {
		return Voicemail{}, err
	}
	defer s.mu.RUnlock()

	var (
		opErr  error
		stored Voicemail
	)
	err := s.db.Batch(func(tx *bolt.Tx) error {
		opErr, stored = nil, Voicemail{}
		vms := tx.Bucket(bucketVoicemails)
		key := []byte(id)
		raw := vms.Get(key)
		if raw == nil {
			opErr = fmt.Errorf("store: update voicemail %s: %w", id, ErrNotFound)
			return nil
		}
		var v Voicemail
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("decode voicemail %s: %w", id, err)
		}
		number, wasRecording := v.Number, v.State == VoicemailRecording
		if err := fn(&v); err != nil {
			opErr = fmt.Errorf("store: update voicemail %s: %w", id, err)
			return nil
		}
		switch {
		case v.ID != id:
			opErr = fmt.Errorf("store: update voicemail %s: id changed to %q: %w", id, v.ID, ErrInvalid)
			return nil
		case v.Number != number:
			opErr = fmt.Errorf("store: update voicemail %s: number changed from %q to %q: %w", id, number, v.Number, ErrInvalid)
			return nil
		case !wasRecording && v.State == VoicemailRecording:
			// The file of a finished message is closed; calling it
			// recording again would make the startup repair rewrite it.
			opErr = fmt.Errorf("store: update voicemail %s: cannot resume recording a finished message: %w", id, ErrInvalid)
			return nil
		}
		normalizeVoicemail(&v)
		if err := validateVoicemail(&v); err != nil {
			opErr = fmt.Errorf("store: update voicemail: %w", err)
			return nil
		}
		val, err := encodeVoicemail(&v)
		if err != nil {
			opErr = fmt.Errorf("store: update voicemail: %w", err)
			return nil
		}
		if err := vms.Put(key, val); err != nil {
			return fmt.Errorf("put voicemail %s: %w", id, err)
		}
		if wasRecording && v.State != VoicemailRecording {
			if err := tx.Bucket(bucketVoicemailsRecording).Delete(key); err != nil {
				return fmt.Errorf("unmark voicemail %s recording: %w", id, err)
			}
		}
		stored = v
		return nil
	})
	if err != nil {
		return Voicemail{}, fmt.Errorf("store: update voicemail %s: %w", id, err)
	}
	if opErr != nil {
		return Voicemail{}, opErr
	}
	return stored, nil
}

// GetVoicemail returns the voicemail with the given ID, or an error wrapping ErrNotFound.
func (s *Store) GetVoicemail(id string) (Voicemail, error) {
	if !validID(id) {
		return Voicemail{}, fmt.Errorf("store: get voicemail %q: %w: %w", id, ErrInvalid, ErrNotFound)
	}
	if err := s.acquire(); err != nil {
		return Voicemail{}, err
	}
	defer s.mu.RUnlock()

	var v Voicemail
	err := s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketVoicemails).Get([]byte(id))
		if raw == nil {
			return ErrNotFound
		}
		// Unmarshal copies out of the mmap, so v stays valid after the tx.
		return json.Unmarshal(raw, &v)
	})
	if err != nil {
		return Voicemail{}, fmt.Errorf("store: get voicemail %s: %w", id, err)
	}
	return v, nil
}

// ListVoicemails returns one page of the voicemails left on number, newest
// first, and the cursor for the next page (pass it as ListOptions.Before),
// or "" when this page is the last; an empty number lists every number's
// messages. Paging works exactly like ListCalls. A Before that is not a
// valid ID, or a number that could not be stored, yields ErrInvalid.
func (s *Store) ListVoicemails(number string, opt ListOptions) (vms []Voicemail, next string, err error) {
	limit := opt.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}
	limit = min(limit, maxListLimit)
	if opt.Before != "" && !validID(opt.Before) {
		return nil, "", fmt.Errorf("store: list voicemails: cursor %q: %w", opt.Before, ErrInvalid)
	}
	if number != "" {
		if err := checkNumber(number); err != nil {
			return nil, "", fmt.Errorf("store: list voicemails: %w", err)
		}
	}
	if err := s.acquire(); err != nil {
		return nil, "", err
	}
	defer s.mu.RUnlock()

	vms = make([]Voicemail, 0, min(limit, 64))
	err = s.db.View(func(tx *bolt.Tx) error {
		all := tx.Bucket(bucketVoicemails)
		// Listing every number walks the records themselves; one number's
		// listing walks only its range of the by-number index.
		c, prefix := all.Cursor(), []byte(nil)
		if number != "" {
			c, prefix = tx.Bucket(bucketVoicemailsByNumber).Cursor(), []byte(number+numberKeySep)
		}
		more, err := walkBack(c, prefix, opt.Before, func(id, raw []byte) (bool, error) {
			if len(vms) == limit {
				return false, nil
			}
			if prefix != nil {
				if raw = all.Get(id); raw == nil {
					// An index entry without its record is a bug upstream;
					// the listing stays usable and the log says why.
					slog.Warn("store: voicemail index names a missing record", "number", number, "id", string(id))
					return true, nil
				}
			}
			var v Voicemail
			if err := json.Unmarshal(raw, &v); err != nil {
				return false, fmt.Errorf("decode voicemail %s: %w", id, err)
			}
			vms = append(vms, v)
			return true, nil
		})
		if err != nil {
			return err
		}
		if more && len(vms) > 0 {
			next = vms[len(vms)-1].ID
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("store: list voicemails: %w", err)
	}
	return vms, next, nil
}

// walkBack visits the keys of c that start with prefix, from the last one
// whose ID part is below before (or the very last when before is empty)
// down to the first, passing the ID part (the key without prefix) and the
// value to yield. It stops when yield returns false or an error, and
// reports whether that left keys with the prefix unvisited.
func walkBack(c *bolt.Cursor, prefix []byte, before string, yield func(id, val []byte) (bool, error)) (bool, error) {
	var k, v []byte
	if before == "" {
		// The first key after the whole prefix range: the prefix with its
		// last byte incremented. Numbers cannot contain NUL, so prefix ends
		// in NUL and incrementing it cannot overflow. A nil prefix means the
		// whole bucket.
		if len(prefix) == 0 {
			k, v = c.Last()
		} else {
			end := bytes.Clone(prefix)
			end[len(end)-1]++
			k, v = seekBefore(c, end)
		}
	} else {
		k, v = seekBefore(c, append(bytes.Clone(prefix), before...))
	}
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
		ok, err := yield(k[len(prefix):], v)
		if err != nil {
			return false, err
		}
		if !ok {
			return true, nil
		}
	}
	return false, nil
}

// seekBefore positions c on the last key strictly below key.
func seekBefore(c *bolt.Cursor, key []byte) (k, v []byte) {
	// Seek lands on the first key >= key; the wanted one is just before it.
	k, v = c.Seek(key)
	if k == nil {
		return c.Last()
	}
	return c.Prev()
}

// DeleteVoicemail removes the voicemail with the given ID together with its
// index entries and returns the deleted record, so the caller can remove
// its audio file. A missing ID yields ErrNotFound.
func (s *Store) DeleteVoicemail(id string) (Voicemail, error) {
	if !validID(id) {
		return Voicemail{}, fmt.Errorf("store: delete voicemail %q: %w: %w", id, ErrInvalid, ErrNotFound)
	}
	if err := s.acquire(); err != nil {
		return Voicemail{}, err
	}
	defer s.mu.RUnlock()

	var (
		opErr   error
		deleted Voicemail
	)
	err := s.db.Batch(func(tx *bolt.Tx) error {
		opErr, deleted = nil, Voicemail{} // Batch may re-run this function
		vms := tx.Bucket(bucketVoicemails)
		key := []byte(id)
		raw := vms.Get(key)
		if raw == nil {
			opErr = fmt.Errorf("store: delete voicemail %s: %w", id, ErrNotFound)
			return nil
		}
		var v Voicemail
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("decode voicemail %s: %w", id, err)
		}
		if err := vms.Delete(key); err != nil {
			return fmt.Errorf("delete voicemail %s: %w", id, err)
		}
		if err := tx.Bucket(bucketVoicemailsByNumber).Delete(numberKey(v.Number, id)); err != nil {
			return fmt.Errorf("unindex voicemail %s: %w", id, err)
		}
		// Deleted regardless of state: a stale entry would only make the
		// startup repair log a missing record.
		if err := tx.Bucket(bucketVoicemailsRecording).Delete(key); err != nil {
			return fmt.Errorf("unmark voicemail %s recording: %w", id, err)
		}
		deleted = v
		return nil
	})
	if err != nil {
		return Voicemail{}, fmt.Errorf("store: delete voicemail %s: %w", id, err)
	}
	if opErr != nil {
		return Voicemail{}, opErr
	}
	return deleted, nil
}

// RecordingVoicemails returns every voicemail still in state "recording",
// oldest first. After a restart these are the messages the previous process
// was writing when it stopped; the startup repair fixes their files and
// moves them to "interrupted" with UpdateVoicemail. It walks only the
// recording index, not all messages.
func (s *Store) RecordingVoicemails() ([]Voicemail, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()

	var vms []Voicemail
	err := s.db.View(func(tx *bolt.Tx) error {
		all := tx.Bucket(bucketVoicemails)
		return tx.Bucket(bucketVoicemailsRecording).ForEach(func(k, _ []byte) error {
			raw := all.Get(k)
			if raw == nil {
				slog.Warn("store: recording index names a missing voicemail", "id", string(k))
				return nil
			}
			var v Voicemail
			if err := json.Unmarshal(raw, &v); err != nil {
				return fmt.Errorf("decode voicemail %s: %w", k, err)
			}
			vms = append(vms, v)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: recording voicemails: %w", err)
	}
	return vms, nil
}

// CountUnheard returns how many finished (complete or interrupted)
// voicemails left on number nobody has heard yet; an empty number counts
// across all numbers. A number that could not be stored yields ErrInvalid.
func (s *Store) CountUnheard(number string) (int, error) {
	if number != "" {
		if err := checkNumber(number); err != nil {
			return 0, fmt.Errorf("store: count unheard voicemails: %w", err)
		}
	}
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()

	var n int
	err := s.db.View(func(tx *bolt.Tx) error {
		all := tx.Bucket(bucketVoicemails)
		count := func(id, raw []byte) error {
			var v Voicemail
			if err := json.Unmarshal(raw, &v); err != nil {
				return fmt.Errorf("decode voicemail %s: %w", id, err)
			}
			if v.unheard() {
				n++
			}
			return nil
		}
		if number == "" {
			return all.ForEach(count)
		}
		prefix := []byte(number + numberKeySep)
		c := tx.Bucket(bucketVoicemailsByNumber).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			id := k[len(prefix):]
			if raw := all.Get(id); raw != nil {
				if err := count(id, raw); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: count unheard voicemails of %q: %w", number, err)
	}
	return n, nil
}
