package testaudio

import (
	"math"
	"testing"
)

func TestSinePeakAndAmplitude(t *testing.T) {
	tests := []struct {
		name      string
		amplitude float64
		wantPeak  int16
	}{
		{"full scale", 1, 32767},
		{"half", 0.5, 16384},
		{"clipped", 2, 32767},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// 1 kHz at 8 kHz: the sample at phase π/2 lands exactly on the crest.
			s := Sine(1000, 8000, 8000, tt.amplitude, nil)
			var peak int16
			for _, v := range s {
				peak = max(peak, v)
			}
			if peak != tt.wantPeak {
				t.Fatalf("peak = %d, want %d", peak, tt.wantPeak)
			}
		})
	}
}

func TestSineContinuousPhase(t *testing.T) {
	var phase float64
	a := Sine(440, 8000, 160, 0.5, &phase)
	b := Sine(440, 8000, 160, 0.5, &phase)
	whole := Sine(440, 8000, 320, 0.5, nil)
	got := append(a, b...)
	for i := range whole {
		if d := int(got[i]) - int(whole[i]); d < -1 || d > 1 {
			t.Fatalf("sample %d: framed %d, continuous %d", i, got[i], whole[i])
		}
	}
	if phase == 0 {
		t.Fatal("phase was not advanced")
	}
}

func TestAmplitudeForDBFS(t *testing.T) {
	if got := AmplitudeForDBFS(0); got != 1 {
		t.Fatalf("0 dBFS = %v, want 1", got)
	}
	if got := AmplitudeForDBFS(-6); math.Abs(got-0.501) > 0.001 {
		t.Fatalf("-6 dBFS = %v, want ≈0.501", got)
	}
}
