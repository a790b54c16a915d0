package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"

	"switchboard/internal/testaudio"
	"switchboard/media"
)

// sipAgent is a minimal SIP user agent on sipgo: one UDP socket on
// 127.0.0.1 that both serves requests and sends ours, so Via, Contact and
// the source address agree (RFC 3261 §18.1.1).
type sipAgent struct {
	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	client  *sipgo.Client
	port    int
	contact sip.ContactHeader
}

// quietSIPLog keeps sipgo's own chatter out of the test output.
var quietSIPLog = slog.New(slog.DiscardHandler)

// newSIPAgent binds a UDP socket and starts serving it; register handlers
// on a.srv before anything can reach the port. Closed by test cleanup.
func newSIPAgent(t *testing.T, user string, setup func(a *sipAgent)) *sipAgent {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &sipAgent{port: conn.LocalAddr().(*net.UDPAddr).Port}
	a.ua, err = sipgo.NewUA(sipgo.WithUserAgent("switchboard-e2e-"+user), sipgo.WithUserAgentHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	a.srv, err = sipgo.NewServer(a.ua, sipgo.WithServerLogger(quietSIPLog))
	if err != nil {
		t.Fatal(err)
	}
	a.client, err = sipgo.NewClient(a.ua,
		sipgo.WithClientHostname("127.0.0.1"),
		sipgo.WithClientPort(a.port),
		sipgo.WithClientConnectionAddr(conn.LocalAddr().String()),
		sipgo.WithClientLogger(quietSIPLog),
	)
	if err != nil {
		t.Fatal(err)
	}
	a.contact = sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1", Port: a.port}}
	setup(a)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = a.srv.ServeUDP(conn)
	}()
	t.Cleanup(func() {
		_ = a.ua.Close()
		conn.Close()
		<-served
	})
	// ServeUDP registers the socket with sipgo's transport layer from its own
	// goroutine; until then the client would try to bind the port anew.
	local := conn.LocalAddr().String()
	err = waitFor(context.Background(), 5*time.Second, func() bool {
		_, err := a.ua.TransportLayer().GetConnection("udp", local)
		return err == nil
	})
	if err != nil {
		t.Fatalf("sipgo never served %s", local)
	}
	return a
}

// audioSDP describes one audio stream on 127.0.0.1 (RFC 4566).
func audioSDP(port int, pts ...uint8) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=e2e %d 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP", port, port)
	for _, pt := range pts {
		fmt.Fprintf(&b, " %d", pt)
	}
	b.WriteString("\r\n")
	for _, pt := range pts {
		switch pt {
		case media.PayloadPCMU:
			b.WriteString("a=rtpmap:0 PCMU/8000\r\n")
		case media.PayloadPCMA:
			b.WriteString("a=rtpmap:8 PCMA/8000\r\n")
		}
	}
	b.WriteString("a=ptime:20\r\na=sendrecv\r\n")
	return []byte(b.String())
}

// remoteAudio is the first audio stream of a session description: where to
// send RTP and the payload types in the order offered.
type remoteAudio struct {
	Addr    netip.AddrPort
	Formats []uint8
}

func parseAudioSDP(body []byte) (remoteAudio, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return remoteAudio{}, fmt.Errorf("SDP: %w", err)
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
			return remoteAudio{}, errors.New("SDP: audio without c= line")
		}
		ip, err := netip.ParseAddr(conn.Address.Address)
		if err != nil {
			return remoteAudio{}, fmt.Errorf("SDP: c= address: %w", err)
		}
		ra := remoteAudio{Addr: netip.AddrPortFrom(ip, uint16(md.MediaName.Port.Value))}
		for _, f := range md.MediaName.Formats {
			if n, err := strconv.ParseUint(f, 10, 7); err == nil {
				ra.Formats = append(ra.Formats, uint8(n))
			}
		}
		return ra, nil
	}
	return remoteAudio{}, errors.New("SDP: no audio stream")
}

