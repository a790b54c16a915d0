package main

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Latency histogram layout, the same log-linear shape the gateway exports:
// bucket 0 holds everything below 1 µs; above that each power-of-two octave
// [2^k µs, 2^(k+1) µs) is split into histSub equal buckets, up to 2^24 µs
// (about 16.8 s). Slower samples land in the overflow bucket. Relative
// bucket width is at most 25 %, enough to tell 20 µs from 900 µs.
const (
	histSub     = 4
	histSubBits = 2
	histOctaves = 24
	histFinite  = 1 + histOctaves*histSub
	histUnit    = int64(time.Microsecond) / histSub
)

// histogram counts durations without locks, so the RTP readers can record
// into one shared histogram.
type histogram struct {
	counts [histFinite + 1]atomic.Uint64
}

// observe records one sample.
func (h *histogram) observe(d time.Duration) {
	h.counts[histIndex(int64(d))].Add(1)
}

// histIndex maps a duration in nanoseconds to its bucket.
func histIndex(ns int64) int {
	if ns < int64(time.Microsecond) {
		return 0
	}
	q := uint64(ns / histUnit) // >= histSub
	k := bits.Len64(q) - 1 - histSubBits
	if k >= histOctaves {
		return histFinite
	}
	return 1 + k*histSub + int(q>>k) - histSub
}

// histUpper is the exclusive upper bound of finite bucket i.
func histUpper(i int) time.Duration {
	if i == 0 {
		return time.Microsecond
	}
	k, sub := (i-1)/histSub, (i-1)%histSub
	return time.Duration(int64(histSub+sub+1) << k * histUnit)
}

// cumulative returns the histogram as Prometheus-style buckets: upper
// bounds in seconds (the last one +Inf) with cumulative counts.
func (h *histogram) cumulative() buckets {
	b := buckets{le: make([]float64, histFinite+1), cum: make([]float64, histFinite+1)}
	var c uint64
	for i := range histFinite + 1 {
		c += h.counts[i].Load()
		b.cum[i] = float64(c)
		if i < histFinite {
			b.le[i] = histUpper(i).Seconds()
		} else {
			b.le[i] = math.Inf(1)
		}
	}
	return b
}

// buckets is a cumulative histogram: cum[i] samples were <= le[i]. The
// bounds ascend and the last one is +Inf, as in the Prometheus text format.
type buckets struct {
	le  []float64
	cum []float64
}

// count is the number of samples.
func (b buckets) count() float64 {
	if len(b.cum) == 0 {
		return 0
	}
	return b.cum[len(b.cum)-1]
}

// sub returns the samples recorded between an earlier snapshot prev and b,
// which share bounds. A mismatched prev (a restarted process) yields b.
func (b buckets) sub(prev buckets) buckets {
	if len(prev.le) != len(b.le) {
		return b
	}
	d := buckets{le: b.le, cum: make([]float64, len(b.cum))}
	for i := range b.cum {
		d.cum[i] = b.cum[i] - prev.cum[i]
	}
	return d
}

// quantile estimates the q-quantile (0 < q <= 1) in seconds by linear
// interpolation inside the bucket that holds the rank, which is what
// Prometheus' histogram_quantile does. It returns NaN without samples, and
// the last finite bound when the rank falls in the +Inf bucket (the true
// value is then "at least" that).
func (b buckets) quantile(q float64) float64 {
	total := b.count()
	if total <= 0 {
		return math.NaN()
	}
	rank := math.Min(math.Max(q, 0), 1) * total
	lower, prevCum := 0.0, 0.0
	for i, le := range b.le {
		c := b.cum[i]
		if c >= rank && c > prevCum {
			if math.IsInf(le, 1) {
				return lower
			}
			return lower + (le-lower)*(rank-prevCum)/(c-prevCum)
		}
		if !math.IsInf(le, 1) {
			lower = le
		}
		prevCum = c
	}
	return lower
}
