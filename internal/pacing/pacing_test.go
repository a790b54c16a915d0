package pacing

import (
	"net"
	"testing"
	"time"
)

func TestMeasure(t *testing.T) {
	base := time.Unix(1000, 0)
	at := make([]time.Time, 101)
	for i := range at {
		at[i] = base.Add(time.Duration(i) * 20 * time.Millisecond)
	}
	at[50] = at[50].Add(3 * time.Millisecond) // one late packet: two intervals off by 3 ms
	s := Measure(at, 20*time.Millisecond)
	if s.Packets != 101 || s.MaxDeviation != 3*time.Millisecond || s.MinInterval != 17*time.Millisecond {
		t.Fatalf("stats = %+v", s)
	}
	// 2 of 100 intervals deviate: the 99th percentile is one of them.
	if s.P99Deviation != 3*time.Millisecond {
		t.Fatalf("p99 = %v, want 3ms", s.P99Deviation)
	}
	if s.Mean != 20*time.Millisecond {
		t.Fatalf("mean = %v", s.Mean)
	}
	// A late packet is not early: the schedule holds.
	if s.P95Deviation != 0 || s.MaxEarly != 0 {
		t.Fatalf("p95 %v, ahead of schedule %v; want 0 and 0", s.P95Deviation, s.MaxEarly)
	}
}

// TestMeasureEarly: a stall that is made up at once keeps the schedule; a
// burst and a fast clock run ahead of it.
func TestMeasureEarly(t *testing.T) {
	const nominal = 20 * time.Millisecond
	train := func(step func(i int) time.Duration) []time.Time {
		at := make([]time.Time, 101)
		for i := range at {
			at[i] = time.Unix(1000, 0).Add(step(i))
		}
		return at
	}
	tests := []struct {
		name  string
		at    []time.Time
		early time.Duration
	}{
		{"stall of 15 ms, then on time", train(func(i int) time.Duration {
			d := time.Duration(i) * nominal
			if i == 40 {
				d += 15 * time.Millisecond
			}
			return d
		}), 0},
		{"two packets at once, ahead of time", train(func(i int) time.Duration {
			if i == 60 {
				return 59 * nominal
			}
			return time.Duration(i) * nominal
		}), nominal},
		{"a clock 1% fast", train(func(i int) time.Duration { return time.Duration(i) * nominal * 99 / 100 }), 10 * time.Millisecond},
	}
	for _, tc := range tests {
		s := Measure(tc.at, nominal)
		if s.MaxEarly != tc.early {
			t.Errorf("%s: ahead of schedule by %v, want %v", tc.name, s.MaxEarly, tc.early)
		}
	}
}

func TestReceiverKernelTimestamps(t *testing.T) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := Enable(c)
	if err != nil {
		t.Fatal(err)
	}
	s, err := net.DialUDP("udp4", nil, c.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := time.Now()
	if _, err := s.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	a, err := r.Read(time.Now().Add(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if string(a.Data) != "hello" {
		t.Fatalf("data %q", a.Data)
	}
	if a.At.Before(before.Add(-time.Second)) || a.At.After(time.Now().Add(time.Second)) {
		t.Fatalf("kernel timestamp %v not near now %v", a.At, before)
	}
}
