package sip_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// A peer is a raw SIP user agent on one UDP socket: tests write every
// message as text, so they control each header, tag and retransmission the
// gateway sees, and they read what the gateway sends with sipgo's parser.
// This keeps the gateway's own SIP stack out of the peer's side of the wire.
type peer struct {
	t    testing.TB
	conn *net.UDPConn
	addr netip.AddrPort

	mu     sync.Mutex
	inbox  []*received
	arrive chan struct{}  // closed and replaced on every arrival
	auto   map[string]int // method -> status the peer answers with by itself
	done   chan struct{}
}

// received is one parsed SIP message and where it came from.
type received struct {
	msg   sip.Message
	from  netip.AddrPort
	at    time.Time
	seq   int // arrival order at this peer
	taken bool
}

// newPeer binds a peer on ip (a loopback address) with a kernel-chosen port.
func newPeer(t testing.TB, ip string) *peer {
	t.Helper()
	return newPeerOn(t, ip, 0)
}

// newPeerOn binds a peer on ip:port.
func newPeerOn(t testing.TB, ip string, port int) *peer {
	t.Helper()
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(ip), uint16(port))))
	if err != nil {
		t.Fatalf("peer: bind %s:%d: %v", ip, port, err)
	}
	p := &peer{
		t:      t,
		conn:   conn,
		addr:   conn.LocalAddr().(*net.UDPAddr).AddrPort(),
		arrive: make(chan struct{}),
		auto:   map[string]int{},
		done:   make(chan struct{}),
	}
	go p.read()
	t.Cleanup(func() {
		conn.Close()
		<-p.done
	})
	return p
}

// hostport is the peer's address as it appears in Via and Contact.
func (p *peer) hostport() string { return p.addr.String() }

func (p *peer) read() {
	defer close(p.done)
	parser := sip.NewParser()
	buf := make([]byte, 65535)
	for {
		n, from, err := p.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		msg, err := parser.ParseSIP(append([]byte(nil), buf[:n]...))
		if err != nil {
			p.t.Logf("peer %s: unparsable datagram from %s: %v\n%s", p.addr, from, err, buf[:n])
			continue
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		p.mu.Lock()
		if req, ok := msg.(*sip.Request); ok {
			if code, ok := p.auto[string(req.Method)]; ok {
				p.sendLocked(responseText(req, code, "", newTag(), nil, ""), from)
			}
		}
		p.inbox = append(p.inbox, &received{msg: msg, from: from, at: time.Now(), seq: len(p.inbox)})
		close(p.arrive)
		p.arrive = make(chan struct{})
		p.mu.Unlock()
	}
}

// autoRespond makes the peer answer every later request of method with code
// by itself (a BYE or CANCEL whose timing the test does not care about).
// The requests still reach the inbox.
func (p *peer) autoRespond(method string, code int) {
	p.mu.Lock()
	p.auto[method] = code
	p.mu.Unlock()
}

// send writes one message to dst.
func (p *peer) send(raw string, dst netip.AddrPort) {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sendLocked(raw, dst)
}

func (p *peer) sendLocked(raw string, dst netip.AddrPort) {
	if _, err := p.conn.WriteToUDPAddrPort([]byte(raw), dst); err != nil {
		p.t.Errorf("peer %s: send to %s: %v", p.addr, dst, err)
	}
}

// wait returns the oldest message not yet taken that match accepts, waiting
// up to timeout for one to arrive. It fails the test on timeout.
func (p *peer) wait(timeout time.Duration, what string, match func(*received) bool) *received {
	p.t.Helper()
	if r := p.poll(timeout, match); r != nil {
		return r
	}
	p.t.Fatalf("peer %s: no %s within %v; inbox:\n%s", p.addr, what, timeout, p.dump())
	return nil
}

// poll is wait without failing: nil when nothing matched within timeout.
func (p *peer) poll(timeout time.Duration, match func(*received) bool) *received {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		for _, r := range p.inbox {
			if !r.taken && match(r) {
				r.taken = true
				p.mu.Unlock()
				return r
			}
		}
		arrive := p.arrive
		p.mu.Unlock()
		select {
		case <-arrive:
		case <-deadline.C:
			return nil
		}
	}
}

