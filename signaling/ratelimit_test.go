package signaling

import (
	"testing"
	"time"
)

func TestRateLimiter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tests := []struct {
		name string
		// at lists message arrival offsets from t0.
		at   []time.Duration
		want []verdict
	}{
		{
			name: "burst within limit",
			at:   []time.Duration{0, 0, 0},
			want: []verdict{admit, admit, admit},
		},
		{
			name: "over the burst",
			at:   repeat(0, 5),
			want: []verdict{admit, admit, admit, rejectNotify, rejectQuiet},
		},
		{
			name: "refill after a pause",
			at:   append(repeat(0, 3), 400*time.Millisecond),
			want: []verdict{admit, admit, admit, admit},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newRateLimiter(3)
			for i, d := range tt.at {
				if got := l.take(t0.Add(d)); got != tt.want[i] {
					t.Fatalf("message %d: verdict %d, want %d", i, got, tt.want[i])
				}
			}
		})
	}
}

func TestRateLimiterFlood(t *testing.T) {
	t0 := time.Unix(1000, 0)
	l := newRateLimiter(50)
	var got []verdict
	for range 50 + 51 {
		got = append(got, l.take(t0))
	}
	for i := range 50 {
		if got[i] != admit {
			t.Fatalf("message %d within the burst: verdict %d, want admit", i, got[i])
		}
	}
	if got[50] != rejectNotify {
		t.Fatalf("first message over the limit: verdict %d, want rejectNotify", got[50])
	}
	for i := 51; i < 100; i++ {
		if got[i] != rejectQuiet {
			t.Fatalf("message %d: verdict %d, want rejectQuiet", i, got[i])
		}
	}
	if got[100] != disconnect {
		t.Fatalf("51st dropped message: verdict %d, want disconnect", got[100])
	}
}

func TestRateLimiterSteadyOverLimitIsNotDisconnected(t *testing.T) {
	// 60 messages per second against a limit of 50: about 10 a second are
	// dropped, far from the 50 that mean flooding.
	t0 := time.Unix(1000, 0)
	l := newRateLimiter(50)
	admitted, notified := 0, 0
	for i := range 600 { // ten seconds
		switch l.take(t0.Add(time.Duration(i) * time.Second / 60)) {
		case admit:
			admitted++
		case rejectNotify:
			notified++
		case disconnect:
			t.Fatalf("message %d: disconnected a client sending 60/s", i)
		}
	}
	if admitted < 500 || admitted > 560 {
		t.Fatalf("admitted %d of 600 at 60/s with a 50/s limit, want about 550", admitted)
	}
	if notified == 0 || notified > 10 {
		t.Fatalf("notified %d times in 10 s, want at most once per second", notified)
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}