// rtpPeer is one end of an audio stream: it sends a paced tone and decodes
// whatever G.711 arrives.
type rtpPeer struct {
	conn *net.UDPConn

	mu      sync.Mutex
	samples []int16       // decoded audio in arrival order
	byType  map[uint8]int // packets received per payload type
	from    map[string]bool
}

func newRTPPeer(t *testing.T) *rtpPeer {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := &rtpPeer{conn: conn, byType: map[uint8]int{}, from: map[string]bool{}}
	done := make(chan struct{})
	go p.receive(done)
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	return p
}

func (p *rtpPeer) port() int { return p.conn.LocalAddr().(*net.UDPAddr).Port }

func (p *rtpPeer) receive(done chan struct{}) {
	defer close(done)
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for {
		n, from, err := p.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		p.mu.Lock()
		p.byType[pkt.PayloadType]++
		p.from[from.String()] = true
		switch pkt.PayloadType {
		case media.PayloadPCMU:
			for _, b := range pkt.Payload {
				p.samples = append(p.samples, media.ULawToLinear[b])
			}
		case media.PayloadPCMA:
			for _, b := range pkt.Payload {
				p.samples = append(p.samples, media.ALawToLinear[b])
			}
		}
		p.mu.Unlock()
	}
}

// received returns a copy of the decoded audio and the packet counts.
func (p *rtpPeer) received() ([]int16, map[uint8]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	counts := make(map[uint8]int, len(p.byType))
	for k, v := range p.byType {
		counts[k] = v
	}
	return append([]int16(nil), p.samples...), counts
}

// sources lists the addresses RTP came from.
func (p *rtpPeer) sources() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.from))
	for a := range p.from {
		out = append(out, a)
	}
	return out
}

// sampleCount is how much audio has arrived, in samples.
func (p *rtpPeer) sampleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.samples)
}

// sendTone sends a sine at freq Hz and dbfs level in 20 ms G.711 frames of
// payload type pt to remote until ctx ends. The ticker is the media clock
// (RFC 3551 §4.5: 8000 Hz, 160 samples per 20 ms packet).
func (p *rtpPeer) sendTone(ctx context.Context, remote netip.AddrPort, pt uint8, freq, dbfs float64) error {
	const frame = 160
	dst := net.UDPAddrFromAddrPort(remote)
	amp := testaudio.AmplitudeForDBFS(dbfs)
	var phase float64
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SSRC: uint32(p.port())*7919 + uint32(pt)}}
	payload := make([]byte, frame)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		for j, s := range testaudio.Sine(freq, media.ClockRate, frame, amp, &phase) {
			if pt == media.PayloadPCMA {
				payload[j] = media.LinearToALaw(s)
			} else {
				payload[j] = media.LinearToULaw(s)
			}
		}
		pkt.SequenceNumber = uint16(i)
		pkt.Timestamp = uint32(i * frame)
		pkt.Marker = i == 0
		pkt.Payload = payload
		raw, err := pkt.Marshal()
		if err != nil {
			return err
		}
		if _, err := p.conn.WriteToUDP(raw, dst); err != nil {
			return fmt.Errorf("sending RTP to %s: %w", dst, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// toneCallee is a forward target written in Go: it answers every INVITE
// with one chosen codec and plays a tone back once the call is confirmed.
// calleeBase is what every test phone standing as the trunk's outbound
// proxy shares: a SIP agent whose INVITEs go to the phone's own handler
// (ACK and BYE are handled by the dialog cache), the problems it met, and
// one-shot signals under one mutex.
type calleeBase struct {
	agent  *sipAgent
	mu     sync.Mutex
	errs   []error
	byeGot chan struct{} // closed when the gateway's BYE arrived
}

// startAgent starts the phone's SIP agent, handing INVITEs to onInvite.
func (c *calleeBase) startAgent(t *testing.T, onInvite func(*sipgo.DialogServerCache, *sip.Request, sip.ServerTransaction)) {
	t.Helper()
	c.byeGot = make(chan struct{})
	c.agent = newSIPAgent(t, "callee", func(a *sipAgent) {
		dialogs := sipgo.NewDialogServerCache(a.client, a.contact)
		a.srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) { onInvite(dialogs, req, tx) })
		a.srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { _ = dialogs.ReadAck(req, tx) })
		a.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
			if err := dialogs.ReadBye(req, tx); err != nil {
				_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
				return
			}
			c.once(c.byeGot)
		})
	})
}

