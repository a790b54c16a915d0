package media

import (
	"math"
	"testing"

	"switchboard/internal/testaudio"
)

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// TestG711RoundTrip checks every 16-bit sample: decoding what was encoded
// lands within half a quantisation step of the input (the codec's
// quantisation error), except beyond the codec's largest level where it
// clips to that level.
func TestG711RoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		encode func(int16) byte
		decode *[256]int16
		peak   int // largest decodable magnitude
		// halfStep bounds the quantisation error for magnitude m.
		halfStep func(m int) int
	}{
		// µ-law: step 2^(e+3) in a segment whose biased values start at
		// 2^(e+7), so half a step is at most (m+132)/32.
		{"u-law", LinearToULaw, &ULawToLinear, 32124, func(m int) int { return (m+ulawBias)/32 + 1 }},
		// A-law: segments 0 and 1 step by 16 (in 16-bit units), then the
		// step doubles with each segment: at most m/32 for larger m. The
		// 13-bit truncation adds up to 8 more.
		{"A-law", LinearToALaw, &ALawToLinear, 32256, func(m int) int { return max(16, m/32) + 8 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for s := math.MinInt16; s <= math.MaxInt16; s++ {
				got := int(tt.decode[tt.encode(int16(s))])
				m := abs(s)
				if m > tt.peak {
					// Clipped: must decode to the peak level with the right sign.
					if abs(got) != tt.peak || (got < 0) != (s < 0) {
						t.Fatalf("%d -> %d, want clip to ±%d", s, got, tt.peak)
					}
					continue
				}
				if err := abs(got - s); err > tt.halfStep(m) {
					t.Fatalf("%d -> %d: error %d > %d", s, got, err, tt.halfStep(m))
				}
			}
		})
	}
}

// TestG711DecodeIsFixedPoint: every decoded level encodes back to a code of
// that same level, so repeated decode/encode (a call bridged twice) does not
// drift.
func TestG711DecodeIsFixedPoint(t *testing.T) {
	for i := range 256 {
		if v := ULawToLinear[LinearToULaw(ULawToLinear[i])]; v != ULawToLinear[i] {
			t.Fatalf("u-law code %#x: %d re-encodes to %d", i, ULawToLinear[i], v)
		}
		if v := ALawToLinear[LinearToALaw(ALawToLinear[i])]; v != ALawToLinear[i] {
			t.Fatalf("A-law code %#x: %d re-encodes to %d", i, ALawToLinear[i], v)
		}
	}
}

func TestG711KnownCodes(t *testing.T) {
	tests := []struct {
		name string
		got  byte
		want byte
	}{
		// Silence on the wire: µ-law 0xFF, A-law 0xD5 (G.711 Tables 1a/2a).
		{"u-law zero", LinearToULaw(0), 0xff},
		{"A-law zero", LinearToALaw(0), 0xd5},
		{"u-law max", LinearToULaw(math.MaxInt16), 0x80},
		{"u-law min", LinearToULaw(math.MinInt16), 0x00},
		{"A-law max", LinearToALaw(math.MaxInt16), 0xaa},
		{"A-law min", LinearToALaw(math.MinInt16), 0x2a},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %#x, want %#x", tt.name, tt.got, tt.want)
		}
	}
}

func TestTranscodeTablesAgreeWithLinear(t *testing.T) {
	for i := range 256 {
		if got, want := ULawToALaw[i], LinearToALaw(ULawToLinear[i]); got != want {
			t.Fatalf("ULawToALaw[%#x] = %#x, want %#x", i, got, want)
		}
		if got, want := ALawToULaw[i], LinearToULaw(ALawToLinear[i]); got != want {
			t.Fatalf("ALawToULaw[%#x] = %#x, want %#x", i, got, want)
		}
		// One hop through the other law must stay close to the original level.
		u := ULawToLinear[i]
		if d := abs(int(ALawToLinear[ULawToALaw[i]]) - int(u)); d > max(16, abs(int(u))/16)+8 {
			t.Fatalf("u-law %#x (%d) -> A-law %d: off by %d", i, u, ALawToLinear[ULawToALaw[i]], d)
		}
	}
}

// TestG711ToneLevel: a 1 kHz tone keeps its level through either law.
func TestG711ToneLevel(t *testing.T) {
	in := testaudio.Sine(1000, 8000, 1600, testaudio.AmplitudeForDBFS(-12), nil)
	for _, law := range []struct {
		name   string
		encode func(int16) byte
		decode *[256]int16
	}{{"u-law", LinearToULaw, &ULawToLinear}, {"A-law", LinearToALaw, &ALawToLinear}} {
		out := make([]int16, len(in))
		for i, s := range in {
			out[i] = law.decode[law.encode(s)]
		}
		if got := testaudio.ToneLevelDBFS(out, 8000, 1000); math.Abs(got+12) > 0.2 {
			t.Errorf("%s: level %.2f dBFS, want -12 ± 0.2", law.name, got)
		}
	}
}
