package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Packets in the pcaps the built-in uac_pcap scenario plays
// (/usr/share/sip-tester): g711a.pcap is 236 PCMA packets over 7.05 s,
// dtmf_2833_1.pcap is 10 RFC 4733 packets of digit 1.
const (
	pcapAudioPackets = 236
	pcapDTMFPackets  = 10
)

// TestForwardedCallPCMAWithDTMF is the everyday call: a trunk caller (SIPp
// uac_pcap) reaches +15550100, the gateway forwards it through the trunk's
// proxy to +15550199 (a SIPp UAS echoing RTP), audio and an RFC 4733 DTMF
// digit flow through, and the caller hangs up.
func TestForwardedCallPCMAWithDTMF(t *testing.T) {
	requireTools(t, "sipp", "tcpdump", "tshark")
	uas := startSIPp(t, "uas", sippOptions{Scenario: "uas_answer.xml", RTPEcho: true, Timeout: 45 * time.Second})
	g := startGateway(t, gatewayOptions{Proxy: "127.0.0.1:" + strconv.Itoa(uas.sipPort)})
	// Every RTP packet of the call has a gateway media port at one end.
	capture := startCapture(t, fmt.Sprintf("udp and portrange %d-%d", g.rtpMin, g.rtpMax))
	relayedBefore := g.metrics(t).get("switchboard_rtp_packets_relayed_total", nil)

	uac := startSIPp(t, "uac", sippOptions{Scenario: "builtin:uac_pcap", Remote: g.sipAddr, Service: ourNumber, Timeout: 40 * time.Second})
	uac.expectSuccess(t, 60*time.Second)
	uas.expectSuccess(t, 20*time.Second)

	rec := g.waitEndedCall(t, 10*time.Second)
	want := wantRecord("answered", "normal_clearing", "caller", 0)
	want.Caller = "sipp" // SIPp's built-in scenario calls from sip:sipp@...
	checkRecord(t, rec, want)
	// uac_pcap talks 8 s, plays the digit and hangs up 1 s later.
	if rec.DurationSeconds < 5 || rec.DurationSeconds > 12 {
		t.Errorf("duration_seconds = %v, want 5..12 (uac_pcap talks for about 9 s)", rec.DurationSeconds)
	}
	for role, codec := range map[string]string{"caller": "PCMA", "callee": "PCMA"} {
		if l, ok := rec.leg(role); !ok || l.Codec != codec {
			t.Errorf("%s leg %+v, want codec %s", role, l, codec)
		}
	}

	// The caller's packets go to the echo and come back: twice the pcap, less
	// a little for packets sent before the bridge was up or after the BYE.
	const slack = 30
	wantRelayed := 2*(pcapAudioPackets+pcapDTMFPackets) - slack
	g.waitMetric(t, 5*time.Second, "switchboard_rtp_packets_relayed_total", nil, func(v float64) bool {
		return v-relayedBefore >= float64(wantRelayed)
	})

	capture.stop(t)
	t.Logf("tshark -z rtp,streams:\n%s", rtpStreamsReport(capture))
	isGateway := func(port int) bool { return port >= g.rtpMin && port <= g.rtpMax }
	legs := map[string]*rtpFlow{}
	add := func(name string, f *rtpFlow) {
		sum := legs[name]
		if sum == nil {
			sum = &rtpFlow{SrcPort: f.SrcPort, DstPort: f.DstPort, ByType: map[int]int{}, SSRCs: map[string]bool{}}
			legs[name] = sum
		}
		sum.Packets += f.Packets
		for pt, n := range f.ByType {
			sum.ByType[pt] += n
		}
		for s := range f.SSRCs {
			sum.SSRCs[s] = true
		}
	}
	for _, f := range rtpFlows(t, capture) {
		switch {
		case isGateway(f.SrcPort) && f.DstPort == uas.mediaPort:
			add("gateway->callee", f)
		case f.SrcPort == uas.mediaPort && isGateway(f.DstPort):
			add("callee->gateway", f)
		case isGateway(f.DstPort) && !isGateway(f.SrcPort):
			add("caller->gateway", f)
		case isGateway(f.SrcPort) && !isGateway(f.DstPort):
			add("gateway->caller", f)
		default:
			t.Logf("unclassified RTP flow %s", f)
		}
	}
	for _, name := range []string{"caller->gateway", "gateway->callee", "callee->gateway", "gateway->caller"} {
		f := legs[name]
		if f == nil {
			t.Errorf("no RTP %s on the wire", name)
			continue
		}
		t.Logf("RTP %s: %s", name, f)
		if f.ByType[8] <= 100 {
			t.Errorf("RTP %s carried %d PCMA packets, want > 100", name, f.ByType[8])
		}
	}
	// RFC 4733: the digit must reach the callee as telephone-event (payload
	// type 101, what the callee's answer mapped it to).
	if f := legs["gateway->callee"]; f == nil || f.ByType[101] == 0 {
		t.Errorf("no telephone-event (PT 101) packets reached the callee")
	}
}

