package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// tortureDir holds the RFC 4475 messages, byte-exact, with SOURCE.txt
// saying what the RFC calls each one.
const tortureDir = "testdata/rfc4475"

// tortureMessage is one file of the RFC 4475 archive.
type tortureMessage struct {
	file     string
	section  string
	title    string
	category string // "valid", "invalid", "transaction", "application-layer", ...
	data     []byte
}

// loadTorture reads SOURCE.txt's per-file map and every file it names,
// checking each file's SHA-256 so a checkout that rewrote line endings
// fails here rather than as a puzzling gateway bug.
func loadTorture(t *testing.T) []tortureMessage {
	t.Helper()
	src, err := os.Open(filepath.Join(tortureDir, "SOURCE.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var msgs []tortureMessage
	sc := bufio.NewScanner(src)
	for sc.Scan() {
		// file | section | title | category | bytes | sha256
		f := strings.Split(sc.Text(), "|")
		if len(f) != 6 || !strings.HasSuffix(strings.TrimSpace(f[0]), ".dat") {
			continue
		}
		m := tortureMessage{
			file:     strings.TrimSpace(f[0]),
			section:  strings.TrimSpace(f[1]),
			title:    strings.TrimSpace(f[2]),
			category: strings.Fields(strings.TrimSpace(f[3]))[0],
		}
		m.data, err = os.ReadFile(filepath.Join(tortureDir, m.file))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(m.data)
		if got, want := hex.EncodeToString(sum[:]), strings.TrimSpace(f[5]); got != want {
			t.Fatalf("%s: sha256 %s, SOURCE.txt says %s (line endings rewritten by git?)", m.file, got, want)
		}
		msgs = append(msgs, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(tortureDir, "*.dat"))
	if len(msgs) != len(files) || len(msgs) < 40 {
		t.Fatalf("SOURCE.txt maps %d files, the directory holds %d", len(msgs), len(files))
	}
	return msgs
}

// sipStatus is one response as it came back: "404 Not Found".
type sipStatus struct {
	code   int
	reason string
}

func (s sipStatus) String() string { return fmt.Sprintf("%d %s", s.code, s.reason) }

// parseStatusLine reads "SIP/2.0 404 Not Found" (RFC 3261 §7.2).
func parseStatusLine(line string) (sipStatus, bool) {
	rest, ok := strings.CutPrefix(line, "SIP/2.0 ")
	if !ok || len(rest) < 3 {
		return sipStatus{}, false
	}
	code, err := strconv.Atoi(rest[:3])
	if err != nil {
		return sipStatus{}, false
	}
	return sipStatus{code: code, reason: strings.TrimSpace(rest[3:])}, true
}

// splitStream cuts a TCP byte stream into SIP messages using Content-Length
// (RFC 3261 §18.3) and returns the status of each response among them.
func splitStream(data []byte) []sipStatus {
	var out []sipStatus
	for len(data) > 0 {
		data = bytes.TrimLeft(data, "\r\n")
		end := bytes.Index(data, []byte("\r\n\r\n"))
		if end < 0 {
			break
		}
		head := string(data[:end])
		data = data[end+4:]
		first, _, _ := strings.Cut(head, "\r\n")
		if st, ok := parseStatusLine(first); ok {
			out = append(out, st)
		}
		for _, line := range strings.Split(head, "\r\n") {
			name, val, ok := strings.Cut(line, ":")
			name = strings.ToLower(strings.TrimSpace(name))
			if ok && (name == "content-length" || name == "l") {
				if n, err := strconv.Atoi(strings.TrimSpace(val)); err == nil && n >= 0 && n <= len(data) {
					data = data[n:]
				}
			}
		}
	}
	return out
}

func randomToken() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// optionsPing sends an OPTIONS from a fresh UDP socket on 127.0.0.1 (an
// allowed trunk source) and returns the final response's status.
func optionsPing(gatewayAddr string) (sipStatus, error) {
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return sipStatus{}, err
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	tok := randomToken()
	msg := "OPTIONS sip:ping@" + gatewayAddr + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK-" + tok + ";rport\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: <sip:e2e@127.0.0.1>;tag=" + tok + "\r\n" +
		"To: <sip:ping@" + gatewayAddr + ">\r\n" +
		"Call-ID: " + tok + "@127.0.0.1\r\n" +
		"CSeq: 1 OPTIONS\r\n" +
		"Accept: application/sdp\r\n" +
		"Content-Length: 0\r\n\r\n"
	dst, err := net.ResolveUDPAddr("udp4", gatewayAddr)
	if err != nil {
		return sipStatus{}, err
	}
	if _, err := conn.WriteTo([]byte(msg), dst); err != nil {
		return sipStatus{}, err
	}
	statuses, err := collectUDP(conn, 3*time.Second)
	if err != nil {
		return sipStatus{}, err
	}
	for _, st := range statuses {
		if st.code >= 200 {
			return st, nil
		}
	}
	return sipStatus{}, errors.New("no final response to OPTIONS within 3s")
}

// collectUDP reads responses until a final one arrives or within passes:
// for a message the gateway drops, the wait is the only way to know.
func collectUDP(conn net.PacketConn, within time.Duration) ([]sipStatus, error) {
	var out []sipStatus
	deadline := time.Now().Add(within)
	buf := make([]byte, 65535)
	for {
		if err := conn.SetReadDeadline(deadline); err != nil {
			return out, err
		}
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return out, nil
			}
			return out, err
		}
		first, _, _ := bytes.Cut(buf[:n], []byte("\r\n"))
		st, ok := parseStatusLine(string(first))
		if !ok {
			continue // a request (the gateway never sends one here) or noise
		}
		out = append(out, st)
		if st.code >= 200 {
			return out, nil
		}
	}
}

// viaPorts are the sent-by ports in the torture messages' top Via headers
// (5060 when none is written). Without rport, RFC 3261 §18.2.2 sends the
// response to the packet's source IP at that port, not to the source port.
var viaPorts = []int{5060, 5050}

// tortureProbe sends one torture message from its own loopback address and
// listens on that address at every port a response may be sent to: UDP and
// TCP on viaPorts, plus the connection it sent on. A fresh address per
// message means late retransmissions of one message's responses never land
// in another's window.
type tortureProbe struct {
	addr      netip.Addr
	udp       []net.PacketConn
	listeners []net.Listener
	statuses  chan sipStatus
	closed    chan struct{}
	wg        sync.WaitGroup

	mu    sync.Mutex
	conns []net.Conn
}

func newTortureProbe(addr netip.Addr) (*tortureProbe, error) {
	p := &tortureProbe{addr: addr, statuses: make(chan sipStatus, 64), closed: make(chan struct{})}
	for _, port := range viaPorts {
		ap := netip.AddrPortFrom(addr, uint16(port)).String()
		u, err := net.ListenPacket("udp4", ap)
		if err != nil {
			p.close()
			return nil, fmt.Errorf("probe: %w", err)
		}
		p.udp = append(p.udp, u)
		l, err := net.Listen("tcp4", ap)
		if err != nil {
			p.close()
			return nil, fmt.Errorf("probe: %w", err)
		}
		p.listeners = append(p.listeners, l)
	}
	for _, u := range p.udp {
		p.wg.Add(1)
		go p.readUDP(u)
	}
	for _, l := range p.listeners {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				p.track(c)
			}
		}()
	}
	return p, nil
}

