package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func TestSpreadOf(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want spread
	}{
		{"one", []float64{50}, spread{50, 50, 50, 50}},
		{"odd, unsorted", []float64{51, 49, 50}, spread{49, 50, 51, 50}},
		{"even: median between the middle two", []float64{40, 50, 49, 51}, spread{40, 49.5, 51, 47.5}},
	}
	for _, tt := range tests {
		in := append([]float64(nil), tt.in...)
		if got := spreadOf(tt.in); got != tt.want {
			t.Errorf("%s: spreadOf(%v) = %+v, want %+v", tt.name, tt.in, got, tt.want)
		}
		for i := range in {
			if in[i] != tt.in[i] {
				t.Fatalf("%s: spreadOf reordered its input", tt.name)
			}
		}
	}
	if s := spreadOf(nil); !math.IsNaN(s.min) || !math.IsNaN(s.p50) || !math.IsNaN(s.max) || !math.IsNaN(s.mean) {
		t.Errorf("spreadOf(nil) = %+v, want NaNs", s)
	}
}

func TestPerCallRates(t *testing.T) {
	got := perCallRates([]uint64{100, 0, 7}, []uint64{600, 480, 7}, 10)
	want := []float64{50, 48, 0}
	if len(got) != len(want) {
		t.Fatalf("perCallRates = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("call %d: %v packets/s, want %v", i, got[i], want[i])
		}
	}
	if got := perCallRates([]uint64{1}, []uint64{1, 2}, 10); got != nil {
		t.Errorf("mismatched readings: %v, want nil", got)
	}
	if got := perCallRates([]uint64{1}, []uint64{2}, 0); got != nil {
		t.Errorf("empty window: %v, want nil", got)
	}
}

func TestDirSize(t *testing.T) {
	root := filepath.Join(t.TempDir(), "voicemail")
	if n, err := dirSize(root); err != nil || n != 0 {
		t.Fatalf("missing root: %d, %v; want 0, nil", n, err)
	}
	for path, size := range map[string]int{"15550100/a.wav": 44 + 16000, "15550100/b.wav": 44, "15550101/c.wav": 1000} {
		p := filepath.Join(root, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := dirSize(root); err != nil || n != 44+16000+44+1000 {
		t.Errorf("dirSize = %d, %v; want %d", n, err, 44+16000+44+1000)
	}
}

func TestCPUPct(t *testing.T) {
	t0 := time.Unix(1000, 0)
	a := procSample{At: t0, CPU: time.Second}
	b := procSample{At: t0.Add(10 * time.Second), CPU: 5 * time.Second}
	if got := cpuPct(a, b, 2); math.Abs(got-20) > 1e-9 {
		t.Errorf("4 s of CPU in 10 s on 2 CPUs = %v %%, want 20", got)
	}
	if got := cpuPct(a, a, 2); !math.IsNaN(got) {
		t.Errorf("empty interval = %v, want NaN", got)
	}
}

// field returns one key of a report's fields.
func field(t *testing.T, r report, key string) string {
	t.Helper()
	for _, kv := range r.fields() {
		if kv[0] == key {
			return kv[1]
		}
	}
	t.Fatalf("no field %q", key)
	return ""
}

func TestVMResultFigures(t *testing.T) {
	t0 := time.Unix(1000, 0)
	t1 := t0.Add(30 * time.Second)
	mk := func(at time.Time, gwCPU time.Duration, rss uint64, sent, recv uint64, disk int64, perCall []uint64) vmSnapshot {
		return vmSnapshot{
			snapshot: snapshot{
				gw:      procSample{At: at, CPU: gwCPU, RSSKiB: rss},
				self:    procSample{At: at},
				machine: machineSample{},
				metrics: scrape{values: map[string]float64{mRecording: 4, mActive: 4}},
				rtp:     counters{Sent: sent, Recv: recv},
			},
			disk:    disk,
			perCall: perCall,
		}
	}
	r := &vmResult{opts: options{pid: 1, calls: 4}, established: 4, rssBefore: 20000}
	// 4 calls for 30 s: 1.2 s of gateway CPU is 10 ms per call-second and
	// 2 % of a 2-CPU machine; 4 x 16000 B/s x 30 s written to disk.
	r.measure(
		mk(t0, 10*time.Second, 20000, 0, 0, 1000, []uint64{0, 0, 0, 0}),
		mk(t1, 10*time.Second+1200*time.Millisecond, 20400, 6000, 5970, 1000+4*16000*30, []uint64{1500, 1500, 1500, 1470}),
		2,
	)
	base := scrape{values: map[string]float64{
		mKept: 1, mDiscarded: 0, mVMBytes: 32044, mVMCalls: 1, mTTSRenders: 2, mPromptHit: 2, mPromptMiss: 6,
	}}
	final := scrape{values: map[string]float64{
		mKept: 4, mDiscarded: 1, mVMBytes: 32044 + 3*640044, mVMCalls: 5, mTTSRenders: 2, mPromptHit: 12, mPromptMiss: 6,
		mActive: 0, mRecording: 0,
	}}
	r.settle(base, final)
	for key, want := range map[string]string{
		"window_seconds":              "30.00",
		"gw_cpu_pct":                  "2.0",
		"gw_cpu_pct_per_call":         "0.500",
		"gw_cpu_ms_per_call_s":        "10.000",
		"rss_per_call_kib":            "100.0",
		"sent_pps":                    "200",
		"recv_pps":                    "199",
		"expected_recv_pps":           "200",
		"recv_pps_per_call_min":       "49.0",
		"recv_pps_per_call_p50":       "50.0",
		"disk_bytes_window":           "1920000",
		"disk_bytes_per_min":          "3840000",
		"disk_bytes_per_min_per_call": "960000",
		"tts_renders":                 "0",
		"tts_renders_per_call":        "0.000",
		"prompt_hits":                 "10",
		"prompt_hits_per_call":        "2.5",
		"prompt_misses":               "0",
		"voicemails_kept":             "3",
		"voicemails_discarded":        "1",
		"messages_lost":               "1",
		"voicemail_calls":             "4",
		"voicemail_bytes_per_msg":     "640044",
	} {
		if got := field(t, r, key); got != want {
			t.Errorf("%s = %s, want %s", key, got, want)
		}
	}
	// Without -data-dir the disk figures are not guessed.
	r.measure(mk(t0, 0, 0, 0, 0, -1, nil), mk(t1, 0, 0, 0, 0, -1, nil), 2)
	if got := field(t, r, "disk_bytes_per_min"); got != "NaN" {
		t.Errorf("disk_bytes_per_min without a data dir = %s, want NaN", got)
	}
}

func TestWaitMetrics(t *testing.T) {
	var recording atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := recording.Add(1) // one more message recording on every scrape
		fmt.Fprintf(w, "# TYPE %s gauge\n%s %d\n", mRecording, mRecording, n)
	}))
	defer srv.Close()
	ctx := context.Background()
	s, err := waitMetrics(ctx, srv.URL, "3 recording", 5*time.Second, func(s scrape) bool { return s.get(mRecording) >= 3 })
	if err != nil || s.get(mRecording) != 3 {
		t.Fatalf("waitMetrics = %v, %v; want the scrape showing 3", s.get(mRecording), err)
	}
	s, err = waitMetrics(ctx, srv.URL, "never", 300*time.Millisecond, func(scrape) bool { return false })
	if err == nil {
		t.Fatal("waitMetrics returned no error for a condition that never holds")
	}
	if s.get(mRecording) < 4 {
		t.Errorf("last scrape shows %v, want the latest value (>= 4)", s.get(mRecording))
	}
}
