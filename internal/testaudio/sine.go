package testaudio

import "math"

// FullScale is the largest positive 16-bit sample; a sine with this
// amplitude is 0 dBFS.
const FullScale = 32767.0

// Sine returns n samples of a sine at freq Hz sampled at sampleRate Hz.
// amplitude is a fraction of full scale (1.0 = 0 dBFS, 0.5 ≈ -6 dBFS);
// samples beyond full scale are clipped. phase (radians) is where the wave
// starts and is advanced to where it ends, so consecutive calls with the same
// phase pointer produce one continuous tone (20 ms frames without clicks).
// A nil phase starts at 0.
func Sine(freq, sampleRate float64, n int, amplitude float64, phase *float64) []int16 {
	var ph float64
	if phase != nil {
		ph = *phase
	}
	step := 2 * math.Pi * freq / sampleRate
	out := make([]int16, n)
	for i := range out {
		v := math.Round(amplitude * FullScale * math.Sin(ph))
		out[i] = int16(max(-FullScale-1, min(FullScale, v)))
		ph = math.Mod(ph+step, 2*math.Pi)
	}
	if phase != nil {
		*phase = ph
	}
	return out
}

// AmplitudeForDBFS converts a level in dBFS to the amplitude fraction that
// Sine takes: AmplitudeForDBFS(-6) ≈ 0.501.
func AmplitudeForDBFS(dbfs float64) float64 {
	return math.Pow(10, dbfs/20)
}
