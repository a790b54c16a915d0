package ivr

import (
	"math"
	"strings"

	"switchboard/media"
)

// Tone names a generated prompt (Source.Tone).
const (
	// ToneBeep is the voicemail record tone: 1 kHz for 400 ms.
	ToneBeep = "beep"
	// ToneRingback is one cadence of the ringback tone of the gateway's
	// default region (Ringback), looped while the caller waits.
	ToneRingback = "ringback"
)

// BeepFrequency is the voicemail beep's frequency in Hz.
const BeepFrequency = 1000

// beepLevel is the beep's level: -12 dBFS, clearly audible without clipping
// a G.711 codec's range.
const beepLevel = -12

// toneLevel is the per-frequency level of ringback tones: ITU-T E.180 puts
// ringing tone around -19 dBm0 (about -22 dBFS for G.711); two summed
// frequencies stay under -16 dBFS together.
const toneLevel = -22

// segment is one part of a tone cadence: frequencies (none = silence) for ms.
type segment struct {
	freqs []float64
	ms    int
}

// Beep returns the voicemail record tone as 8 kHz samples.
func Beep() []int16 {
	return synth([]segment{{[]float64{BeepFrequency}, 400}}, beepLevel)
}

// Ringback returns one cadence of the ringback tone callers expect in
// region (ISO 3166-1 alpha-2), from ITU-T E.180 Supplement 2:
// North America 440+480 Hz 2 s on 4 s off; the UK 400+450 Hz twice 0.4 s
// with 0.2 s between, then 2 s off; elsewhere the common European 425 Hz
// 1 s on 4 s off.
func Ringback(region string) []int16 {
	var cadence []segment
	switch strings.ToUpper(region) {
	case "US", "CA", "PR", "GU", "VI", "AS", "MP", "BS", "BB", "JM", "TT", "DO":
		cadence = []segment{{[]float64{440, 480}, 2000}, {nil, 4000}}
	case "GB", "IE":
		cadence = []segment{{[]float64{400, 450}, 400}, {nil, 200}, {[]float64{400, 450}, 400}, {nil, 2000}}
	default:
		cadence = []segment{{[]float64{425}, 1000}, {nil, 4000}}
	}
	return synth(cadence, toneLevel)
}

// synth renders a cadence with each frequency at level dBFS, with 5 ms
// raised-cosine ramps at tone edges so the switches do not click.
func synth(cadence []segment, level float64) []int16 {
	amp := 32767 * math.Pow(10, level/20)
	const ramp = media.ClockRate * 5 / 1000
	var out []int16
	for _, seg := range cadence {
		n := media.ClockRate * seg.ms / 1000
		for i := range n {
			if len(seg.freqs) == 0 {
				out = append(out, 0)
				continue
			}
			t := float64(i) / media.ClockRate
			var v float64
			for _, f := range seg.freqs {
				v += math.Sin(2 * math.Pi * f * t)
			}
			g := 1.0
			if edge := min(i, n-1-i); edge < ramp {
				g = 0.5 - 0.5*math.Cos(math.Pi*float64(edge)/ramp)
			}
			out = append(out, int16(math.Round(v*amp*g)))
		}
	}
	return out
}
