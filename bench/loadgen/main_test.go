package main

import (
	"context"
	"log/slog"
	"math"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// TestCallerCalleeDirect runs a call from the caller straight to the callee
// (no gateway) on loopback: SIP dialog, SDP both ways, RTP both ways, BYE.
func TestCallerCalleeDirect(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	// Two sockets: the caller's stream gets one and the callee's the other,
	// so each side's packets arrive from a port that names a stream.
	e := startEngine(t, 2, true)
	any0 := netip.AddrPortFrom(loopback, 0)
	calleeAg, err := newAgent(any0, "callee", log)
	if err != nil {
		t.Fatal(err)
	}
	defer calleeAg.close()
	callerAg, err := newAgent(any0, "caller", log)
	if err != nil {
		t.Fatal(err)
	}
	defer callerAg.close()
	ce := newCallee(calleeAg, e, ptPCMU, 0)
	cr := newCaller(callerAg, e, calleeAg.addr, "+15550100", []uint8{ptPCMU, ptPCMA})
	if err := calleeAg.serve(); err != nil {
		t.Fatal(err)
	}
	if err := callerAg.serve(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	oc, err := cr.place(ctx, "+15552000001")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the callee's stream", func() bool { return ce.answered.Load() == 1 && ce.live() == 1 })
	if got := oc.stream.pkt[1] & 0x7F; got != ptPCMU {
		t.Errorf("caller sends PT %d, want the answer's PCMU", got)
	}
	waitFor(t, "RTP both ways", func() bool { return e.snapshot().Recv >= 20 })
	if n := e.streams(); n != 2 {
		t.Errorf("streams = %d, want 2 (one per side)", n)
	}
	if err := cr.hangup(ctx, oc); err != nil {
		t.Fatalf("BYE: %v", err)
	}
	waitFor(t, "the callee to see the BYE", func() bool { return ce.ended.Load() == 1 && ce.live() == 0 })
	if n := e.streams(); n != 0 {
		t.Errorf("streams after hangup = %d, want 0", n)
	}
	if err := cr.hangup(ctx, oc); err != nil {
		t.Errorf("second hangup: %v, want a no-op", err)
	}
	if c := e.snapshot(); c.SendErrors != 0 {
		t.Errorf("send errors = %d", c.SendErrors)
	}
	if n := cr.remoteHangups.Load(); n != 0 {
		t.Errorf("remote hangups = %d, want 0", n)
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if o.calls != 500 || o.callerCodec != ptPCMU || o.gateway != netip.MustParseAddrPort("127.0.0.1:15060") {
		t.Errorf("defaults = %+v", o)
	}
	o, err = parseFlags([]string{"-callee-codec", "pcma", "-observe", "20"})
	if err != nil || o.calleeCodec != ptPCMA || o.observe != 20 {
		t.Errorf("-callee-codec pcma -observe 20: %+v, %v", o, err)
	}
	o, err = parseFlags([]string{"-voicemail", "-data-dir", "/tmp/gw/data"})
	if err != nil || !o.voicemail || o.dataDir != "/tmp/gw/data" {
		t.Errorf("-voicemail -data-dir: %+v, %v", o, err)
	}
	o, err = parseFlags([]string{"-recorded", "-data-dir", "/tmp/gw/data", "-api", "http://127.0.0.1:18080", "-api-token", "t"})
	if err != nil || !o.recorded || o.dataDir != "/tmp/gw/data" || o.apiURL != "http://127.0.0.1:18080" || o.apiToken != "t" {
		t.Errorf("-recorded -data-dir -api -api-token: %+v, %v", o, err)
	}
	o, err = parseFlags([]string{"-webrtc", "ws://127.0.0.1:18080/ws", "-ring-both", "-callee-answer-delay", "200ms"})
	if err != nil || !o.both || o.answerDelay != 200*time.Millisecond {
		t.Errorf("-ring-both -callee-answer-delay 200ms: %+v, %v", o, err)
	}
	for _, tt := range []struct {
		args []string
		i    int
		want string
	}{
		{nil, 7, "+15550100"}, // one number for every call
		{[]string{"-number-format", "+1555100%04d"}, 7, "+15551000007"},
		{[]string{"-webrtc", "ws://127.0.0.1:18080/ws"}, 12, "+15551000012"}, // WebRTC: one per user by default
		{[]string{"-webrtc", "ws://127.0.0.1:18080/ws", "-number-format", "+1444%03d"}, 5, "+1444005"},
	} {
		o, err := parseFlags(tt.args)
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		if got := o.numberOf(tt.i); got != tt.want {
			t.Errorf("%v: numberOf(%d) = %q, want %q", tt.args, tt.i, got, tt.want)
		}
	}
	for _, bad := range [][]string{
		{"-ring-both"}, // needs the browser side
		{"-callee-answer-delay", "-1s"},
		{"-webrtc", "ws://127.0.0.1:18080/ws", "-callee-answer-delay", "1s"}, // no SIP far end
		{"-voicemail", "-callee-answer-delay", "1s"},
		{"-voicemail", "-number-format", "+1555100%04d"},
		{"-voicemail", "-observe", "5"},
		{"-voicemail", "-webrtc", "ws://127.0.0.1:18080/ws"},
		{"-data-dir", "/tmp/gw/data"}, // only with -voicemail or -recorded
		{"-recorded", "-voicemail"},
		{"-recorded", "-observe", "5"},
		{"-recorded", "-webrtc", "ws://127.0.0.1:18080/ws"},
		{"-recorded", "-number-format", "+1555100%04d"},
		{"-caller-codec", "g729"},
		{"-gateway", "nowhere"},
		{"-calls", "0"},
		{"-observe", "-1"},
		{"-log-level", "loud"},
	} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

func TestResultMeasure(t *testing.T) {
	inf := math.Inf(1)
	t0 := time.Unix(1000, 0)
	t1 := t0.Add(10 * time.Second)
	mk := func(at time.Time, gwCPU time.Duration, relayed, active float64, cum []float64, sent, recv uint64) snapshot {
		return snapshot{
			gw:   procSample{At: at, CPU: gwCPU, RSSKiB: 40000},
			self: procSample{At: at},
			metrics: scrape{
				values: map[string]float64{
					"switchboard_rtp_packets_relayed_total": relayed,
					"switchboard_rtp_packets_dropped_total": 0,
					"switchboard_active_calls":              active,
					latencyMetric + "_sum":                  relayed * 5e-6,
				},
				latency: buckets{le: []float64{1e-6, 1e-5, inf}, cum: cum},
			},
			rtp: counters{Sent: sent, Recv: recv},
		}
	}
	r := &result{opts: options{pid: 1}, established: 500, rssBefore: 15000}
	// 4 s of gateway CPU in 10 s is 20 % of a 2-core machine.
	r.measure(
		mk(t0, 1*time.Second, 1000, 500, []float64{0, 1000, 1000}, 1000, 1000),
		mk(t1, 5*time.Second, 501000, 500, []float64{0, 501000, 501000}, 501000, 500500),
	)
	checks := []struct {
		name      string
		got, want float64
	}{
		{"gateway CPU, % of the machine", r.gwCPU, 4.0 / 10 / float64(runtime.NumCPU()) * 100},
		{"relayed pps", r.relayedPPS, 50000},
		{"p50 (interpolated in (1, 10] µs)", r.p50, 5.5e-6},
		{"mean", r.mean, 5e-6},
		{"loss", r.loss, 0.001},
		{"rss per call", r.rssPerCall(), 50},
	}
	for _, c := range checks {
		if math.Abs(c.got-c.want) > 1e-9*math.Max(1, math.Abs(c.want)) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestResultFields: every run reports its setup latency; only race runs
// (ringing: both) report who won.
func TestResultFields(t *testing.T) {
	keys := func(r *result) map[string]string {
		m := map[string]string{}
		for _, kv := range r.fields() {
			if _, dup := m[kv[0]]; dup {
				t.Errorf("key %s listed twice", kv[0])
			}
			m[kv[0]] = kv[1]
		}
		return m
	}
	lat := setupStats{n: 2, p50: 0.004, p99: 0.009, max: 0.0125}
	relay := keys(&result{setupLat: lat})
	for k, want := range map[string]string{"setup_p50_ms": "4.00", "setup_p99_ms": "9.00", "setup_max_ms": "12.50"} {
		if relay[k] != want {
			t.Errorf("relay %s = %q, want %q", k, relay[k], want)
		}
	}
	if _, ok := relay["won_by_sip"]; ok {
		t.Error("a relay run reports won_by_sip")
	}
	both := keys(&result{setupLat: lat, webrtc: true, both: true, wonBySIP: 3, wonByBrowser: 97, calleeCancelled: 96,
		opts: options{answerDelay: 200 * time.Millisecond}})
	for k, want := range map[string]string{"won_by_sip": "3", "won_by_browser": "97", "callee_cancelled": "96",
		"callee_answer_delay_ms": "200", "setup_p99_ms": "9.00", "browser_answer_errors": "0"} {
		if both[k] != want {
			t.Errorf("both %s = %q, want %q", k, both[k], want)
		}
	}
}