func (p *tortureProbe) emit(st sipStatus) {
	select {
	case p.statuses <- st:
	case <-p.closed:
	}
}

func (p *tortureProbe) readUDP(u net.PacketConn) {
	defer p.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, _, err := u.ReadFrom(buf)
		if err != nil {
			return
		}
		first, _, _ := bytes.Cut(buf[:n], []byte("\r\n"))
		if st, ok := parseStatusLine(string(first)); ok {
			p.emit(st)
		}
	}
}

// track reads SIP responses from a TCP connection until it closes.
func (p *tortureProbe) track(c net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		var stream []byte
		emitted := 0
		buf := make([]byte, 65535)
		for {
			n, err := c.Read(buf)
			stream = append(stream, buf[:n]...)
			statuses := splitStream(stream)
			for ; emitted < len(statuses); emitted++ {
				p.emit(statuses[emitted])
			}
			if err != nil {
				return
			}
		}
	}()
}

// send delivers msg to the gateway: one datagram from port 5060 of the
// probe's address, or the bytes on a new TCP connection from it.
func (p *tortureProbe) send(transport, gatewayAddr string, msg []byte) error {
	if transport == "udp" {
		dst, err := net.ResolveUDPAddr("udp4", gatewayAddr)
		if err != nil {
			return err
		}
		_, err = p.udp[0].WriteTo(msg, dst)
		return err
	}
	d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: p.addr.AsSlice()}}
	c, err := d.Dial("tcp4", gatewayAddr)
	if err != nil {
		return err
	}
	p.track(c)
	_, err = c.Write(msg)
	return err
}

