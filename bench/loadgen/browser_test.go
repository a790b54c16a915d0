package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// freePort returns a port the kernel just handed out on 127.0.0.1 for
// network ("tcp" or "udp"), released for the gateway to bind.
func freePort(t *testing.T, network string) int {
	t.Helper()
	switch network {
	case "tcp":
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	default:
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
}

// startGateway builds and runs the real gateway with users user0..n-1
// (token tokI) each owning +1555100000I with browser ringing, and returns
// its SIP address, HTTP port and PID.
func startGateway(t *testing.T, n int) (sipPort, httpPort, pid int) {
	t.Helper()
	return startGatewayRinging(t, n, "browser", 9)
}

// startGatewayRinging is startGateway with the numbers' ringing mode, and
// the trunk's outbound proxy (where forwarded calls go) on 127.0.0.1:proxyPort.
func startGatewayRinging(t *testing.T, n int, ringing string, proxyPort int) (sipPort, httpPort, pid int) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "switchboard")
	build := exec.Command("go", "build", "-o", bin, "switchboard/cmd/switchboard")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the gateway: %v\n%s", err, out)
	}
	sipPort, httpPort = freePort(t, "udp"), freePort(t, "tcp")
	var cfg bytes.Buffer
	fmt.Fprintf(&cfg, `sip: { listen: "127.0.0.1:%d" }
rtp: { address: "127.0.0.1", ports: "40000-49999", timeout: 30s }
http: { listen: "127.0.0.1:%d" }
webrtc: { loopback: true, interfaces: ["lo"], ports: "50000-59999" }
data_dir: %q
default_region: "US"
drain_timeout: 2s
trunks:
  - name: carrier
    inbound: { allow: ["127.0.0.0/8"] }
    outbound: { proxy: "sip:127.0.0.1:%d" }
users:
`, sipPort, httpPort, filepath.Join(dir, "data"), proxyPort)
	for i := range n {
		fmt.Fprintf(&cfg, "  - { id: user%d, name: \"User %d\", token: \"tok%d\" }\n", i, i, i)
	}
	cfg.WriteString("numbers:\n")
	for i := range n {
		fmt.Fprintf(&cfg, "  - { number: \"+1555100%04d\", trunk: carrier, owner: user%d, ringing: %s, forward_to: \"+15550199\", ring_timeout: 10s }\n", i, i, ringing)
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, cfg.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	gw := exec.Command(bin, "-config", cfgPath, "-log-level", "warn")
	gw.Stdout, gw.Stderr = &logBuf, &logBuf
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = gw.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = gw.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = gw.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("gateway log:\n%s", logBuf.String())
		}
	})
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort)
	waitFor(t, "the gateway's /metrics", func() bool {
		select {
		case <-exited:
			t.Fatalf("gateway exited at start:\n%s", logBuf.String())
		default:
		}
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return sipPort, httpPort, gw.Process.Pid
}

// TestWebRTCCallThroughGateway runs one trunk -> browser call through the
// real gateway: the SIP side calls user0's number, the pion tab answers it
// over the WebSocket, and PCMU flows both ways (SIP RTP <-> DTLS-SRTP)
// with stamps the other end turns into one-way latency.
func TestWebRTCCallThroughGateway(t *testing.T) {
	sipPort, httpPort, pid := startGateway(t, 1)
	o, err := parseFlags([]string{
		"-gateway", fmt.Sprintf("127.0.0.1:%d", sipPort),
		"-caller", "127.0.0.1:0",
		"-webrtc", fmt.Sprintf("ws://127.0.0.1:%d/ws", httpPort),
		"-metrics", fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort),
		"-calls", "1", "-rate", "10", "-warmup", "500ms", "-hold", "2s",
		"-pid", fmt.Sprint(pid),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := run(ctx, o, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("run: %v (result %+v)", err, r)
	}
	if r.established != 1 || r.setupFailed != 0 {
		t.Fatalf("established %d, failed %d (%v)", r.established, r.setupFailed, r.setupFailures)
	}
	if r.activeEnd != 1 {
		t.Errorf("gateway's active calls at the end of the window = %v, want 1", r.activeEnd)
	}
	// 2 s at 50 packets/s each way: well over 50 in each direction unless
	// a direction is broken.
	if r.wrRecvPPS < 25 || r.wrSentPPS < 25 {
		t.Errorf("browser sent %.0f/s, received %.0f/s; want about 50 each", r.wrSentPPS, r.wrRecvPPS)
	}
	if r.recvPPS-r.wrRecvPPS < 25 {
		t.Errorf("SIP side received %.0f/s from the browser, want about 50", r.recvPPS-r.wrRecvPPS)
	}
	if r.relayedPPS < 50 {
		t.Errorf("gateway relayed %.0f packets/s, want about 100", r.relayedPPS)
	}
	if !(r.wrE2E50 > 0 && r.wrE2E50 < 0.5) || !(r.e2e50 > 0 && r.e2e50 < 0.5) {
		t.Errorf("one-way latency p50: to browser %v s, from browser %v s; want both in (0, 0.5)", r.wrE2E50, r.e2e50)
	}
	if r.remoteHangups != 0 || r.browserAnswerErrs != 0 {
		t.Errorf("remote hangups %d, answer errors %d", r.remoteHangups, r.browserAnswerErrs)
	}
	if r.activeAfter != 0 || r.browserEnded != 1 {
		t.Errorf("after BYE: gateway active %v, browser saw %d ended calls; want 0 and 1", r.activeAfter, r.browserEnded)
	}
}

// TestRingBothThroughGateway runs one call to a number with ringing: both
// through the real gateway: the SIP phone and the pion tab race, the
// winner holds the call with media, and the loser's side is accounted for
// as a lost race rather than an error.
func TestRingBothThroughGateway(t *testing.T) {
	tests := []struct {
		name  string
		delay time.Duration
		// browserWins: the SIP phone rings far longer than the tab takes
		// to answer, so it must lose, CANCELled; with no delay either may
		// win (the SIP phone almost always does on loopback).
		browserWins bool
	}{
		{"SIP phone rings for a minute", time.Minute, true},
		{"SIP phone answers at once", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calleePort := freePort(t, "udp")
			sipPort, httpPort, pid := startGatewayRinging(t, 1, "both", calleePort)
			o, err := parseFlags([]string{
				"-gateway", fmt.Sprintf("127.0.0.1:%d", sipPort),
				"-caller", "127.0.0.1:0",
				"-callee", fmt.Sprintf("127.0.0.1:%d", calleePort),
				"-webrtc", fmt.Sprintf("ws://127.0.0.1:%d/ws", httpPort),
				"-ring-both", "-callee-answer-delay", tt.delay.String(),
				"-metrics", fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort),
				"-calls", "1", "-rate", "10", "-warmup", "300ms", "-hold", "1s",
				"-pid", fmt.Sprint(pid),
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			r, err := run(ctx, o, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatalf("run: %v (result %+v)", err, r)
			}
			if r.established != 1 || r.setupFailed != 0 {
				t.Fatalf("established %d, failed %d (%v)", r.established, r.setupFailed, r.setupFailures)
			}
			t.Logf("won by SIP %d, by browser %d; setup %.1f ms", r.wonBySIP, r.wonByBrowser, r.setupLat.max*1e3)
			if r.wonBySIP+r.wonByBrowser != 1 {
				t.Errorf("won by SIP %d, by browser %d; want exactly one winner", r.wonBySIP, r.wonByBrowser)
			}
			if r.remoteHangups != 0 || r.browserAnswerErrs != 0 || r.rejectedByCallee != 0 {
				t.Errorf("remote hangups %d, answer errors %d, rejected by the SIP phone %d; want 0 each",
					r.remoteHangups, r.browserAnswerErrs, r.rejectedByCallee)
			}
			if tt.browserWins {
				if r.wonByBrowser != 1 || r.calleeCancelled != 1 || r.calleeAnswered != 0 {
					t.Errorf("won by browser %d, SIP phone cancelled %d, answered %d; want 1, 1, 0",
						r.wonByBrowser, r.calleeCancelled, r.calleeAnswered)
				}
			} else if r.wonBySIP == 1 && r.browserElsewhere+r.browserLosers != 1 {
				t.Errorf("SIP phone won but the tab was told answered_elsewhere %d times and hung up %d times; want 1 in all",
					r.browserElsewhere, r.browserLosers)
			} else if r.wonByBrowser == 1 && r.calleeAnswered+r.calleeCancelled+r.calleeLate != 1 {
				// The SIP phone answers at once, so its 200 may cross the
				// gateway's CANCEL: it is ACKed and hung up (RFC 3261 §9.1).
				t.Errorf("the tab won but the SIP phone answered %d, was cancelled %d, answered late %d; want 1 in all",
					r.calleeAnswered, r.calleeCancelled, r.calleeLate)
			}
			if !(r.setupLat.p50 > 0 && r.setupLat.max >= r.setupLat.p50) {
				t.Errorf("setup latency p50 %v, max %v; want 0 < p50 <= max", r.setupLat.p50, r.setupLat.max)
			}
			if r.activeAfter != 0 || r.calleeLive != 0 {
				t.Errorf("after BYE: gateway active %v, SIP phone live %d; want 0", r.activeAfter, r.calleeLive)
			}
		})
	}
}