func (c *calleeBase) addr() string { return "127.0.0.1:" + strconv.Itoa(c.agent.port) }

// once closes ch unless it is closed already.
func (c *calleeBase) once(ch chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-ch:
	default:
		close(ch)
	}
}

func (c *calleeBase) fail(err error) {
	c.mu.Lock()
	c.errs = append(c.errs, err)
	c.mu.Unlock()
}

// problems returns what went wrong on the phone's side.
func (c *calleeBase) problems() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]error(nil), c.errs...)
}

type toneCallee struct {
	calleeBase
	rtp      *rtpPeer
	answerPT uint8
	freq     float64
	dbfs     float64

	invites   int
	invitedAt time.Time // when the first INVITE's handler started
	offer     remoteAudio
	answered  chan struct{} // closed when our 200 was ACKed
	sending   sync.WaitGroup
	stopTone  context.CancelFunc
}

func newToneCallee(t *testing.T, answerPT uint8, freq, dbfs float64) *toneCallee {
	t.Helper()
	return newToneCalleeSeeing(t, answerPT, freq, dbfs, nil)
}

// newToneCalleeSeeing is newToneCallee that also shows every INVITE to
// seen (may be nil) before answering it.
func newToneCalleeSeeing(t *testing.T, answerPT uint8, freq, dbfs float64, seen func(*sip.Request)) *toneCallee {
	t.Helper()
	c := &toneCallee{
		rtp:      newRTPPeer(t),
		answerPT: answerPT,
		freq:     freq,
		dbfs:     dbfs,
		answered: make(chan struct{}),
	}
	toneCtx, cancel := context.WithCancel(context.Background())
	c.stopTone = cancel
	c.startAgent(t, func(dialogs *sipgo.DialogServerCache, req *sip.Request, tx sip.ServerTransaction) {
		if seen != nil {
			seen(req)
		}
		c.onInvite(toneCtx, dialogs, req, tx)
	})
	t.Cleanup(func() {
		cancel()
		c.sending.Wait()
	})
	return c
}

// onInvite answers with answerPT if the offer has it (else 488) and keeps
// the handler running for the dialog's life, as sipgo requires.
func (c *toneCallee) onInvite(ctx context.Context, dialogs *sipgo.DialogServerCache, req *sip.Request, tx sip.ServerTransaction) {
	c.mu.Lock()
	c.invites++
	if c.invitedAt.IsZero() {
		c.invitedAt = time.Now()
	}
	c.mu.Unlock()
	dlg, err := dialogs.ReadInvite(req, tx)
	if err != nil {
		c.fail(fmt.Errorf("callee: INVITE: %w", err))
		return
	}
	defer dlg.Close()
	offer, err := parseAudioSDP(req.Body())
	if err != nil {
		c.fail(fmt.Errorf("callee: offer: %w", err))
		_ = dlg.Respond(400, "Bad SDP", nil)
		return
	}
	c.mu.Lock()
	c.offer = offer
	c.mu.Unlock()
	found := false
	for _, f := range offer.Formats {
		found = found || f == c.answerPT
	}
	if !found {
		c.fail(fmt.Errorf("callee: offer %v lacks payload type %d", offer.Formats, c.answerPT))
		_ = dlg.Respond(488, "Not Acceptable Here", nil)
		return
	}
	if err := dlg.Respond(180, "Ringing", nil); err != nil {
		c.fail(fmt.Errorf("callee: 180: %w", err))
		return
	}
	// RespondSDP returns once the ACK for the 200 arrived (RFC 3261 §13.3.1.4).
	if err := dlg.RespondSDP(audioSDP(c.rtp.port(), c.answerPT)); err != nil {
		c.fail(fmt.Errorf("callee: 200: %w", err))
		return
	}
	c.once(c.answered)
	c.sending.Add(1)
	go func() {
		defer c.sending.Done()
		if err := c.rtp.sendTone(ctx, offer.Addr, c.answerPT, c.freq, c.dbfs); err != nil {
			c.fail(fmt.Errorf("callee: %w", err))
		}
	}()
	select {
	case <-dlg.Context().Done():
	case <-ctx.Done():
	}
}

