package ivr

import (
	"math"
	"testing"

	"switchboard/internal/testaudio"
)

func TestResampleKeepsToneLevel(t *testing.T) {
	for _, tc := range []struct {
		from, to int
		freq     float64
	}{
		{44100, 8000, 1000},
		{48000, 8000, 1000},
		{22050, 8000, 1000},
		{16000, 8000, 3000},
		{11025, 8000, 440},
		{8000, 16000, 1000},
		{8000, 44100, 1000},
		{44100, 7999, 1000}, // co-prime rates: interpolated phases
	} {
		in := tone(tc.freq, tc.from, 1, -6)
		out := Resample(in, tc.from, tc.to)
		if want := len(in) * tc.to / tc.from; len(out) != want {
			t.Errorf("%d->%d: %d samples, want %d", tc.from, tc.to, len(out), want)
		}
		assertTone(t, out, tc.to, tc.freq, -6, 0.5)
	}
}

func TestResampleRejectsAliases(t *testing.T) {
	// Content above the 4 kHz output Nyquist must not fold back into the
	// telephone band: 5 kHz would alias to 3 kHz, 7 kHz to 1 kHz.
	for _, tc := range []struct{ from, freq, alias float64 }{
		{44100, 5000, 3000},
		{44100, 7000, 1000},
		{16000, 4500, 3500},
		{48000, 11000, 3000},
	} {
		in := tone(tc.freq, int(tc.from), 1, -1)
		out := Resample(in, int(tc.from), 8000)
		mid := out[800 : len(out)-800]
		if rms := testaudio.RMSDBFS(mid); rms > -60 {
			t.Errorf("%v Hz from %v Hz leaks at %.1f dBFS RMS, want < -60", tc.freq, tc.from, rms)
		}
		if lvl := testaudio.ToneLevelDBFS(mid, 8000, tc.alias); lvl > -60 {
			t.Errorf("%v Hz from %v Hz aliases to %v Hz at %.1f dBFS, want < -60", tc.freq, tc.from, tc.alias, lvl)
		}
	}
}

func TestResampleEdgeCases(t *testing.T) {
	in := []int16{1, 2, 3}
	if got := Resample(in, 8000, 8000); len(got) != 3 || &got[0] == &in[0] {
		t.Errorf("equal rates: got %v, want a copy of %v", got, in)
	}
	for _, tc := range []struct {
		in       []int16
		from, to int
	}{{nil, 8000, 16000}, {in, 0, 8000}, {in, 8000, -1}} {
		if got := Resample(tc.in, tc.from, tc.to); got != nil {
			t.Errorf("Resample(%v, %d, %d) = %v, want nil", tc.in, tc.from, tc.to, got)
		}
	}
	// A full-scale step rings (Gibbs overshoot) past full scale in a
	// band-limited filter: the result must saturate, not wrap to the
	// opposite sign.
	step := make([]int16, 4410)
	for i := range step {
		step[i] = math.MinInt16
		if i >= len(step)/2 {
			step[i] = math.MaxInt16
		}
	}
	out := Resample(step, 44100, 8000)
	mid := len(out) / 2
	for i := range out {
		if i < mid-1 && out[i] > 0 || i > mid+1 && out[i] < 0 {
			t.Fatalf("sample %d = %d has the wrong sign (wrapped around?)", i, out[i])
		}
	}
}

func BenchmarkResample44k1To8k(b *testing.B) {
	in := tone(1000, 44100, 10, -6)
	b.ReportAllocs()
	for b.Loop() {
		Resample(in, 44100, 8000)
	}
}
