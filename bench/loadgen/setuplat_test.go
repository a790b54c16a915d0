package main

import (
	"math"
	"testing"
	"time"
)

func TestSetupStatsOf(t *testing.T) {
	calls := func(ds ...time.Duration) []*outCall {
		out := make([]*outCall, len(ds))
		for i, d := range ds {
			out[i] = &outCall{setupTook: d}
		}
		return out
	}
	var hundred []time.Duration
	for i := range 100 {
		// 99 calls of 8 ms and one slow one: p50 and p99 stay in 8 ms's
		// bucket, max is the slow call exactly.
		d := 8 * time.Millisecond
		if i == 42 {
			d = 431 * time.Millisecond
		}
		hundred = append(hundred, d)
	}
	tests := []struct {
		name          string
		calls         []*outCall
		n             int
		p50, p99, max float64 // seconds; NaN: none
		tol           float64 // relative tolerance of p50 and p99 (bucket width)
	}{
		{"no calls", nil, 0, math.NaN(), math.NaN(), math.NaN(), 0},
		{"one call", calls(12 * time.Millisecond), 1, 0.012, 0.012, 0.012, 0.25},
		{"99 fast, one slow", calls(hundred...), 100, 0.008, 0.008, 0.431, 0.25},
		// Interpolation puts p99 near the top of 30 ms's bucket, [28.7, 32.8)
		// ms: above the slowest call, so it is clamped to it.
		{"quantiles clamped to max", calls(30*time.Millisecond, 30*time.Millisecond), 2, 0.03, 0.03, 0.03, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := setupStatsOf(tt.calls)
			if s.n != tt.n {
				t.Errorf("n = %d, want %d", s.n, tt.n)
			}
			near := func(what string, got, want, tol float64) {
				if math.IsNaN(want) {
					if !math.IsNaN(got) {
						t.Errorf("%s = %v, want NaN", what, got)
					}
					return
				}
				if math.Abs(got-want) > tol*want {
					t.Errorf("%s = %v, want %v (±%.0f%%)", what, got, want, tol*100)
				}
			}
			near("p50", s.p50, tt.p50, tt.tol)
			near("p99", s.p99, tt.p99, tt.tol)
			near("max", s.max, tt.max, 0)
		})
	}
}

func TestSetupStatsFields(t *testing.T) {
	s := setupStats{n: 3, p50: 0.00812, p99: 0.0456, max: math.NaN()}
	got := s.fields()
	want := [][2]string{{"setup_p50_ms", "8.12"}, {"setup_p99_ms", "45.60"}, {"setup_max_ms", "nan"}}
	if len(got) != len(want) {
		t.Fatalf("fields = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("field %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestMsField(t *testing.T) {
	tests := []struct {
		secs float64
		want string
	}{
		{0, "0.00"},
		{0.0081234, "8.12"},
		{1.5, "1500.00"},
		{math.NaN(), "nan"},
		{math.Inf(1), "nan"},
	}
	for _, tt := range tests {
		if got := msField(tt.secs); got != tt.want {
			t.Errorf("msField(%v) = %q, want %q", tt.secs, got, tt.want)
		}
	}
}
