package main

import (
	"math"
	"testing"

	"switchboard/media"
)

// rmsDBFS is a decoded frame's RMS level relative to full scale, the way
// the gateway's voicemail recorder measures speech.
func rmsDBFS(frame []byte, decode *[256]int16) float64 {
	var sum float64
	for _, b := range frame {
		s := float64(decode[b])
		sum += s * s
	}
	return 20 * math.Log10(math.Sqrt(sum/float64(len(frame)))/32768+1e-12)
}

func TestToneFrame(t *testing.T) {
	for _, tt := range []struct {
		name   string
		pt     uint8
		decode *[256]int16
	}{{"PCMU", ptPCMU, &media.ULawToLinear}, {"PCMA", ptPCMA, &media.ALawToLinear}} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := toneFrame(tt.pt, toneHz, toneDBFS)
			if err != nil {
				t.Fatal(err)
			}
			if len(f) != frameSamples {
				t.Fatalf("frame of %d bytes, want %d", len(f), frameSamples)
			}
			// A sine peaking at -20 dBFS has an RMS of -23 dBFS: far above
			// the gateway's -45 dBFS speech threshold.
			if got := rmsDBFS(f, tt.decode); math.Abs(got-(toneDBFS-3.01)) > 0.3 {
				t.Errorf("level %.2f dBFS, want %.2f ± 0.3", got, toneDBFS-3.01)
			}
			// Eight whole periods: the frame starts and ends at phase 0,
			// so back-to-back frames are one continuous tone.
			period := 8000 / toneHz
			for i := 0; i+period < len(f); i++ {
				if f[i] != f[i+period] {
					t.Fatalf("sample %d differs from sample %d one period later", i, i+period)
				}
			}
			if s := tt.decode[f[0]]; s < -8 || s > 8 {
				t.Errorf("first sample %d, want about 0 (phase 0)", s)
			}
		})
	}
	for _, bad := range []struct {
		pt   uint8
		hz   int
		dbfs float64
	}{
		{ptPCMU, 440, -20},  // does not repeat every 20 ms
		{ptPCMU, 0, -20},    // no tone
		{ptPCMU, 4000, -20}, // Nyquist
		{ptPCMU, 400, 3},    // above full scale
		{ptPCMU, 400, math.NaN()},
		{18, 400, -20}, // G.729
	} {
		if _, err := toneFrame(bad.pt, bad.hz, bad.dbfs); err == nil {
			t.Errorf("toneFrame(%d, %d, %v): no error", bad.pt, bad.hz, bad.dbfs)
		}
	}
}
