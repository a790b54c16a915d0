package sip_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"switchboard/call"
	"switchboard/media"
	sbsip "switchboard/sip"
	"switchboard/store"
)

// Numbers of the test configuration: calls to ourNumber are forwarded to
// forwardTo through the trunk "carrier", whose proxy is the callee peer.
const (
	ourNumber = "+15550100"
	forwardTo = "+15550199"
)

// gwOptions varies the gateway configuration between tests.
type gwOptions struct {
	RingTimeout    time.Duration // default 5 s
	RTPTimeout     time.Duration // default 0: no RTP timeout
	Username       string        // trunk digest credentials
	Password       string
	Register       bool
	RegisterExpiry time.Duration
}

// gateway is a switchboard wired in-process exactly as cmd/switchboard does,
// with a trunk peer (the carrier sending calls in) and a callee peer (the
// carrier's proxy receiving the calls we forward).
type gateway struct {
	addr   netip.AddrPort // the gateway's SIP address (UDP)
	srv    *sbsip.Server
	engine *call.Engine
	store  *store.Store
	trunk  *peer // on 127.0.0.1, inside the trunk's allow list
	callee *peer // the trunk's outbound proxy
	log    *syncBuffer
}

// syncBuffer collects the gateway's log; the test prints it when it fails.
// (t.Log cannot be used: sipgo's timers may log after the test returned.)
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freeSIPPort returns a loopback port free for both UDP and TCP, as the
// gateway listens on both.
func freeSIPPort(t testing.TB) int {
	t.Helper()
	for range 50 {
		u, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		u.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no port free for both UDP and TCP")
	return 0
}

// rtpRangeSize is the number of RTP/RTCP ports each test gateway gets.
const rtpRangeSize = 200

// freeRTPRange picks a random even range in 40000-60000 whose ports are all
// free now. The machine is shared (other suites run load tests that hold
// thousands of UDP ports), so a blind random pick may land on a full range.
func freeRTPRange(t testing.TB) int {
	t.Helper()
	for range 50 {
		lo := 40000 + 2*rand.IntN((20000-rtpRangeSize)/2)
		if udpPortsFree(lo, lo+rtpRangeSize-1) {
			return lo
		}
	}
	t.Fatal("no free RTP port range in 40000-60000")
	return 0
}

// udpPortsFree reports whether every UDP port in [lo, hi] on 127.0.0.1 can be bound.
func udpPortsFree(lo, hi int) bool {
	var held []*net.UDPConn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for port := lo; port <= hi; port++ {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			return false
		}
		held = append(held, c)
	}
	return true
}

// startGateway starts a gateway for one test. Its peers are created first,
// so the gateway is closed (and unregisters, hangs up) before they are.
func startGateway(t *testing.T, opt gwOptions) *gateway {
	t.Helper()
	g := &gateway{
		trunk:  newPeer(t, "127.0.0.1"),
		callee: newPeer(t, "127.0.0.1"),
		log:    &syncBuffer{},
	}
	log := slog.New(slog.NewTextHandler(g.log, &slog.HandlerOptions{Level: slog.LevelDebug}))

	st, err := store.Open(filepath.Join(t.TempDir(), "switchboard.db"))
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	g.store = st
	lo := freeRTPRange(t)
	ports, err := media.NewPortPool(lo, lo+rtpRangeSize-1)
	if err != nil {
		t.Fatalf("port pool: %v", err)
	}
	port := freeSIPPort(t)
	g.addr = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	srv, err := sbsip.New(sbsip.Config{
		Listen:         g.addr.String(),
		RTPAddress:     netip.MustParseAddr("127.0.0.1"),
		MaxMessageSize: 8192,
		Trunks: []sbsip.Trunk{{
			Name:           "carrier",
			Allow:          []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
			Proxy:          "sip:" + g.callee.hostport(),
			Username:       opt.Username,
			Password:       opt.Password,
			Register:       opt.Register,
			RegisterExpiry: opt.RegisterExpiry,
		}},
	}, ports, log)
	if err != nil {
		t.Fatalf("sip.New: %v", err)
	}
	g.srv = srv
	ring := opt.RingTimeout
	if ring == 0 {
		ring = 5 * time.Second
	}
	g.engine = call.New(call.Config{
		Numbers: []call.Number{{
			E164: ourNumber, Trunk: "carrier", Ringing: "forward", ForwardTo: forwardTo, RingTimeout: ring,
		}},
		DefaultRegion: "US",
		RTPTimeout:    opt.RTPTimeout,
	}, st, srv, &media.Stats{}, log)
	srv.SetHandler(g.engine)
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		cancel()
		t.Fatalf("sip Start: %v", err)
	}
	t.Cleanup(func() {
		// A test that failed midway leaves a call up: let the peers answer
		// the BYEs of the drain at once instead of making it wait Timer F.
		g.trunk.autoRespond("BYE", 200)
		g.callee.autoRespond("BYE", 200)
		dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Second)
		g.engine.Drain(dctx)
		dcancel()
		if err := srv.Close(); err != nil {
			t.Errorf("sip Close: %v", err)
		}
		cancel()
		if err := st.Close(); err != nil {
			t.Errorf("store Close: %v", err)
		}
		if t.Failed() {
			t.Logf("gateway log:\n%s", g.log.String())
		}
	})
	return g
}

