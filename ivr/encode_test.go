package ivr

import (
	"testing"

	"switchboard/media"
)

func TestEncodeFrames(t *testing.T) {
	in := tone(1000, 8000, 1.01, -6) // 8080 samples: 50 full frames + 80
	for _, tc := range []struct {
		pt      uint8
		decode  *[256]int16
		silence byte
	}{
		{media.PayloadPCMU, &media.ULawToLinear, media.LinearToULaw(0)},
		{media.PayloadPCMA, &media.ALawToLinear, media.LinearToALaw(0)},
	} {
		frames := EncodeFrames(in, tc.pt)
		if len(frames) != 51 {
			t.Fatalf("pt %d: %d frames, want 51", tc.pt, len(frames))
		}
		var decoded []int16
		for i, f := range frames {
			if len(f) != FrameSamples {
				t.Fatalf("pt %d frame %d: %d bytes, want %d", tc.pt, i, len(f), FrameSamples)
			}
			for _, b := range f {
				decoded = append(decoded, tc.decode[b])
			}
		}
		for i, b := range frames[50][80:] {
			if b != tc.silence {
				t.Fatalf("pt %d: padding byte %d = %#x, want silence %#x", tc.pt, i, b, tc.silence)
			}
		}
		// G.711 quantisation keeps a -6 dBFS tone within a few tenths of a dB.
		assertTone(t, decoded[:len(in)], 8000, 1000, -6, 0.5)
	}
}

func TestEncodeFramesEdgeCases(t *testing.T) {
	if got := EncodeFrames(make([]int16, 160), 18); got != nil {
		t.Errorf("G.729 payload type: got %d frames, want nil", len(got))
	}
	if got := EncodeFrames(nil, media.PayloadPCMU); got != nil {
		t.Errorf("no samples: got %d frames, want nil", len(got))
	}
	if got := EncodeFrames(make([]int16, 320), media.PayloadPCMU); len(got) != 2 {
		t.Errorf("exactly two frames of samples: got %d frames", len(got))
	}
}