// TestCancelBeforeAnswer: the caller gives up while the forward target
// rings. The gateway must answer the CANCEL 200 and the INVITE 487, cancel
// its own INVITE to the target (which ACKs its 487), and log the call as
// cancelled.
func TestCancelBeforeAnswer(t *testing.T) {
	uas := startSIPp(t, "uas", sippOptions{Scenario: "uas_ring_cancel.xml"})
	g := startGateway(t, gatewayOptions{Proxy: "127.0.0.1:" + strconv.Itoa(uas.sipPort)})
	uac := startSIPp(t, "uac", sippOptions{Scenario: "uac_cancel.xml", Remote: g.sipAddr, Service: ourNumber})
	uac.expectSuccess(t, 40*time.Second)
	uas.expectSuccess(t, 40*time.Second)

	rec := g.waitEndedCall(t, 10*time.Second)
	checkRecord(t, rec, wantRecord("cancelled", "originator_cancel", "caller", 487))
}

// TestByeFromCaller: the trunk caller hangs up an answered call; the
// forward target must get a BYE (its scenario waits for one).
func TestByeFromCaller(t *testing.T) {
	uas := startSIPp(t, "uas", sippOptions{Scenario: "uas_answer.xml"})
	g := startGateway(t, gatewayOptions{Proxy: "127.0.0.1:" + strconv.Itoa(uas.sipPort)})
	uac := startSIPp(t, "uac", sippOptions{Scenario: "uac_call_bye.xml", Remote: g.sipAddr, Service: ourNumber})
	uac.expectSuccess(t, 40*time.Second)
	uas.expectSuccess(t, 40*time.Second)

	rec := g.waitEndedCall(t, 10*time.Second)
	checkRecord(t, rec, wantRecord("answered", "normal_clearing", "caller", 0))
}

// TestByeFromCallee: the forward target hangs up; the trunk caller must
// get a BYE (its scenario waits for one).
func TestByeFromCallee(t *testing.T) {
	uas := startSIPp(t, "uas", sippOptions{Scenario: "uas_answer_bye.xml"})
	g := startGateway(t, gatewayOptions{Proxy: "127.0.0.1:" + strconv.Itoa(uas.sipPort)})
	uac := startSIPp(t, "uac", sippOptions{Scenario: "uac_call_wait_bye.xml", Remote: g.sipAddr, Service: ourNumber})
	uac.expectSuccess(t, 40*time.Second)
	uas.expectSuccess(t, 40*time.Second)

	rec := g.waitEndedCall(t, 10*time.Second)
	checkRecord(t, rec, wantRecord("answered", "normal_clearing", "callee", 0))
}

// expectFailure fills in uac_expect_failure.xml: the final response the
// caller must get and the payload types it offers.
func expectFailure(code int, formats string) map[string]string {
	return map[string]string{"EXPECTED_CODE": strconv.Itoa(code), "OFFER_FORMATS": formats}
}