// established is an answered call through the gateway with media known on
// both sides.
type established struct {
	caller    *uac
	callee    *uas
	callerRTP *rtpPeer
	calleeRTP *rtpPeer
	gwA       netip.AddrPort // the gateway's RTP address toward the caller
	gwB       netip.AddrPort // the gateway's RTP address toward the callee
}

// establish places a call with an SDP offer (PCMU, PCMA, telephone-event)
// from the trunk peer; the callee peer rings and answers PCMU.
func (g *gateway) establish(t *testing.T) *established {
	t.Helper()
	e := &established{callerRTP: newRTPPeer(t), calleeRTP: newRTPPeer(t)}
	e.caller = g.trunk.newUAC(g.addr, ourNumber)
	e.caller.sendInvite(sdpOffer(e.callerRTP.port, "sendrecv", 0, 8, 101))
	e.callee = g.callee.expectInvite(5 * time.Second)
	e.gwB = parseAudio(t, e.callee.invite.Body()).Addr
	e.callee.respond(180, "")
	e.callee.respond(200, sdpOffer(e.calleeRTP.port, "sendrecv", 0, 101))
	g.callee.wait(5*time.Second, "ACK of the callee's 200", isRequest("ACK", e.callee.callID()))
	res := e.caller.inviteFinal(5 * time.Second)
	if res.StatusCode != 200 {
		t.Fatalf("caller got %d %s, want 200", res.StatusCode, res.Reason)
	}
	e.caller.ack("")
	e.gwA = parseAudio(t, res.Body()).Addr
	return e
}

// hangupFromCaller ends e with a BYE from the caller and checks both legs
// end: 200 to the caller, BYE to the callee.
func (g *gateway) hangupFromCaller(t *testing.T, e *established) {
	t.Helper()
	g.callee.autoRespond("BYE", 200)
	cseq := e.caller.inDialog("BYE", "")
	if res := g.trunk.expectFinal(e.caller.callID, cseq, "BYE", 5*time.Second); res.StatusCode != 200 {
		t.Fatalf("BYE from the caller got %d %s, want 200", res.StatusCode, res.Reason)
	}
	g.callee.wait(5*time.Second, "BYE toward the callee", isRequest("BYE", e.callee.callID()))
	eventually(t, 5*time.Second, "engine has no active call", func() bool { return g.engine.Active() == 0 })
}

// lastCall returns the newest call record once it is closed.
func (g *gateway) lastCall(t *testing.T) store.CallRecord {
	t.Helper()
	var rec store.CallRecord
	eventually(t, 5*time.Second, "call record closed", func() bool {
		calls, _, err := g.store.ListCalls(store.ListOptions{Limit: 1})
		if err != nil {
			t.Fatalf("ListCalls: %v", err)
		}
		if len(calls) == 0 || calls[0].EndedAt == nil {
			return false
		}
		rec = calls[0]
		return true
	})
	return rec
}

// options sends OPTIONS from p to the gateway and returns the final response.
func (g *gateway) options(t *testing.T, p *peer) *sip.Response {
	t.Helper()
	callID := newID(10)
	p.send(request{
		Method: "OPTIONS", URI: "sip:" + g.addr.String(), Via: p.hostport(), Branch: newBranch(),
		From: "<sip:probe@" + p.addr.Addr().String() + ">;tag=" + newTag(), To: "<sip:" + g.addr.String() + ">",
		CallID: callID, CSeq: 1,
	}.text(), g.addr)
	return p.expectFinal(callID, 1, "OPTIONS", 5*time.Second)
}

// counterValue reads a counter of the process-wide registry; tests compare
// deltas because other tests count into the same counters.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatalf("read counter: %v", err)
	}
	return m.GetCounter().GetValue()
}

// header returns the value of the first header name of m, "" if absent.
func header(m interface{ GetHeader(string) sip.Header }, name string) string {
	if h := m.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// describe prints a response for failure messages.
func describe(res *sip.Response) string {
	return fmt.Sprintf("%d %s", res.StatusCode, res.Reason)
}
