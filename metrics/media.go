package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"switchboard/media"
)

// mediaCollector reads the relay's atomic counters at scrape time, so the
// relay path itself never touches Prometheus.
type mediaCollector struct {
	stats                   *media.Stats
	relayed, dropped, bytes *prometheus.Desc
	latency                 *prometheus.Desc
}

// RegisterMediaStats exports s as switchboard_rtp_* metrics.
func RegisterMediaStats(s *media.Stats) error {
	return Registry.Register(&mediaCollector{
		stats:   s,
		relayed: prometheus.NewDesc("switchboard_rtp_packets_relayed_total", "RTP packets relayed between legs.", nil, nil),
		dropped: prometheus.NewDesc("switchboard_rtp_packets_dropped_total", "RTP packets dropped (malformed, unknown payload type, foreign source, hold).", nil, nil),
		bytes:   prometheus.NewDesc("switchboard_rtp_bytes_relayed_total", "RTP bytes relayed between legs.", nil, nil),
		latency: prometheus.NewDesc("switchboard_rtp_relay_latency_seconds", "Time from a packet read to its relayed write, inside the gateway.", nil, nil),
	})
}

// Describe implements prometheus.Collector.
func (c *mediaCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.relayed
	ch <- c.dropped
	ch <- c.bytes
	ch <- c.latency
}

// Collect implements prometheus.Collector.
func (c *mediaCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.relayed, prometheus.CounterValue, float64(c.stats.Relayed()))
	ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(c.stats.Dropped()))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(c.stats.Bytes()))
	bounds, counts, sum, count := c.stats.LatencyBuckets()
	buckets := make(map[float64]uint64, len(bounds))
	for i, b := range bounds {
		buckets[b] = counts[i]
	}
	ch <- prometheus.MustNewConstHistogram(c.latency, count, sum, buckets)
}
