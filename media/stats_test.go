package media

import (
	"sync"
	"testing"
	"time"
)

func TestBucketBoundsContainSamples(t *testing.T) {
	samples := []time.Duration{
		0, 999, time.Microsecond, 1249, 1250, 1999, 2 * time.Microsecond,
		17 * time.Microsecond, 100 * time.Microsecond, 999 * time.Microsecond,
		time.Millisecond, 20 * time.Millisecond, 100 * time.Millisecond, histMax - 1,
	}
	for _, d := range samples {
		i := bucketIndex(int64(d))
		if i >= histFinite {
			t.Fatalf("%v landed in overflow", d)
		}
		if d < bucketLower(i) || d >= bucketUpper(i) {
			t.Fatalf("%v in bucket %d = [%v, %v)", d, i, bucketLower(i), bucketUpper(i))
		}
	}
	if i := bucketIndex(int64(histMax)); i != histFinite {
		t.Fatalf("%v in bucket %d, want overflow %d", histMax, i, histFinite)
	}
	if histMax < 100*time.Millisecond {
		t.Fatalf("histogram tops out at %v, want >= 100ms", histMax)
	}
	// Buckets tile the range without gaps.
	for i := 1; i < histFinite; i++ {
		if bucketLower(i) != bucketUpper(i-1) {
			t.Fatalf("gap between bucket %d and %d", i-1, i)
		}
	}
}

func TestLatencyQuantile(t *testing.T) {
	var s Stats
	if got := s.LatencyQuantile(0.99); got != 0 {
		t.Fatalf("empty p99 = %v, want 0", got)
	}
	// 90 fast samples, 9 medium, 1 slow.
	for range 90 {
		s.observe(10 * time.Microsecond)
	}
	for range 9 {
		s.observe(200 * time.Microsecond)
	}
	s.observe(5 * time.Millisecond)

	tests := []struct {
		q      float64
		lo, hi time.Duration
	}{
		{0.5, 8 * time.Microsecond, 12 * time.Microsecond},
		{0.9, 8 * time.Microsecond, 12 * time.Microsecond},
		{0.95, 160 * time.Microsecond, 256 * time.Microsecond},
		{0.999, 4 * time.Millisecond, 6 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := s.LatencyQuantile(tt.q); got < tt.lo || got > tt.hi {
			t.Errorf("q%v = %v, want in [%v, %v]", tt.q, got, tt.lo, tt.hi)
		}
	}
	s.observe(time.Second)
	if got := s.LatencyQuantile(1); got != histMax {
		t.Fatalf("q1 with an overflow sample = %v, want %v", got, histMax)
	}
}

func TestLatencyBucketsCumulative(t *testing.T) {
	var s Stats
	s.observe(500 * time.Nanosecond)
	s.observe(50 * time.Microsecond)
	s.observe(50 * time.Microsecond)
	s.observe(time.Second) // overflow: only in count
	bounds, counts, sum, count := s.LatencyBuckets()
	if len(bounds) != len(counts) || len(bounds) != histFinite {
		t.Fatalf("len bounds %d counts %d", len(bounds), len(counts))
	}
	if count != 4 {
		t.Fatalf("count = %d, want 4", count)
	}
	if want := (time.Second + 100*time.Microsecond + 500).Seconds(); sum < want-1e-9 || sum > want+1e-9 {
		t.Fatalf("sum = %v, want %v", sum, want)
	}
	if bounds[0] != 1e-6 || counts[0] != 1 {
		t.Fatalf("first bucket le=%v count=%d, want le=1e-6 count=1", bounds[0], counts[0])
	}
	for i := 1; i < len(bounds); i++ {
		if bounds[i] <= bounds[i-1] || counts[i] < counts[i-1] {
			t.Fatalf("bucket %d not increasing", i)
		}
	}
	if last := counts[len(counts)-1]; last != 3 {
		t.Fatalf("last finite cumulative = %d, want 3", last)
	}
}

func TestStatsCountersConcurrent(t *testing.T) {
	var s Stats
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				s.recordRelay(172, 20*time.Microsecond)
				s.recordDrop()
			}
		})
	}
	wg.Wait()
	if s.Relayed() != 4000 || s.Dropped() != 4000 || s.Bytes() != 4000*172 {
		t.Fatalf("relayed %d dropped %d bytes %d", s.Relayed(), s.Dropped(), s.Bytes())
	}
	if _, _, _, n := s.LatencyBuckets(); n != 4000 {
		t.Fatalf("histogram count %d, want 4000", n)
	}
}
