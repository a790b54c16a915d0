package store

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// openTemp opens a fresh store in a temporary directory and closes it at test end.
func openTemp(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "switchboard.db")
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return s, path
}

func TestOpenCreatesDirectoryAndFileWithPrivateModes(t *testing.T) {
	s, path := openTemp(t)
	if err := s.Ping(); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	dir, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	// The umask can only remove bits, so assert nothing beyond the requested mode.
	if perm := dir.Mode().Perm(); perm&^0o750 != 0 {
		t.Errorf("directory mode = %o, want within 0750", perm)
	}
	file, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := file.Mode().Perm(); perm&^0o600 != 0 {
		t.Errorf("file mode = %o, want within 0600", perm)
	}
}

func TestOpenEmptyPath(t *testing.T) {
	if _, err := Open(""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Open(\"\") error = %v, want ErrInvalid", err)
	}
}

func TestReopenKeepsRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "calls.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	open := newRecord(start)
	done := newRecord(start.Add(time.Second))
	for _, r := range []*CallRecord{open, done} {
		if err := s.CreateCall(r); err != nil {
			t.Fatalf("CreateCall: %v", err)
		}
	}
	ans, end := start.Add(3*time.Second), start.Add(13*time.Second)
	if err := s.UpdateCall(done.ID, func(r *CallRecord) error {
		r.AnsweredAt, r.EndedAt, r.Outcome = &ans, &end, OutcomeAnswered
		return nil
	}); err != nil {
		t.Fatalf("UpdateCall: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if n, err := s.CountCalls(); err != nil || n != 2 {
		t.Fatalf("CountCalls after reopen = %d, %v; want 2", n, err)
	}
	got, err := s.GetCall(done.ID)
	if err != nil {
		t.Fatalf("GetCall after reopen: %v", err)
	}
	if got.Outcome != OutcomeAnswered || got.DurationSeconds != 10 {
		t.Errorf("after reopen outcome=%q duration=%v, want answered 10", got.Outcome, got.DurationSeconds)
	}
	// The open index survives too: exactly the still-open record is swept.
	n, err := s.CloseInterrupted(start.Add(time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("CloseInterrupted after reopen = %d, %v; want 1", n, err)
	}
}

func TestClosedStoreReturnsErrClosed(t *testing.T) {
	s, _ := openTemp(t)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	rec := newRecord(time.Now())
	checks := map[string]error{
		"Ping":       s.Ping(),
		"Close":      s.Close(),
		"CreateCall": s.CreateCall(rec),
		"UpdateCall": s.UpdateCall(NewID(time.Now()), func(*CallRecord) error { return nil }),
	}
	_, checks["GetCall"] = s.GetCall(NewID(time.Now()))
	_, _, checks["ListCalls"] = s.ListCalls(ListOptions{})
	_, checks["CountCalls"] = s.CountCalls()
	_, checks["CloseInterrupted"] = s.CloseInterrupted(time.Now())
	for name, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: error = %v, want ErrClosed", name, err)
		}
	}
}

func TestNilStoreReturnsErrClosed(t *testing.T) {
	var s *Store
	if err := s.Ping(); !errors.Is(err, ErrClosed) {
		t.Errorf("nil Ping = %v, want ErrClosed", err)
	}
	if err := s.CreateCall(newRecord(time.Now())); !errors.Is(err, ErrClosed) {
		t.Errorf("nil CreateCall = %v, want ErrClosed", err)
	}
	if _, err := s.GetCall(NewID(time.Now())); !errors.Is(err, ErrClosed) {
		t.Errorf("nil GetCall = %v, want ErrClosed", err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("nil Close = %v, want ErrClosed", err)
	}
}

// TestCloseWaitsForInFlightWrites checks that Close does not cut off
// writers queued in a Batch: writers keep creating records while Close
// runs, and every CreateCall either lands durably or reports ErrClosed.
func TestCloseWaitsForInFlightWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "calls.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	const writers = 20
	acked := make(chan string, 1<<14)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for {
				r := newRecord(time.Now())
				err := s.CreateCall(r)
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("CreateCall racing Close: %v", err)
					return
				}
				acked <- r.ID
			}
		})
	}
	// Close only once writes are demonstrably flowing, so some are in flight.
	ids := []string{<-acked}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	close(acked)
	for id := range acked {
		ids = append(ids, id)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, id := range ids {
		if _, err := s.GetCall(id); err != nil {
			t.Errorf("acknowledged record %s lost: %v", id, err)
		}
	}
	if c, err := s.CountCalls(); err != nil || c != len(ids) {
		t.Errorf("CountCalls = %d, %v; want %d acknowledged", c, err, len(ids))
	}
}

// lockHelperEnv makes the re-executed test binary try to open a locked file.
const lockHelperEnv = "STORE_TEST_LOCK_HELPER_PATH"

func TestOpenLockedInProcess(t *testing.T) {
	_, path := openTemp(t)
	// bbolt's flock is per open file description, so a second handle in the
	// same process conflicts just like another process would.
	second, err := Open(path)
	if err == nil {
		second.Close()
		t.Fatal("second Open on a locked file succeeded")
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open error = %v, want ErrLocked", err)
	}
}

func TestOpenLockedByAnotherProcess(t *testing.T) {
	if path := os.Getenv(lockHelperEnv); path != "" {
		// Child side: report via exit code whether Open said ErrLocked.
		_, err := Open(path)
		if errors.Is(err, ErrLocked) {
			os.Exit(0)
		}
		os.Stderr.WriteString("child Open error: " + errorString(err) + "\n")
		os.Exit(3)
	}
	_, path := openTemp(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestOpenLockedByAnotherProcess$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child did not see ErrLocked: %v\n%s", err, out)
	}
}

func errorString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
