package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// Field 2 may hold spaces and parentheses; utime=250, stime=150 ticks.
	stat := "4242 (sw (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 150 0 0 20 0 9 0 100 0 0"
	got, err := parseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 4 * time.Second; got != want {
		t.Errorf("cpu = %v, want %v", got, want)
	}
	for _, bad := range []string{"no parenthesis", "1 (x) S 1 2"} {
		if _, err := parseStatCPU(bad); !errors.Is(err, errNoProc) {
			t.Errorf("parseStatCPU(%q) error = %v, want errNoProc", bad, err)
		}
	}
}

func TestStatusField(t *testing.T) {
	status := "Name:\tswitchboard\nVmPeak:\t  900 kB\nVmRSS:\t   43612 kB\nThreads:\t9\n"
	tests := []struct {
		key  string
		want uint64
	}{{"VmRSS", 43612}, {"Threads", 9}}
	for _, tt := range tests {
		got, err := statusField(status, tt.key)
		if err != nil || got != tt.want {
			t.Errorf("statusField(%s) = %d, %v; want %d", tt.key, got, err, tt.want)
		}
	}
	if _, err := statusField(status, "VmSwap"); !errors.Is(err, errNoProc) {
		t.Errorf("missing key: error = %v, want errNoProc", err)
	}
}

func TestParseMachine(t *testing.T) {
	stat := "cpu  100 5 50 800 40 3 2 0 7 0\ncpu0 50 2 25 400 20 1 1 0 0 0\nintr 1\n"
	m, err := parseMachine(stat)
	if err != nil {
		t.Fatal(err)
	}
	// user+nice+system+irq+softirq+steal = 160 busy; + idle 800 + iowait 40;
	// guest (7) is already counted in user.
	if m.Busy != 160 || m.Total != 1000 {
		t.Errorf("machine = %+v, want busy 160 of 1000", m)
	}
	if _, err := parseMachine("intr 1\n"); !errors.Is(err, errNoProc) {
		t.Errorf("no cpu line: error = %v, want errNoProc", err)
	}
}

func TestReadProcSelf(t *testing.T) {
	s, err := readProc(0)
	if err != nil {
		t.Fatal(err)
	}
	if s.RSSKiB == 0 || s.Threads == 0 {
		t.Errorf("self sample = %+v, want non-zero RSS and threads", s)
	}
}

const sampleMetrics = `# HELP switchboard_active_calls Calls currently in progress.
# TYPE switchboard_active_calls gauge
switchboard_active_calls 500
switchboard_calls_total{outcome="answered"} 16000
switchboard_calls_total{outcome="failed"} 0
switchboard_rtp_packets_relayed_total 1.2345e+06
# TYPE switchboard_rtp_relay_latency_seconds histogram
switchboard_rtp_relay_latency_seconds_bucket{le="2e-06"} 10
switchboard_rtp_relay_latency_seconds_bucket{le="1e-06"} 4
switchboard_rtp_relay_latency_seconds_bucket{le="+Inf"} 12
switchboard_rtp_relay_latency_seconds_sum 3.5e-05
switchboard_rtp_relay_latency_seconds_count 12
`

func TestParseMetrics(t *testing.T) {
	s, err := parseMetrics(strings.NewReader(sampleMetrics))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		series string
		want   float64
	}{
		{"switchboard_active_calls", 500},
		{`switchboard_calls_total{outcome="answered"}`, 16000},
		{"switchboard_rtp_packets_relayed_total", 1234500},
		{latencyMetric + "_count", 12},
	}
	for _, tt := range tests {
		if got := s.get(tt.series); got != tt.want {
			t.Errorf("%s = %v, want %v", tt.series, got, tt.want)
		}
	}
	if got := s.get("absent"); !math.IsNaN(got) {
		t.Errorf("absent series = %v, want NaN", got)
	}
	// Buckets come out sorted by bound whatever the input order.
	wantLE := []float64{1e-6, 2e-6, math.Inf(1)}
	wantCum := []float64{4, 10, 12}
	for i := range wantLE {
		if s.latency.le[i] != wantLE[i] || s.latency.cum[i] != wantCum[i] {
			t.Fatalf("latency buckets = %v / %v, want %v / %v", s.latency.le, s.latency.cum, wantLE, wantCum)
		}
	}
}

func TestParseMetricsErrors(t *testing.T) {
	for name, text := range map[string]string{
		"no value":      "switchboard_active_calls\n",
		"bad value":     "switchboard_active_calls x\n",
		"no +Inf":       latencyMetric + `_bucket{le="1"} 3` + "\n",
		"bucket w/o le": latencyMetric + `_bucket{x="1"} 3` + "\n",
	} {
		if _, err := parseMetrics(strings.NewReader(text)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestLabelValue(t *testing.T) {
	tests := []struct {
		series, name, want string
		ok                 bool
	}{
		{`m{le="0.5"}`, "le", "0.5", true},
		{`m{a="1",le="+Inf"}`, "le", "+Inf", true},
		{`m{handle="x"}`, "le", "", false}, // "le" inside another label's name
		{`m`, "le", "", false},
	}
	for _, tt := range tests {
		got, ok := labelValue(tt.series, tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("labelValue(%s, %s) = %q, %v; want %q, %v", tt.series, tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestScrapeMetrics(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, sampleMetrics)
	}))
	defer srv.Close()
	s, err := scrapeMetrics(context.Background(), srv.URL+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.get("switchboard_active_calls"); got != 500 {
		t.Errorf("active calls = %v, want 500", got)
	}
	if _, err := scrapeMetrics(context.Background(), srv.URL+"/nope"); err == nil {
		t.Error("404: no error")
	}
}