// collect returns the responses that arrive until a final one or within
// passes: for a message the gateway drops, waiting is the only way to know.
func (p *tortureProbe) collect(within time.Duration) []sipStatus {
	var out []sipStatus
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		select {
		case st := <-p.statuses:
			out = append(out, st)
			if st.code >= 200 {
				return out
			}
		case <-timer.C:
			return out
		}
	}
}

func (p *tortureProbe) close() {
	close(p.closed)
	for _, u := range p.udp {
		u.Close()
	}
	for _, l := range p.listeners {
		l.Close()
	}
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// probeSubnet picks a /24 inside 127.0.0.0/8 for this run's probes, so two
// runs on one machine do not meet, and checks port 5060 is free there.
func probeSubnet(t *testing.T) netip.Prefix {
	t.Helper()
	for range 50 {
		b := [4]byte{127, byte(100 + mrand.IntN(100)), byte(mrand.IntN(256)), 0}
		pfx := netip.PrefixFrom(netip.AddrFrom4(b), 24)
		probe, err := newTortureProbe(pfx.Addr().Next())
		if err != nil {
			continue
		}
		probe.close()
		return pfx
	}
	t.Fatalf("no loopback /24 where UDP and TCP ports %v are free (is something bound to 0.0.0.0:5060?)", viaPorts)
	return netip.Prefix{}
}

// TestRFC4475Torture feeds every RFC 4475 torture message to the gateway
// over UDP and TCP. The gateway must stay up (an OPTIONS before and after
// each message gets 200), never crash or log a panic, never accept a message
// the RFC calls invalid (no 2xx, final answers 4xx/5xx), and never send an
// INVITE to the trunk: none of these messages addresses one of our numbers.
//
// Each transport gets its own gateway: the same bytes sent again over TCP
// would match the UDP pass's server transaction (RFC 3261 §17.2.3: branch,
// sent-by and method) and only earn a retransmission of its response.
func TestRFC4475Torture(t *testing.T) {
	msgs := loadTorture(t)
	subnet := probeSubnet(t)
	const window = 400 * time.Millisecond
	next := subnet.Addr()
	newProbe := func(t *testing.T) *tortureProbe {
		t.Helper()
		next = next.Next()
		p, err := newTortureProbe(next)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.close)
		return p
	}

	var report []string
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			sink := newUDPSink(t)
			g := startGateway(t, gatewayOptions{Proxy: sink.addr(), Allow: []string{"127.0.0.1/32", subnet.String()}})
			alive := func(t *testing.T, when string) {
				t.Helper()
				st, err := optionsPing(g.sipAddr)
				if err != nil || st.code != 200 {
					t.Fatalf("OPTIONS %s: %v %v, want 200 (gateway down?)", when, st, err)
				}
			}
			for _, m := range msgs {
				t.Run(strings.TrimSuffix(m.file, ".dat"), func(t *testing.T) {
					alive(t, "before")
					sentBefore, _ := sink.received()
					probe := newProbe(t)
					if err := probe.send(transport, g.sipAddr, m.data); err != nil {
						t.Errorf("sending: %v", err)
					}
					statuses := probe.collect(window)
					alive(t, "after")
					got := fmt.Sprint(statuses)
					if len(statuses) == 0 {
						got = "no response"
					}
					line := fmt.Sprintf("%-15s %-9s %-22s %s: %s", m.file, m.section, m.category, transport, got)
					t.Log(line)
					report = append(report, line)

					if m.category == "invalid" {
						for _, st := range statuses {
							if st.code >= 200 && (st.code < 400 || st.code >= 600) {
								t.Errorf("RFC 4475 §%s calls %s invalid, the gateway answered %v", m.section, m.file, st)
							}
						}
					}
					// Where the RFC names the answer, hold the gateway to it.
					// On TCP, two Content-Lengths lose the stream's framing
					// itself (RFC 3261 §18.3): dropping it is the answer there.
					if want, ok := rfcAnswer[m.file]; ok && !(transport == "tcp" && m.file == "mcl01.dat") {
						found := false
						for _, st := range statuses {
							found = found || st.code == want
						}
						if !found {
							t.Errorf("RFC 4475 §%s: %s wants %d, the gateway answered %s", m.section, m.file, want, got)
						}
					}
					if sentAfter, lines := sink.received(); sentAfter != sentBefore {
						t.Errorf("the trunk proxy received %d datagram(s) after %s: %s",
							sentAfter-sentBefore, m.file, strings.Join(lines[sentBefore:], " | "))
					}
				})
			}

			if transport == "udp" {
				// A datagram over max_message_size (8192) is dropped unparsed and counted.
				t.Run("oversize", func(t *testing.T) {
					alive(t, "before")
					tooLargeBefore := g.metrics(t).get("switchboard_rejected_requests_total", map[string]string{"reason": "too_large"})
					probe := newProbe(t)
					big := "OPTIONS sip:ping@" + g.sipAddr + " SIP/2.0\r\n" +
						"Via: SIP/2.0/UDP " + probe.addr.String() + ";branch=z9hG4bK-big\r\nMax-Forwards: 70\r\n" +
						"From: <sip:e2e@127.0.0.1>;tag=big\r\nTo: <sip:ping@127.0.0.1>\r\nCall-ID: big@127.0.0.1\r\nCSeq: 1 OPTIONS\r\n" +
						"X-Padding: " + strings.Repeat("x", 9000) + "\r\nContent-Length: 0\r\n\r\n"
					if err := probe.send("udp", g.sipAddr, []byte(big)); err != nil {
						t.Fatal(err)
					}
					if statuses := probe.collect(window); len(statuses) != 0 {
						t.Errorf("a %d-byte datagram got %v, want it dropped", len(big), statuses)
					}
					g.waitMetric(t, 2*time.Second, "switchboard_rejected_requests_total", map[string]string{"reason": "too_large"},
						func(v float64) bool { return v >= tooLargeBefore+1 })
					alive(t, "after")
				})
			}

			if n, lines := sink.received(); n != 0 {
				t.Errorf("the trunk proxy received %d datagram(s) in total: %s", n, strings.Join(lines, " | "))
			}
			g.stop(t) // SIGTERM, exit 0, and no "panic" in the log
		})
	}
	t.Logf("RFC 4475 results:\n%s", strings.Join(report, "\n"))
}

// rfcAnswer lists the torture messages whose RFC 4475 text names the
// response an element gives, and that response.
var rfcAnswer = map[string]int{
	"escruri.dat": 400, // §3.1.2.11: escaped headers in the Request-URI
	"baddate.dat": 400, // §3.1.2.12: Date not in GMT
	"mcl01.dat":   400, // §3.3.9: multiple Content-Length values
	"insuf.dat":   400, // §3.3.1: missing mandatory headers
	"unkscm.dat":  416, // §3.3.2: unknown Request-URI scheme
	"bext01.dat":  420, // §3.3.5: unknown Require option
	"invut.dat":   415, // §3.3.6: unknown Content-Type
}
