// Package store persists Switchboard's call records, voicemails and uploaded
// greetings in a single bbolt file.
//
// Every write goes through bbolt's Batch so that the many concurrent call
// setups of a busy gateway share one fsync'd commit instead of paying for one
// each, while keeping full durability: a write that returned nil is on disk.
package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrNotFound is returned when no call record has the requested ID.
var ErrNotFound = errors.New("store: not found")

// ErrClosed is returned by every method of a Store that is nil or has been closed.
var ErrClosed = errors.New("store: closed")

// ErrLocked is returned by Open when another process (or another open handle
// in this process) holds the database file's lock for longer than the open timeout.
var ErrLocked = errors.New("store: database file is locked by another process")

// ErrInvalid is returned when a record, ID or argument fails validation.
var ErrInvalid = errors.New("store: invalid argument")

// ErrExists is returned by CreateCall when a record with the given ID already exists.
var ErrExists = errors.New("store: already exists")

// lockTimeout bounds how long Open waits for the file lock. A second gateway
// started on the same data_dir must fail fast and say why instead of hanging.
const lockTimeout = 2 * time.Second

var (
	// bucketCalls maps call ID -> JSON-encoded CallRecord.
	bucketCalls = []byte("calls")
	// bucketOpen maps call ID -> empty value for every record whose EndedAt
	// is nil, so the startup sweep touches only open calls, not all history.
	bucketOpen = []byte("open")
)

// Store is a handle on the call-record database. It is safe for concurrent use.
type Store struct {
	// mu is held shared by every operation and exclusively by Close, so
	// Close waits for in-flight (possibly batched) writes to commit and no
	// operation ever reaches a closed bbolt handle.
	mu     sync.RWMutex
	db     *bolt.DB
	closed bool
}

// Open opens (creating if needed) the database at path. The parent directory
// is created with mode 0750 and the file with mode 0600, because call records
// hold personal data. It returns an error wrapping ErrLocked when the file is
// held by another process for more than two seconds.
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("store: open: empty path: %w", ErrInvalid)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("store: create directory for %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("store: open %s: %w (%w)", path, ErrLocked, err)
		}
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		buckets := [][]byte{
			bucketCalls, bucketOpen,
			bucketVoicemails, bucketVoicemailsByNumber, bucketVoicemailsRecording,
			bucketGreetings,
			bucketNumbers,
			bucketRecordings, bucketRecordingsActive, bucketRecordingsByTime,
		}
		for _, name := range buckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("store: initialise %s: %w", path, err), db.Close())
	}
	return &Store{db: db}, nil
}

// Close waits for in-flight operations, then closes the database. Calling
// Close again, or on a nil Store, returns ErrClosed.
func (s *Store) Close() error {
	if s == nil {
		return ErrClosed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Ping runs a cheap read transaction to prove the database is usable; it is
// meant for health checks. It returns ErrClosed after Close.
func (s *Store) Ping() error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketCalls) == nil || tx.Bucket(bucketOpen) == nil {
			return errors.New("buckets missing")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// acquire takes the shared lock for one operation. On success the caller
// must release it with s.mu.RUnlock.
func (s *Store) acquire() error {
	if s == nil {
		return ErrClosed
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	return nil
}