// expectNone asserts that nothing match accepts arrives within window. It
// is only for negative checks, so the window is kept short.
func (p *peer) expectNone(window time.Duration, what string, match func(*received) bool) {
	p.t.Helper()
	if r := p.poll(window, match); r != nil {
		p.t.Fatalf("peer %s: unexpected %s from %s:\n%s", p.addr, what, r.from, r.msg)
	}
}

// dump lists the inbox for failure messages.
func (p *peer) dump() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for _, r := range p.inbox {
		fmt.Fprintf(&b, "  [taken=%t] %s from %s\n", r.taken, startLine(r.msg), r.from)
	}
	return b.String()
}

func startLine(m sip.Message) string {
	switch m := m.(type) {
	case *sip.Request:
		return m.StartLine() + " (CSeq " + m.CSeq().Value() + ")"
	case *sip.Response:
		return m.StartLine() + " (CSeq " + m.CSeq().Value() + ")"
	}
	return "?"
}

// expectRequest waits for a request of method, from anywhere.
func (p *peer) expectRequest(method string, timeout time.Duration) (*sip.Request, netip.AddrPort) {
	p.t.Helper()
	r := p.wait(timeout, method, func(r *received) bool {
		req, ok := r.msg.(*sip.Request)
		return ok && string(req.Method) == method
	})
	return r.msg.(*sip.Request), r.from
}

// isRequest matches requests of method within the call callID.
func isRequest(method, callID string) func(*received) bool {
	return func(r *received) bool {
		req, ok := r.msg.(*sip.Request)
		return ok && string(req.Method) == method && req.CallID() != nil && req.CallID().Value() == callID
	}
}

// expectFinal waits for the final response to the request with callID and
// CSeq number and method; provisional responses are left in the inbox.
func (p *peer) expectFinal(callID string, cseq uint32, method string, timeout time.Duration) *sip.Response {
	p.t.Helper()
	r := p.wait(timeout, fmt.Sprintf("final response to %d %s", cseq, method), isResponse(callID, cseq, method, func(code int) bool { return code >= 200 }))
	return r.msg.(*sip.Response)
}

// isResponse matches responses within the call callID to CSeq cseq method
// whose code ok accepts.
func isResponse(callID string, cseq uint32, method string, ok func(int) bool) func(*received) bool {
	return func(r *received) bool {
		res, isRes := r.msg.(*sip.Response)
		if !isRes || res.CallID() == nil || res.CallID().Value() != callID {
			return false
		}
		cs := res.CSeq()
		return cs != nil && cs.SeqNo == cseq && string(cs.MethodName) == method && ok(res.StatusCode)
	}
}

// newID returns n random bytes in hex, for tags, branches and Call-IDs.
func newID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func newTag() string { return newID(6) }

// newBranch returns an RFC 3261 §8.1.1.7 branch (magic cookie first).
func newBranch() string { return "z9hG4bK" + newID(8) }

// request is a SIP request as a test writes it.
type request struct {
	Method  string
	URI     string
	Via     string // host:port of the sender
	Branch  string
	From    string // full header values, tags included
	To      string
	CallID  string
	CSeq    uint32
	Contact string   // optional header value
	Headers []string // extra "Name: value" lines
	Body    string   // SDP when non-empty
}

// text renders r with Max-Forwards, Content-Type and Content-Length filled in.
func (r request) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", r.Method, r.URI)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;branch=%s;rport\r\n", r.Via, r.Branch)
	b.WriteString("Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\n", r.From, r.To, r.CallID, r.CSeq, r.Method)
	if r.Contact != "" {
		fmt.Fprintf(&b, "Contact: %s\r\n", r.Contact)
	}
	for _, h := range r.Headers {
		b.WriteString(h + "\r\n")
	}
	if r.Body != "" {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(r.Body), r.Body)
	return b.String()
}

