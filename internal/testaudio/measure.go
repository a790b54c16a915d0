package testaudio

import "math"

// Goertzel returns the power of the freq component of samples: the squared
// magnitude of the discrete-time Fourier transform at freq, computed with the
// Goertzel recurrence (no window). freq need not fall on a DFT bin. For a
// sine of amplitude A (in sample units) lasting a whole number of periods the
// result is (A·N/2)², N = len(samples).
func Goertzel(samples []int16, sampleRate, freq float64) float64 {
	return goertzel(samples, nil, sampleRate, freq)
}

// goertzel runs the recurrence over samples multiplied by window (nil = no
// window) and returns |X(freq)|².
func goertzel(samples []int16, window []float64, sampleRate, freq float64) float64 {
	w := 2 * math.Pi * freq / sampleRate
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	for i, v := range samples {
		x := float64(v)
		if window != nil {
			x *= window[i]
		}
		s0 := x + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	// |X|² for a non-integer bin: the standard real-valued closing step.
	re := s1 - s2*math.Cos(w)
	im := s2 * math.Sin(w)
	return re*re + im*im
}

// hann returns a Hann window of length n and the sum of its coefficients
// (its coherent gain times n), used to turn a windowed magnitude back into an
// amplitude.
func hann(n int) ([]float64, float64) {
	w := make([]float64, n)
	var sum float64
	if n == 1 {
		w[0] = 1
		return w, 1
	}
	for i := range w {
		w[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n-1))
		sum += w[i]
	}
	return w, sum
}

// ToneLevelDBFS returns the level of the freq component of samples in dBFS
// (a full-scale sine at freq reads 0 dBFS, half amplitude reads -6.02). A
// Hann window keeps other tones and quantisation noise from leaking into the
// measurement; the result is corrected for the window's gain. Empty input or
// no energy at freq returns -Inf.
func ToneLevelDBFS(samples []int16, sampleRate, freq float64) float64 {
	if len(samples) == 0 {
		return math.Inf(-1)
	}
	win, sum := hann(len(samples))
	mag := math.Sqrt(goertzel(samples, win, sampleRate, freq))
	// A sine of amplitude A gives |X| = A·Σw/2 at its own frequency.
	amp := 2 * mag / sum
	return 20 * math.Log10(amp/FullScale)
}

// RMSDBFS returns the RMS level of samples in dBFS relative to a full-scale
// square wave (AES17 is not applied, so a full-scale sine reads -3.01 dBFS).
// Empty or all-zero input returns -Inf.
func RMSDBFS(samples []int16) float64 {
	if len(samples) == 0 {
		return math.Inf(-1)
	}
	var sq float64
	for _, v := range samples {
		sq += float64(v) * float64(v)
	}
	rms := math.Sqrt(sq / float64(len(samples)))
	return 20 * math.Log10(rms/FullScale)
}

// DominantFrequency scans lo..hi Hz in step Hz increments with a
// Hann-windowed Goertzel filter and returns the frequency with the most
// power. It returns lo when samples are empty or silent, and NaN when the
// scan range is empty or step is not positive.
func DominantFrequency(samples []int16, sampleRate float64, lo, hi, step float64) float64 {
	if step <= 0 || hi < lo {
		return math.NaN()
	}
	win, _ := hann(len(samples))
	best, bestPower := lo, -1.0
	for i := 0; ; i++ {
		f := lo + float64(i)*step // multiply, not accumulate: no drift over long scans
		if f > hi {
			break
		}
		if p := goertzel(samples, win, sampleRate, f); p > bestPower {
			best, bestPower = f, p
		}
	}
	return best
}
