package main

import (
	"math"
	"testing"
	"time"
)

func TestHistIndexBounds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int
	}{
		{0, 0},
		{999 * time.Nanosecond, 0},
		{time.Microsecond, 1},       // [1, 1.25) µs
		{1250 * time.Nanosecond, 2}, // [1.25, 1.5) µs
		{2 * time.Microsecond, 5},   // second octave starts
		{3999 * time.Nanosecond, 8}, // last sub-bucket of [2, 4) µs
		{time.Duration(1<<24) * time.Microsecond, histFinite}, // overflow
		{time.Hour, histFinite},
	}
	for _, tt := range tests {
		if got := histIndex(int64(tt.d)); got != tt.want {
			t.Errorf("histIndex(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
	// Every finite bucket's bounds contain the durations mapped to it.
	for i := 1; i < histFinite; i++ {
		lo, hi := histUpper(i-1), histUpper(i)
		if got := histIndex(int64(lo)); got != i {
			t.Fatalf("lower bound %v of bucket %d maps to %d", lo, i, got)
		}
		if got := histIndex(int64(hi - 1)); got != i {
			t.Fatalf("%v (just under bucket %d's upper bound) maps to %d", hi-1, i, got)
		}
	}
}

func TestBucketsQuantile(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		name string
		b    buckets
		q    float64
		want float64
	}{
		// 10 samples in (0, 1], 10 in (1, 2]: the median is the top of the
		// first bucket, p75 half-way through the second.
		{"median at bucket edge", buckets{[]float64{1, 2, inf}, []float64{10, 20, 20}}, 0.5, 1},
		{"interpolated", buckets{[]float64{1, 2, inf}, []float64{10, 20, 20}}, 0.75, 1.5},
		{"skips empty buckets", buckets{[]float64{1, 2, 4, inf}, []float64{0, 0, 8, 8}}, 0.5, 3},
		{"rank in +Inf", buckets{[]float64{1, 2, inf}, []float64{1, 1, 10}}, 0.99, 2},
		{"max", buckets{[]float64{1, 2, inf}, []float64{4, 8, 8}}, 1, 2},
	}
	for _, tt := range tests {
		if got := tt.b.quantile(tt.q); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s: quantile(%v) = %v, want %v", tt.name, tt.q, got, tt.want)
		}
	}
	if got := (buckets{[]float64{1, inf}, []float64{0, 0}}).quantile(0.5); !math.IsNaN(got) {
		t.Errorf("empty histogram: quantile = %v, want NaN", got)
	}
}

func TestBucketsSub(t *testing.T) {
	inf := math.Inf(1)
	before := buckets{[]float64{1, 2, inf}, []float64{5, 6, 6}}
	after := buckets{[]float64{1, 2, inf}, []float64{5, 16, 17}}
	d := after.sub(before)
	want := []float64{0, 10, 11}
	for i := range want {
		if d.cum[i] != want[i] {
			t.Fatalf("sub = %v, want %v", d.cum, want)
		}
	}
	if d.count() != 11 {
		t.Errorf("count = %v, want 11", d.count())
	}
	// A window's quantile only sees the window's samples.
	if got := d.quantile(0.5); got < 1 || got > 2 {
		t.Errorf("window median = %v, want within (1, 2]", got)
	}
	if got := after.sub(buckets{}); got.count() != 17 {
		t.Errorf("sub of a mismatched snapshot: count %v, want the later one's 17", got.count())
	}
}

func TestHistogramCumulative(t *testing.T) {
	var h histogram
	for range 99 {
		h.observe(10 * time.Microsecond)
	}
	h.observe(30 * time.Second) // overflow
	b := h.cumulative()
	if b.count() != 100 {
		t.Fatalf("count = %v, want 100", b.count())
	}
	if !math.IsInf(b.le[len(b.le)-1], 1) {
		t.Fatalf("last bound = %v, want +Inf", b.le[len(b.le)-1])
	}
	p50 := b.quantile(0.5)
	if p50 < 10e-6 || p50 > 12e-6 {
		t.Errorf("p50 = %v s, want within 10 µs's bucket [10, 12) µs", p50)
	}
	if p100 := b.quantile(1); p100 < 8 {
		t.Errorf("max = %v s, want at least the last finite bound (~16.8 s)", p100)
	}
}