// responseText answers req (RFC 3261 §8.2.6.2): Via, From, Call-ID, CSeq
// and Record-Route copied, toTag added to To unless it already has a tag.
// An empty reason uses the standard phrase; a body is SDP.
func responseText(req *sip.Request, code int, reason, toTag string, headers []string, body string) string {
	if reason == "" {
		reason = phrase(code)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", code, reason)
	for _, h := range req.GetHeaders("Via") {
		b.WriteString("Via: " + h.Value() + "\r\n")
	}
	for _, h := range req.GetHeaders("Record-Route") {
		b.WriteString("Record-Route: " + h.Value() + "\r\n")
	}
	to := req.To().Value()
	if !req.To().Params.Has("tag") && toTag != "" && code != 100 {
		to += ";tag=" + toTag
	}
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\n", req.From().Value(), to, req.CallID().Value(), req.CSeq().Value())
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	if body != "" {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return b.String()
}

func phrase(code int) string {
	switch code {
	case 100:
		return "Trying"
	case 180:
		return "Ringing"
	case 200:
		return "OK"
	case 401:
		return "Unauthorized"
	case 407:
		return "Proxy Authentication Required"
	case 487:
		return "Request Terminated"
	}
	return "Status " + strconv.Itoa(code)
}

// sdpOffer is a peer's audio description: RTP at 127.0.0.1:port (or at
// host when given, e.g. 0.0.0.0 for RFC 2543 hold), the payload types in
// order, telephone-event as 101 when listed, and direction dir.
func sdpOffer(port int, dir string, pts ...int) string {
	return sdpAt("127.0.0.1", port, dir, pts...)
}

func sdpAt(host string, port int, dir string, pts ...int) string {
	sessID, _ := strconv.ParseUint(newID(4), 16, 64) // RFC 4566 §5.2: numeric
	var fmts, maps []string
	for _, pt := range pts {
		fmts = append(fmts, strconv.Itoa(pt))
		switch pt {
		case 0:
			maps = append(maps, "a=rtpmap:0 PCMU/8000")
		case 8:
			maps = append(maps, "a=rtpmap:8 PCMA/8000")
		case 18:
			maps = append(maps, "a=rtpmap:18 G729/8000")
		case 101:
			maps = append(maps, "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16")
		}
	}
	lines := []string{
		"v=0",
		"o=peer " + strconv.FormatUint(sessID, 10) + " 1 IN IP4 " + host,
		"s=peer",
		"c=IN IP4 " + host,
		"t=0 0",
		"m=audio " + strconv.Itoa(port) + " RTP/AVP " + strings.Join(fmts, " "),
	}
	lines = append(lines, maps...)
	lines = append(lines, "a=ptime:20", "a="+dir)
	return strings.Join(lines, "\r\n") + "\r\n"
}

// audio is the first audio stream of an SDP body as a test checks it.
type audio struct {
	Addr    netip.AddrPort
	Formats []string
	Rtpmaps []string
	Dir     string
}

// parseAudio reads body's first audio stream, failing the test when there is none.
func parseAudio(t testing.TB, body []byte) audio {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		t.Fatalf("SDP does not parse: %v\n%s", err, body)
	}
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" {
			continue
		}
		conn := md.ConnectionInformation
		if conn == nil {
			conn = sd.ConnectionInformation
		}
		if conn == nil || conn.Address == nil {
			t.Fatalf("SDP audio stream has no c= line:\n%s", body)
		}
		ip, err := netip.ParseAddr(conn.Address.Address)
		if err != nil {
			t.Fatalf("SDP c= address %q: %v", conn.Address.Address, err)
		}
		a := audio{Addr: netip.AddrPortFrom(ip, uint16(md.MediaName.Port.Value)), Formats: md.MediaName.Formats, Dir: "sendrecv"}
		for _, attr := range append(sd.Attributes, md.Attributes...) {
			switch attr.Key {
			case "rtpmap":
				a.Rtpmaps = append(a.Rtpmaps, attr.Value)
			case "sendrecv", "sendonly", "recvonly", "inactive":
				a.Dir = attr.Key
			}
		}
		return a
	}
	t.Fatalf("SDP has no audio stream:\n%s", body)
	return audio{}
}

// uac is the caller's side of one call the trunk peer places into the
// gateway: the dialog state RFC 3261 §12.1.2 gives a UAC.
type uac struct {
	p      *peer
	gw     netip.AddrPort
	ruri   string
	from   string
	to     string // without tag
	callID string
	cseq   uint32 // last CSeq sent (not ACK/CANCEL)
	invite request
	ackSeq uint32 // CSeq of the INVITE or re-INVITE an ACK acknowledges
	toTag  string
	target string // remote target: Contact of the 2xx
}