// TestBusyTarget: the forward target is busy (486); the caller must hear
// busy too, and the call is logged as busy.
func TestBusyTarget(t *testing.T) {
	uas := startSIPp(t, "uas", sippOptions{Scenario: "uas_reject.xml",
		Replace: map[string]string{"REJECT_CODE": "486", "REJECT_REASON": "Busy Here"}})
	g := startGateway(t, gatewayOptions{Proxy: "127.0.0.1:" + strconv.Itoa(uas.sipPort)})
	uac := startSIPp(t, "uac", sippOptions{Scenario: "uac_expect_failure.xml", Replace: expectFailure(486, "8"),
		Remote: g.sipAddr, Service: ourNumber})
	uac.expectSuccess(t, 40*time.Second)
	uas.expectSuccess(t, 40*time.Second)

	rec := g.waitEndedCall(t, 10*time.Second)
	checkRecord(t, rec, wantRecord("busy", "user_busy", "callee", 486))
}

// TestNoAnswer: the forward target rings past the number's ring timeout.
// The gateway must CANCEL it and give the caller 480.
func TestNoAnswer(t *testing.T) {
	uas := startSIPp(t, "uas", sippOptions{Scenario: "uas_ring_cancel.xml"})
	g := startGateway(t, gatewayOptions{Proxy: "127.0.0.1:" + strconv.Itoa(uas.sipPort), RingTimeout: time.Second})
	uac := startSIPp(t, "uac", sippOptions{Scenario: "uac_expect_failure.xml", Replace: expectFailure(480, "8"),
		Remote: g.sipAddr, Service: ourNumber})
	uac.expectSuccess(t, 40*time.Second)
	uas.expectSuccess(t, 40*time.Second)

	rec := g.waitEndedCall(t, 10*time.Second)
	// hangup_side is left open: the gateway gave up, the callee was still ringing.
	checkRecord(t, rec, wantRecord("missed", "no_answer", "", 480))
}

// refusedCall runs a caller whose INVITE the gateway must refuse with code
// before it dials anyone; the proxy is a sink that must hear nothing.
func refusedCall(t *testing.T, o gatewayOptions, callerIP, number string, code int, formats string) (*gateway, *udpSink) {
	t.Helper()
	sink := newUDPSink(t)
	o.Proxy = sink.addr()
	g := startGateway(t, o)
	uac := startSIPp(t, "uac", sippOptions{Scenario: "uac_expect_failure.xml", Replace: expectFailure(code, formats),
		Remote: g.sipAddr, Service: number, LocalIP: callerIP})
	uac.expectSuccess(t, 40*time.Second)

	// Nothing announces "the gateway decided not to dial": watch the proxy
	// for a second after the refusal came back; any datagram fails the test.
	if waitFor(context.Background(), time.Second, func() bool { n, _ := sink.received(); return n > 0 }) == nil {
		_, lines := sink.received()
		t.Errorf("the trunk proxy received %d datagram(s) for a refused call: %s", len(lines), strings.Join(lines, " | "))
	}
	m := g.metrics(t)
	if v := m.get("switchboard_sip_requests_total", map[string]string{"method": "INVITE", "direction": "out"}); v != 0 {
		t.Errorf("switchboard_sip_requests_total{method=INVITE,direction=out} = %v, want 0", v)
	}
	return g, sink
}

// TestSourceNotAllowed: an INVITE from an address outside the trunk's allow
// list gets 403 and never reaches the trunk (toll-fraud guard).
func TestSourceNotAllowed(t *testing.T) {
	g, _ := refusedCall(t, gatewayOptions{Allow: []string{"127.0.0.2/32"}}, "127.0.0.1", ourNumber, 403, "8")
	m := g.metrics(t)
	if v := m.get("switchboard_rejected_requests_total", map[string]string{"reason": "source_not_allowed"}); v < 1 {
		t.Errorf("switchboard_rejected_requests_total{reason=source_not_allowed} = %v, want >= 1; %v", v, m.series("switchboard_rejected_requests_total"))
	}
	if lines := g.logLines("source"); len(lines) == 0 {
		t.Errorf("the gateway logged nothing about the refused source")
	}
}

