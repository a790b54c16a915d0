package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	bolt "go.etcd.io/bbolt"
)

// CloseInterrupted closes every record left open, which after a restart means
// the previous process died mid-call: EndedAt=now, Outcome=interrupted,
// HangupSide="system", HangupCause="gateway_restart", and DurationSeconds
// from AnsweredAt when the call was answered. It walks only the open index,
// not all history, and returns how many records it closed. Call it once at
// startup, before any new call is created.
func (s *Store) CloseInterrupted(now time.Time) (int, error) {
	if now.IsZero() {
		return 0, fmt.Errorf("store: close interrupted: zero time: %w", ErrInvalid)
	}
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()

	var closed int
	// One plain Update: a startup sweep has no concurrent writers to batch with.
	err := s.db.Update(func(tx *bolt.Tx) error {
		closed = 0
		calls, open := tx.Bucket(bucketCalls), tx.Bucket(bucketOpen)
		// Collect keys first: deleting under a live cursor skips entries.
		var ids [][]byte
		if err := open.ForEach(func(k, _ []byte) error {
			ids = append(ids, bytes.Clone(k))
			return nil
		}); err != nil {
			return err
		}
		for _, key := range ids {
			raw := calls.Get(key)
			if raw == nil {
				slog.Warn("store: open index names a missing call record; dropping index entry", "id", string(key))
				if err := open.Delete(key); err != nil {
					return fmt.Errorf("unmark call %s open: %w", key, err)
				}
				continue
			}
			var rec CallRecord
			if err := json.Unmarshal(raw, &rec); err != nil {
				return fmt.Errorf("decode call %s: %w", key, err)
			}
			if rec.EndedAt == nil {
				end := now
				rec.EndedAt = &end
				rec.Outcome = OutcomeInterrupted
				rec.HangupSide = hangupSideSystem
				rec.HangupCause = hangupCauseGatewayRestart
				normalize(&rec)
				val, err := encodeRecord(&rec)
				if err != nil {
					return err
				}
				if err := calls.Put(key, val); err != nil {
					return fmt.Errorf("put call %s: %w", key, err)
				}
				closed++
			}
			if err := open.Delete(key); err != nil {
				return fmt.Errorf("unmark call %s open: %w", key, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: close interrupted: %w", err)
	}
	if closed > 0 {
		slog.Info("store: closed call records interrupted by a restart", "count", closed)
	}
	return closed, nil
}
