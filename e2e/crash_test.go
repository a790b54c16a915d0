package e2e

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestCrashLeavesInterruptedRecord kills the gateway with SIGKILL while a
// call is up, starts it again on the same data_dir and expects the record
// of that call closed as interrupted by the startup sweep: a crash loses no
// call record.
func TestCrashLeavesInterruptedRecord(t *testing.T) {
	requireTools(t, "sipp")
	dataDir := filepath.Join(t.TempDir(), "data")
	uas := startSIPp(t, "uas", sippOptions{Scenario: "uas_answer.xml"})
	g := startGateway(t, gatewayOptions{Proxy: "127.0.0.1:" + strconv.Itoa(uas.sipPort), DataDir: dataDir})
	_ = startSIPp(t, "uac", sippOptions{Scenario: "uac_call_wait_bye.xml", Remote: g.sipAddr, Service: ourNumber})

	// Wait until the call is answered and its record says so.
	var id string
	err := waitFor(context.Background(), 15*time.Second, func() bool {
		for _, rec := range g.calls(t) {
			if rec.AnsweredAt != nil && rec.EndedAt == nil {
				id = rec.ID
			}
		}
		return id != ""
	})
	if err != nil {
		t.Fatalf("no answered open call within 15 s: %v", g.calls(t))
	}
	g.crash(t)

	g2 := startGateway(t, gatewayOptions{DataDir: dataDir})
	rec := g2.call(t, id)
	if rec.Outcome != "interrupted" || rec.HangupSide != "system" || rec.EndedAt == nil {
		t.Fatalf("record after crash and restart = %v, want outcome interrupted, side system, ended", rec)
	}
	if rec.AnsweredAt == nil || rec.DurationSeconds <= 0 {
		t.Errorf("interrupted answered call lost its answer time or duration: %v", rec)
	}
	if lines := g2.logLines("closed call records left open"); len(lines) == 0 {
		t.Errorf("restart did not log the sweep")
	}
}