// TestUnknownNumber: a call to a number we do not own gets 404.
func TestUnknownNumber(t *testing.T) {
	g, _ := refusedCall(t, gatewayOptions{}, "127.0.0.1", "+15550111", 404, "8")
	m := g.metrics(t)
	if v := m.get("switchboard_rejected_requests_total", map[string]string{"reason": "not_found"}); v < 1 {
		t.Errorf("switchboard_rejected_requests_total{reason=not_found} = %v, want >= 1; %v", v, m.series("switchboard_rejected_requests_total"))
	}
}

// TestCodecMismatch: an offer of G.729 only (payload type 18) gets 488
// (RFC 3261 §13.3.1.1): we speak PCMU and PCMA.
func TestCodecMismatch(t *testing.T) {
	g, _ := refusedCall(t, gatewayOptions{}, "127.0.0.1", ourNumber, 488, "18")
	m := g.metrics(t)
	if v := m.get("switchboard_rejected_requests_total", map[string]string{"reason": "no_codec"}); v < 1 {
		t.Errorf("switchboard_rejected_requests_total{reason=no_codec} = %v, want >= 1; %v", v, m.series("switchboard_rejected_requests_total"))
	}
}

// TestDrainOnSIGTERM: SIGTERM while a call is up. New INVITEs get 503, the
// running call goes on until its caller hangs up, and then the gateway exits
// with status 0.
func TestDrainOnSIGTERM(t *testing.T) {
	const talk = 4 * time.Second // how long the running call lasts
	uas := startSIPp(t, "uas", sippOptions{Scenario: "uas_answer.xml", Timeout: 20 * time.Second})
	g := startGateway(t, gatewayOptions{Proxy: "127.0.0.1:" + strconv.Itoa(uas.sipPort), DrainTimeout: 2 * talk})
	uac := startSIPp(t, "uac", sippOptions{Scenario: "uac_call_bye.xml", Remote: g.sipAddr, Service: ourNumber, Timeout: 20 * time.Second,
		Replace: map[string]string{`<pause milliseconds="1000"/>`: fmt.Sprintf(`<pause milliseconds="%d"/>`, talk.Milliseconds())}})

	err := waitFor(context.Background(), 10*time.Second, func() bool {
		calls := g.calls(t)
		return len(calls) == 1 && calls[0].AnsweredAt != nil
	})
	if err != nil {
		t.Fatalf("the first call was not answered within 10s: %v", g.calls(t))
	}
	g.terminate(t)

	late := startSIPp(t, "late", sippOptions{Scenario: "uac_expect_failure.xml", Replace: expectFailure(503, "8"),
		Remote: g.sipAddr, Service: ourNumber, Timeout: talk / 2})
	late.expectSuccess(t, talk)
	select {
	case <-g.exited:
		t.Errorf("the gateway exited while a call was still up")
	default:
	}

	uac.expectSuccess(t, 30*time.Second)
	uas.expectSuccess(t, 30*time.Second)
	g.waitExit(t, 10*time.Second)
	if lines := g.logLines("drain"); len(lines) == 0 {
		t.Errorf("the gateway logged nothing about draining")
	}
}

// TestRTPTimeout: an answered call in which neither side sends RTP is hung
// up by the gateway after rtp.timeout; both sides get a BYE.
func TestRTPTimeout(t *testing.T) {
	uas := startSIPp(t, "uas", sippOptions{Scenario: "uas_answer.xml"})
	g := startGateway(t, gatewayOptions{Proxy: "127.0.0.1:" + strconv.Itoa(uas.sipPort), RTPTimeout: 2 * time.Second})
	uac := startSIPp(t, "uac", sippOptions{Scenario: "uac_call_wait_bye.xml", Remote: g.sipAddr, Service: ourNumber})
	uac.expectSuccess(t, 40*time.Second)
	uas.expectSuccess(t, 40*time.Second)

	rec := g.waitEndedCall(t, 10*time.Second)
	checkRecord(t, rec, wantRecord("answered", "rtp_timeout", "system", 0))
	if rec.DurationSeconds < 1.5 || rec.DurationSeconds > 6 {
		t.Errorf("duration_seconds = %v, want about the 2 s rtp.timeout", rec.DurationSeconds)
	}
}
