// Package metrics holds the gateway's Prometheus collectors in one registry,
// so every package counts into the same names and /metrics serves them all.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Registry is the registry /metrics serves. Tests may read it with Gather.
var Registry = prometheus.NewRegistry()

var (
	// ActiveCalls is the number of calls between start and end.
	ActiveCalls = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "switchboard_active_calls",
		Help: "Calls currently in progress (ringing or talking).",
	})
	// CallsTotal counts ended calls by outcome.
	CallsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_calls_total",
		Help: "Ended calls by outcome (answered, missed, busy, failed, cancelled).",
	}, []string{"outcome"})
	// SIPRequests counts SIP requests by method and direction (in, out).
	SIPRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_sip_requests_total",
		Help: "SIP requests received (direction=in) and sent (direction=out) by method.",
	}, []string{"method", "direction"})
	// SIPResponses counts SIP responses by status code and direction.
	SIPResponses = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_sip_responses_total",
		Help: "SIP responses sent (direction=out) and received (direction=in) by status code.",
	}, []string{"code", "direction"})
	// Rejected counts requests refused before they could become calls, by reason.
	Rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_rejected_requests_total",
		Help: "SIP requests rejected or dropped by reason (source_not_allowed, too_large, malformed, invalid, draining, not_found, no_codec, no_ports).",
	}, []string{"reason"})
	// RegisterState is 1 while a trunk's registration is current.
	RegisterState = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "switchboard_trunk_registered",
		Help: "1 while the trunk's REGISTER binding is current, 0 otherwise.",
	}, []string{"trunk"})
)

func init() {
	Registry.MustRegister(ActiveCalls, CallsTotal, SIPRequests, SIPResponses, Rejected, RegisterState,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Pre-create the label values operators alert on, so they read 0 rather than absent.
	for _, o := range []string{"answered", "missed", "busy", "failed", "cancelled"} {
		CallsTotal.WithLabelValues(o)
	}
	for _, r := range []string{"source_not_allowed", "too_large", "malformed"} {
		Rejected.WithLabelValues(r)
	}
}