// newUAC prepares a call from the peer to dialled at the gateway gw.
func (p *peer) newUAC(gw netip.AddrPort, dialled string) *uac {
	host := gw.String()
	return &uac{
		p:      p,
		gw:     gw,
		ruri:   "sip:" + dialled + "@" + host,
		from:   "<sip:+15557770123@" + p.addr.Addr().String() + ">;tag=" + newTag(),
		to:     "<sip:" + dialled + "@" + host + ">",
		callID: newID(10) + "@" + p.addr.Addr().String(),
	}
}

// sendInvite sends the initial INVITE with body (empty for a late offer).
func (c *uac) sendInvite(body string) {
	c.cseq++
	c.invite = request{
		Method: "INVITE", URI: c.ruri, Via: c.p.hostport(), Branch: newBranch(),
		From: c.from, To: c.to, CallID: c.callID, CSeq: c.cseq,
		Contact: "<sip:trunk@" + c.p.hostport() + ">", Body: body,
	}
	c.ackSeq = c.cseq
	c.p.send(c.invite.text(), c.gw)
}

// inviteFinal waits for the INVITE's final response and records the dialog
// the gateway formed (To tag, remote target).
func (c *uac) inviteFinal(timeout time.Duration) *sip.Response {
	c.p.t.Helper()
	res := c.p.expectFinal(c.callID, c.invite.CSeq, "INVITE", timeout)
	if tag, ok := res.To().Params.Get("tag"); ok {
		c.toTag = tag
	}
	if ct := res.Contact(); ct != nil && res.IsSuccess() {
		c.target = ct.Address.String()
	}
	return res
}

func (c *uac) toWithTag() string {
	if c.toTag == "" {
		return c.to
	}
	return c.to + ";tag=" + c.toTag
}

// ackFailure ACKs a non-2xx final response: same branch and Request-URI as
// the INVITE, so the gateway's server transaction absorbs it (RFC 3261 §17.1.1.3).
func (c *uac) ackFailure() {
	ack := c.invite
	ack.Method, ack.To, ack.Contact, ack.Body = "ACK", c.toWithTag(), "", ""
	c.p.send(ack.text(), c.gw)
}

// ack ACKs the 2xx to the latest INVITE or re-INVITE: a new transaction to
// the remote target with that INVITE's CSeq number (RFC 3261 §13.2.2.4),
// carrying body when the INVITE had no offer.
func (c *uac) ack(body string) {
	c.p.send(request{
		Method: "ACK", URI: c.target, Via: c.p.hostport(), Branch: newBranch(),
		From: c.from, To: c.toWithTag(), CallID: c.callID, CSeq: c.ackSeq, Body: body,
	}.text(), c.gw)
}

// cancel sends CANCEL for the INVITE (RFC 3261 §9.1: same branch, URI, CSeq number).
func (c *uac) cancel() {
	c.p.send(request{
		Method: "CANCEL", URI: c.ruri, Via: c.p.hostport(), Branch: c.invite.Branch,
		From: c.from, To: c.to, CallID: c.callID, CSeq: c.invite.CSeq,
	}.text(), c.gw)
}

// inDialog sends method within the dialog and returns its CSeq number.
func (c *uac) inDialog(method, body string, headers ...string) uint32 {
	c.cseq++
	r := request{
		Method: method, URI: c.target, Via: c.p.hostport(), Branch: newBranch(),
		From: c.from, To: c.toWithTag(), CallID: c.callID, CSeq: c.cseq, Headers: headers, Body: body,
	}
	if method == "INVITE" || method == "UPDATE" {
		r.Contact = "<sip:trunk@" + c.p.hostport() + ">"
	}
	if method == "INVITE" {
		c.ackSeq = c.cseq
	}
	c.p.send(r.text(), c.gw)
	return c.cseq
}

// uas is the callee's side of an INVITE the gateway sent to the peer.
type uas struct {
	p      *peer
	invite *sip.Request
	src    netip.AddrPort
	toTag  string
}

// expectInvite waits for an initial INVITE from the gateway.
func (p *peer) expectInvite(timeout time.Duration) *uas {
	p.t.Helper()
	req, src := p.expectRequest("INVITE", timeout)
	return &uas{p: p, invite: req, src: src, toTag: newTag()}
}

// callID is the Call-ID of the gateway's INVITE.
func (u *uas) callID() string { return u.invite.CallID().Value() }

