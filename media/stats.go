package media

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Latency histogram layout: log-linear buckets, lock-free.
//
// Bucket 0 holds everything below 1 µs. Above that, each power-of-two
// octave [2^k µs, 2^(k+1) µs) is split into histSub equal-width buckets,
// for k = 0..histOctaves-1, which reaches 2^17 µs ≈ 131 ms. Anything slower
// lands in the overflow bucket. With 4 sub-buckets the relative width of a
// bucket is at most 25 %, plenty to tell 20 µs from 900 µs.
const (
	histSub     = 4
	histSubBits = 2 // log2(histSub)
	histOctaves = 17
	histFinite  = 1 + histOctaves*histSub // underflow + log-linear buckets
	histBuckets = histFinite + 1          // + overflow
	// histUnit is the width of a sub-bucket in the first octave.
	histUnit = int64(time.Microsecond) / histSub
)

// histMax is the upper bound of the last finite bucket.
var histMax = bucketUpper(histFinite - 1)

// Stats collects relay counters and the packet-in -> packet-out latency
// histogram for every bridge of the process. All methods are safe for
// concurrent use and the recording side never locks or allocates. The zero
// value is ready to use.
//
// It deliberately has no metrics-library dependency: the gateway reads it
// (Relayed, LatencyBuckets, ...) and exports it in whatever format it serves.
type Stats struct {
	relayed atomic.Uint64
	dropped atomic.Uint64
	bytes   atomic.Uint64
	sumNs   atomic.Uint64
	buckets [histBuckets]atomic.Uint64
}

// Relayed reports how many packets were relayed.
func (s *Stats) Relayed() uint64 { return s.relayed.Load() }

// Dropped reports how many received packets were not relayed because they
// were invalid, unexpected or from a foreign source.
func (s *Stats) Dropped() uint64 { return s.dropped.Load() }

// Bytes reports how many RTP bytes (headers included) were relayed.
func (s *Stats) Bytes() uint64 { return s.bytes.Load() }

// recordRelay accounts one relayed packet of n bytes that took d from
// ReadFrom returning to WriteTo returning.
func (s *Stats) recordRelay(n int, d time.Duration) {
	s.relayed.Add(1)
	s.bytes.Add(uint64(n))
	s.observe(d)
}

func (s *Stats) recordDrop() { s.dropped.Add(1) }

// observe adds one latency sample to the histogram.
func (s *Stats) observe(d time.Duration) {
	ns := int64(d)
	if ns < 0 {
		ns = 0 // a monotonic clock cannot go back, but be safe
	}
	s.sumNs.Add(uint64(ns))
	s.buckets[bucketIndex(ns)].Add(1)
}

// bucketIndex maps a duration in nanoseconds to its histogram bucket.
func bucketIndex(ns int64) int {
	if ns < int64(time.Microsecond) {
		return 0
	}
	if ns >= int64(histMax) {
		return histFinite
	}
	q := uint64(ns / histUnit) // >= histSub
	k := bits.Len64(q) - 1 - histSubBits
	sub := int(q>>k) - histSub
	return 1 + k*histSub + sub
}

// bucketLower and bucketUpper are the bounds of finite bucket i: samples
// in it were in [lower, upper).
func bucketLower(i int) time.Duration {
	if i == 0 {
		return 0
	}
	k, sub := (i-1)/histSub, (i-1)%histSub
	return time.Duration(int64(histSub+sub) << k * histUnit)
}

func bucketUpper(i int) time.Duration {
	if i == 0 {
		return time.Microsecond
	}
	k, sub := (i-1)/histSub, (i-1)%histSub
	return time.Duration(int64(histSub+sub+1) << k * histUnit)
}

// snapshot copies the bucket counts (not atomically as a whole: samples
// recorded meanwhile may or may not be included).
func (s *Stats) snapshot() (counts [histBuckets]uint64, total uint64) {
	for i := range s.buckets {
		counts[i] = s.buckets[i].Load()
		total += counts[i]
	}
	return counts, total
}

// LatencyQuantile estimates the q-quantile (0 < q <= 1) of relay latency by
// linear interpolation inside the histogram bucket that holds it. It returns
// 0 when nothing was recorded, and the histogram's upper limit (≈131 ms)
// when the quantile falls among the samples slower than that.
func (s *Stats) LatencyQuantile(q float64) time.Duration {
	counts, total := s.snapshot()
	if total == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := q * float64(total)
	var cum float64
	for i := range histFinite {
		c := float64(counts[i])
		if c > 0 && cum+c >= rank {
			lo, hi := float64(bucketLower(i)), float64(bucketUpper(i))
			return time.Duration(lo + (hi-lo)*(rank-cum)/c)
		}
		cum += c
	}
	return histMax
}

// LatencyBuckets returns the histogram in the shape of a Prometheus
// histogram: the finite buckets' upper bounds in seconds, their cumulative
// counts, the sum of all samples in seconds and the total count (which also
// includes samples above the last bound, the implicit +Inf bucket).
func (s *Stats) LatencyBuckets() (upperBounds []float64, counts []uint64, sum float64, count uint64) {
	raw, total := s.snapshot()
	upperBounds = make([]float64, histFinite)
	counts = make([]uint64, histFinite)
	var cum uint64
	for i := range histFinite {
		cum += raw[i]
		upperBounds[i] = bucketUpper(i).Seconds()
		counts[i] = cum
	}
	return upperBounds, counts, time.Duration(s.sumNs.Load()).Seconds(), total
}
