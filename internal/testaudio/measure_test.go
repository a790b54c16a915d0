package testaudio

import (
	"math"
	"testing"
)

func TestToneLevelDBFS(t *testing.T) {
	tests := []struct {
		name    string
		freq    float64
		level   float64 // dBFS of the generated tone
		measure float64 // frequency measured
		want    float64
		tol     float64
	}{
		{"1 kHz at -6 dBFS", 1000, -6, 1000, -6, 0.2},
		{"1 kHz at 0 dBFS", 1000, 0, 1000, 0, 0.2},
		{"440 Hz at -20 dBFS (non-integer cycles per frame)", 440, -20, 440, -20, 0.2},
		{"1 kHz tone measured at 2 kHz is far below", 1000, -6, 2000, math.Inf(-1), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Sine(tt.freq, 8000, 1234, AmplitudeForDBFS(tt.level), nil)
			got := ToneLevelDBFS(s, 8000, tt.measure)
			if math.IsInf(tt.want, -1) {
				if got > -50 {
					t.Fatalf("level at %v Hz = %.2f dBFS, want below -50", tt.measure, got)
				}
				return
			}
			if math.Abs(got-tt.want) > tt.tol {
				t.Fatalf("level = %.3f dBFS, want %.1f ± %.1f", got, tt.want, tt.tol)
			}
		})
	}
}

func TestToneLevelDBFSEmpty(t *testing.T) {
	if got := ToneLevelDBFS(nil, 8000, 1000); !math.IsInf(got, -1) {
		t.Fatalf("empty = %v, want -Inf", got)
	}
}

func TestGoertzelPower(t *testing.T) {
	// 100 whole periods of 1 kHz at amplitude 1000: power = (A·N/2)².
	const n, amp = 800, 1000.0
	s := Sine(1000, 8000, n, amp/FullScale, nil)
	want := math.Pow(amp*n/2, 2)
	got := Goertzel(s, 8000, 1000)
	if math.Abs(got-want)/want > 0.01 {
		t.Fatalf("power = %g, want %g ± 1%%", got, want)
	}
	if off := Goertzel(s, 8000, 3000); off > want*1e-4 {
		t.Fatalf("power at 3 kHz = %g, want ≈0", off)
	}
}

func TestRMSDBFS(t *testing.T) {
	tests := []struct {
		name    string
		samples []int16
		want    float64
	}{
		{"full-scale sine", Sine(1000, 8000, 8000, 1, nil), -3.01},
		{"half-scale sine", Sine(1000, 8000, 8000, 0.5, nil), -9.03},
		{"full-scale square", []int16{32767, -32767, 32767, -32767}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RMSDBFS(tt.samples); math.Abs(got-tt.want) > 0.05 {
				t.Fatalf("RMS = %.3f dBFS, want %.2f", got, tt.want)
			}
		})
	}
	if got := RMSDBFS(make([]int16, 10)); !math.IsInf(got, -1) {
		t.Fatalf("silence = %v, want -Inf", got)
	}
}

func TestDominantFrequency(t *testing.T) {
	tests := []struct {
		name string
		freq float64
		step float64
	}{
		{"440 Hz", 440, 5},
		{"1 kHz", 1000, 10},
		{"3.1 kHz", 3100, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A quieter second tone must not win.
			s := Sine(tt.freq, 8000, 1600, 0.5, nil)
			other := Sine(2500, 8000, 1600, 0.1, nil)
			for i := range s {
				s[i] += other[i]
			}
			got := DominantFrequency(s, 8000, 100, 3800, tt.step)
			if math.Abs(got-tt.freq) > tt.step {
				t.Fatalf("dominant = %v Hz, want %v ± %v", got, tt.freq, tt.step)
			}
		})
	}
	if got := DominantFrequency(nil, 8000, 100, 50, 10); !math.IsNaN(got) {
		t.Fatalf("empty range = %v, want NaN", got)
	}
}