// responseText renders a response to the INVITE with our To tag and Contact.
func (u *uas) responseText(code int, body string, headers ...string) string {
	if code >= 101 && code < 300 {
		headers = append([]string{"Contact: <sip:callee@" + u.p.hostport() + ">"}, headers...)
	}
	return responseText(u.invite, code, "", u.toTag, headers, body)
}

// respond sends a response to the INVITE and returns its text for retransmission.
func (u *uas) respond(code int, body string, headers ...string) string {
	raw := u.responseText(code, body, headers...)
	u.p.send(raw, u.src)
	return raw
}

// rtpPeer is a far end's RTP socket: it sends G.711 frames and counts what
// arrives, so a test sees media cross the gateway's bridge.
type rtpPeer struct {
	t    testing.TB
	conn *net.UDPConn
	port int
	pkts chan *rtp.Packet
	done chan struct{}

	mu   sync.Mutex
	seq  uint16
	ts   uint32
	ssrc uint32
}

func newRTPPeer(t testing.TB) *rtpPeer {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("rtp peer: %v", err)
	}
	r := &rtpPeer{t: t, conn: conn, port: conn.LocalAddr().(*net.UDPAddr).Port,
		pkts: make(chan *rtp.Packet, 1024), done: make(chan struct{}), ssrc: 0x5eed0000 | uint32(conn.LocalAddr().(*net.UDPAddr).Port)}
	go r.read()
	t.Cleanup(func() {
		conn.Close()
		<-r.done
	})
	return r
}

func (r *rtpPeer) read() {
	defer close(r.done)
	buf := make([]byte, 2048)
	for {
		n, err := r.conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		pkt := &rtp.Packet{}
		if pkt.Unmarshal(append([]byte(nil), buf[:n]...)) != nil {
			continue
		}
		select {
		case r.pkts <- pkt:
		default: // a test that stopped reading loses nothing it asserts on
		}
	}
}

// send writes one 20 ms G.711 frame of payload type pt to dst.
func (r *rtpPeer) send(dst netip.AddrPort, pt uint8) {
	r.mu.Lock()
	r.seq++
	r.ts += 160
	pkt := rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: r.seq, Timestamp: r.ts, SSRC: r.ssrc},
		Payload: make([]byte, 160),
	}
	r.mu.Unlock()
	raw, err := pkt.Marshal()
	if err != nil {
		r.t.Fatalf("rtp marshal: %v", err)
	}
	if _, err := r.conn.WriteToUDPAddrPort(raw, dst); err != nil {
		r.t.Errorf("rtp send to %s: %v", dst, err)
	}
}

// drain forgets packets received so far.
func (r *rtpPeer) drain() {
	for {
		select {
		case <-r.pkts:
		default:
			return
		}
	}
}

// flowsTo sends frames from r to dst every 20 ms until to receives one, and
// returns that packet; it fails the test after timeout. Sending a stream
// rather than one packet tolerates a bridge that starts an instant later.
func (r *rtpPeer) flowsTo(dst netip.AddrPort, to *rtpPeer, timeout time.Duration) *rtp.Packet {
	r.t.Helper()
	to.drain()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	r.send(dst, 0)
	for {
		select {
		case pkt := <-to.pkts:
			return pkt
		case <-tick.C:
			r.send(dst, 0)
		case <-deadline.C:
			r.t.Fatalf("RTP from port %d to %s never reached port %d within %v", r.port, dst, to.port, timeout)
			return nil
		}
	}
}

// silentFor sends n frames from r to dst, 20 ms apart, and asserts that to
// receives none of them (nor anything else) within the sending time plus
// window. Only for negative checks, so n and window stay small.
func (r *rtpPeer) silentFor(dst netip.AddrPort, to *rtpPeer, n int, window time.Duration) {
	r.t.Helper()
	to.drain()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for range n {
		r.send(dst, 0)
		select {
		case pkt := <-to.pkts:
			r.t.Fatalf("RTP reached port %d although it should not (seq %d)", to.port, pkt.SequenceNumber)
		case <-tick.C:
		}
	}
	select {
	case pkt := <-to.pkts:
		r.t.Fatalf("RTP reached port %d although it should not (seq %d)", to.port, pkt.SequenceNumber)
	case <-time.After(window):
	}
}

// eventually polls cond until it holds, failing the test after timeout. It
// is for state without an event to wait on (engine counters, the store).
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %v", what, timeout)
		}
		<-tick.C
	}
}