// firstInvite returns when the first INVITE arrived (taken as its handler
// starts, within a millisecond of the datagram); zero if none did.
func (c *toneCallee) firstInvite() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.invitedAt
}

// offered returns the gateway's SDP offer to the callee.
func (c *toneCallee) offered() remoteAudio {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offer
}

// inviteCount is how many INVITEs reached the callee.
func (c *toneCallee) inviteCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.invites
}

// goCaller is a trunk-side caller written in Go.
type goCaller struct {
	agent   *sipAgent
	dialogs *sipgo.DialogClientCache
	byeGot  chan struct{} // closed when the gateway's BYE arrived
	byeOnce sync.Once
}

func newGoCaller(t *testing.T) *goCaller {
	t.Helper()
	c := &goCaller{byeGot: make(chan struct{})}
	c.agent = newSIPAgent(t, callerNumber, func(a *sipAgent) {
		c.dialogs = sipgo.NewDialogClientCache(a.client, a.contact)
		a.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
			if err := c.dialogs.ReadBye(req, tx); err != nil {
				_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
				return
			}
			c.byeOnce.Do(func() { close(c.byeGot) })
		})
	})
	return c
}

// call sends an INVITE with sdpBody to number at the gateway, waits for the
// answer and ACKs it.
func (c *goCaller) call(ctx context.Context, gatewayAddr, number string, sdpBody []byte) (*sipgo.DialogClientSession, error) {
	host, portStr, err := net.SplitHostPort(gatewayAddr)
	if err != nil {
		return nil, err
	}
	port, _ := strconv.Atoi(portStr)
	to := sip.Uri{Scheme: "sip", User: number, Host: host, Port: port}
	from := &sip.FromHeader{
		DisplayName: "Go Caller",
		Address:     sip.Uri{Scheme: "sip", User: callerNumber, Host: "127.0.0.1"},
		Params:      sip.NewParams(),
	}
	from.Params.Add("tag", sip.GenerateTagN(16))
	dlg, err := c.dialogs.Invite(ctx, to, sdpBody, from, sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		return nil, fmt.Errorf("INVITE: %w", err)
	}
	if err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		_ = dlg.Close()
		return nil, fmt.Errorf("waiting for the answer: %w", err)
	}
	if err := dlg.Ack(ctx); err != nil {
		return nil, fmt.Errorf("ACK: %w", err)
	}
	return dlg, nil
}

// playTone sends a tone from p to remote as pt in the background until the
// returned stop is called; stop waits for the sender to finish.
func (p *rtpPeer) playTone(ctx context.Context, t *testing.T, remote netip.AddrPort, pt uint8, freq, dbfs float64) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var sending sync.WaitGroup
	sending.Add(1)
	go func() {
		defer sending.Done()
		if err := p.sendTone(ctx, remote, pt, freq, dbfs); err != nil {
			t.Errorf("sending tone: %v", err)
		}
	}()
	return func() {
		cancel()
		sending.Wait()
	}
}
