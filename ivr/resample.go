package ivr

import "math"

// Resampler design. A windowed-sinc low-pass is evaluated at the exact
// fractional input position of every output sample (band-limited
// interpolation). The cut-off sits just below the lower of the two Nyquist
// frequencies so that, when decimating 44.1 kHz to 8 kHz, everything above
// 4 kHz is removed before it can alias back into the telephone band, while
// speech up to ~3.3 kHz passes flat.
const (
	// resampleZeroCrossings is the kernel half-width in zero crossings of the
	// sinc: more crossings give a narrower transition band at more cost.
	resampleZeroCrossings = 32
	// resamplePassband places the cut-off as a fraction of the output (or
	// input, when upsampling) Nyquist frequency; with the Kaiser window below
	// the transition band is roughly 0.83..1.0 of Nyquist, so the stop band
	// starts before Nyquist and nothing above it aliases back.
	resamplePassband = 0.91
	// resampleKaiserBeta gives about 85 dB of stop-band attenuation.
	resampleKaiserBeta = 8.6
	// resampleMaxPhases bounds the coefficient table. When the reduced
	// output rate (to/gcd) fits, every output position falls exactly on a
	// table phase; otherwise neighbouring phases are interpolated linearly.
	resampleMaxPhases = 1024
)

// Resample converts in from sample rate from to sample rate to (both in Hz)
// with a Kaiser-windowed sinc low-pass filter, so a tone inside the pass band
// keeps its level (within a few hundredths of a dB) and content above the
// output Nyquist frequency is attenuated by roughly 80 dB instead of
// aliasing. Samples before the start and after the end count as silence.
// The output has len(in)*to/from samples (rounded down). Equal rates return
// a copy; a non-positive rate or empty input returns nil.
func Resample(in []int16, from, to int) []int16 {
	if from <= 0 || to <= 0 || len(in) == 0 {
		return nil
	}
	if from == to {
		return append([]int16(nil), in...)
	}
	ratio := float64(to) / float64(from)
	// Cut-off in cycles per input sample.
	cutoff := 0.5 * resamplePassband * min(1, ratio)
	half := int(math.Ceil(resampleZeroCrossings / (2 * cutoff)))
	taps := 2 * half

	phases := to / gcd(from, to)
	exact := phases <= resampleMaxPhases
	if !exact {
		phases = resampleMaxPhases
	}
	table := kernelTable(phases, taps, half, cutoff)

	outLen := int(int64(len(in)) * int64(to) / int64(from))
	out := make([]int16, outLen)
	for n := range out {
		// Output n sits at input position n*from/to; integer arithmetic
		// keeps long files free of accumulated drift.
		num := int64(n) * int64(from)
		base := int(num / int64(to))
		frac := num % int64(to)
		pNum := frac * int64(phases)
		p := int(pNum / int64(to))
		first := base - half + 1
		v := dot(in, first, table[p*taps:(p+1)*taps])
		if rem := pNum % int64(to); rem != 0 {
			a := float64(rem) / float64(to)
			v2 := dot(in, first, table[(p+1)*taps:(p+2)*taps])
			v += a * (v2 - v)
		}
		out[n] = clip16(v)
	}
	return out
}

// kernelTable returns phases+1 rows of taps coefficients. Row p holds the
// filter for an output lying p/phases of a sample after input sample base,
// applied to inputs base-half+1 .. base+half. Each row is normalised to unit
// sum so DC (and with it the pass band) has exactly unity gain at every
// phase. The extra last row (a whole sample later) lets the interpolating
// path read row p+1 without a bounds special case.
func kernelTable(phases, taps, half int, cutoff float64) []float64 {
	table := make([]float64, (phases+1)*taps)
	i0Beta := besselI0(resampleKaiserBeta)
	for p := 0; p <= phases; p++ {
		row := table[p*taps : (p+1)*taps]
		frac := float64(p) / float64(phases)
		var sum float64
		for j := range row {
			// Distance from the output position to input tap j.
			d := frac + float64(half-1-j)
			x := d / float64(half)
			if x <= -1 || x >= 1 {
				continue
			}
			w := besselI0(resampleKaiserBeta*math.Sqrt(1-x*x)) / i0Beta
			row[j] = 2 * cutoff * sinc(2*cutoff*d) * w
			sum += row[j]
		}
		if sum != 0 {
			for j := range row {
				row[j] /= sum
			}
		}
	}
	return table
}

// dot applies coeffs to in[first:first+len(coeffs)], treating indices
// outside in as silence.
func dot(in []int16, first int, coeffs []float64) float64 {
	lo, hi := 0, len(coeffs)
	if first < 0 {
		lo = -first
	}
	if first+hi > len(in) {
		hi = len(in) - first
	}
	var acc float64
	for j := lo; j < hi; j++ {
		acc += float64(in[first+j]) * coeffs[j]
	}
	return acc
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	px := math.Pi * x
	return math.Sin(px) / px
}

// besselI0 is the zeroth-order modified Bessel function of the first kind,
// by its power series (converges quickly for the arguments a Kaiser window
// uses).
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	q := x * x / 4
	for k := 1; k < 64; k++ {
		term *= q / float64(k*k)
		sum += term
		if term < sum*1e-17 {
			break
		}
	}
	return sum
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// clip16 rounds v to the nearest sample value, saturating at full scale
// (filter overshoot on full-scale square-ish input must not wrap around).
func clip16(v float64) int16 {
	v = math.Round(v)
	if v > math.MaxInt16 {
		return math.MaxInt16
	}
	if v < math.MinInt16 {
		return math.MinInt16
	}
	return int16(v)
}
