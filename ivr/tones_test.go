package ivr

import (
	"math"
	"testing"

	"switchboard/internal/testaudio"
)

func TestBeep(t *testing.T) {
	b := Beep()
	if len(b) != 3200 {
		t.Fatalf("beep is %d samples, want 3200 (400 ms)", len(b))
	}
	if lvl := testaudio.ToneLevelDBFS(b, 8000, BeepFrequency); math.Abs(lvl-beepLevel) > 0.5 {
		t.Fatalf("beep level %.1f dBFS, want %d", lvl, beepLevel)
	}
	if f := testaudio.DominantFrequency(b, 8000, 300, 3400, 10); f != BeepFrequency {
		t.Fatalf("beep at %v Hz", f)
	}
}

func TestRingbackCadences(t *testing.T) {
	for _, tc := range []struct {
		region   string
		seconds  float64
		on       []int // sample ranges that sound
		freqs    []float64
		silentAt int
	}{
		{"US", 6, []int{0, 16000}, []float64{440, 480}, 20000},
		{"GB", 3, []int{0, 3200}, []float64{400, 450}, 4000},
		{"PL", 5, []int{0, 8000}, []float64{425}, 12000},
	} {
		t.Run(tc.region, func(t *testing.T) {
			r := Ringback(tc.region)
			if got := float64(len(r)) / 8000; got != tc.seconds {
				t.Fatalf("cadence %.1f s, want %.1f", got, tc.seconds)
			}
			on := r[tc.on[0]:tc.on[1]]
			for _, f := range tc.freqs {
				if lvl := testaudio.ToneLevelDBFS(on, 8000, f); math.Abs(lvl-toneLevel) > 1 {
					t.Errorf("%v Hz at %.1f dBFS, want %d", f, lvl, toneLevel)
				}
			}
			if r[tc.silentAt] != 0 {
				t.Errorf("sample %d should be in the silent part", tc.silentAt)
			}
		})
	}
}
