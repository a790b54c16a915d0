package main

import (
	"fmt"
	"math"
	"time"
)

// setupStats summarises how long the calls of a run took to be answered,
// as the calling side saw it: from sending the INVITE to receiving the
// 200 OK (RFC 3261 §13.2.2.4), which is what a caller waits through before
// the call connects. All figures are seconds; NaN when no call was answered.
type setupStats struct {
	n             int
	p50, p99, max float64
}

// setupStatsOf summarises the setup latency of the answered calls. The
// quantiles come from the same log-linear histogram as the relay latency
// (at most 25 % wide buckets, interpolated inside) and never exceed the
// maximum, which is exact.
func setupStatsOf(calls []*outCall) setupStats {
	var h histogram
	var longest time.Duration
	for _, oc := range calls {
		h.observe(oc.setupTook)
		longest = max(longest, oc.setupTook)
	}
	s := setupStats{n: len(calls), p50: math.NaN(), p99: math.NaN(), max: math.NaN()}
	if s.n == 0 {
		return s
	}
	b := h.cumulative()
	s.max = longest.Seconds()
	// Interpolating inside the top bucket can overshoot the slowest call.
	s.p50, s.p99 = min(b.quantile(0.50), s.max), min(b.quantile(0.99), s.max)
	return s
}

// fields lists the summary as key=value pairs, in milliseconds.
func (s setupStats) fields() [][2]string {
	return [][2]string{
		{"setup_p50_ms", msField(s.p50)},
		{"setup_p99_ms", msField(s.p99)},
		{"setup_max_ms", msField(s.max)},
	}
}

// msField formats seconds as milliseconds with two decimals (10 µs
// resolution: a loopback setup takes a few ms), or "nan" without a value,
// the spelling bench.sh's comparisons treat as missing.
func msField(secs float64) string {
	if math.IsNaN(secs) || math.IsInf(secs, 0) {
		return "nan"
	}
	return fmt.Sprintf("%.2f", secs*1e3)
}
