package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"switchboard/store"
	"switchboard/wavfile"
)

// recoverRecordings repairs the recordings a crash left open: each WAV's
// header is fixed to hold the audio that reached the disk (flushed at
// least every second while recording) and its record becomes
// "interrupted". Call it at startup, before calls arrive.
func recoverRecordings(dataDir string, st *store.Store, log *slog.Logger) error {
	open, err := st.ActiveRecordings()
	if err != nil {
		return err
	}
	for _, rec := range open {
		path := filepath.Join(dataDir, filepath.FromSlash(rec.File))
		dur, rerr := wavfile.Repair(path)
		if rerr != nil {
			log.Error("recording could not be repaired", "call", rec.CallID, "file", path, "error", rerr)
		}
		var size int64
		if fi, err := os.Stat(path); err == nil {
			size = fi.Size()
		}
		if _, err := st.UpdateRecording(rec.CallID, func(r *store.Recording) error {
			r.State = store.RecordingInterrupted
			r.DurationSeconds = dur.Round(time.Millisecond).Seconds()
			r.Bytes = size
			return nil
		}); err != nil {
			return err
		}
		log.Warn("recording interrupted by a restart repaired", "call", rec.CallID, "duration", dur.Round(10*time.Millisecond))
	}
	return nil
}

// sweepRecordings deletes recordings older than days (files and records),
// once at startup and then daily, until ctx ends. days 0 keeps everything.
func sweepRecordings(ctx context.Context, dataDir string, days int, st *store.Store, log *slog.Logger) {
	if days <= 0 {
		return
	}
	sweep := func() {
		cutoff := time.Now().Add(-time.Duration(days) * 24 * time.Hour)
		deleted := 0
		for {
			old, err := st.RecordingsBefore(cutoff, 100)
			if err != nil {
				log.Error("recording retention sweep failed", "error", err)
				return
			}
			if len(old) == 0 {
				break
			}
			before := deleted
			for _, rec := range old {
				if rec.State == store.RecordingActive {
					continue
				}
				if _, err := st.DeleteRecording(rec.CallID); err != nil && !errors.Is(err, store.ErrNotFound) {
					log.Error("recording retention: record not deleted", "call", rec.CallID, "error", err)
					return
				}
				path := filepath.Join(dataDir, filepath.FromSlash(rec.File))
				if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
					log.Warn("recording retention: file not deleted", "file", path, "error", err)
				}
				deleted++
			}
			if len(old) < 100 || deleted == before {
				break
			}
		}
		if deleted > 0 {
			log.Info("recording retention: deleted old recordings", "count", deleted, "older_than_days", days)
		}
	}
	go func() {
		t := time.NewTicker(24 * time.Hour)
		defer t.Stop()
		for {
			sweep()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}
