package media

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/transport/v4/packetio"
	"github.com/pion/webrtc/v4"

	"switchboard/internal/testaudio"
)

// testWebRTCConfig keeps the switch's ICE on loopback.
var testWebRTCConfig = WebRTCConfig{Loopback: true, Interfaces: []string{"lo"}}

// Payload types a Chrome offer uses for telephone-event, deliberately not
// the switch's 101, so the tests prove the offer's numbering wins.
const (
	chromeDTMF8k  = 126
	chromeDTMF48k = 110
)

// newTestWebRTC returns a WebRTC on loopback with production timeouts.
func newTestWebRTC(t testing.TB) *WebRTC {
	t.Helper()
	w, err := NewWebRTC(testWebRTCConfig)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// browser is a real pion peer connection playing Chrome: it offers opus
// first, then PCMU, PCMA and telephone-event at 48 and 8 kHz.
type browser struct {
	t         testing.TB
	pc        *webrtc.PeerConnection
	track     *rtpTrack
	remote    chan *webrtc.TrackRemote
	connected chan struct{}
	closed    chan struct{}
}

// browserOptions tune the browser's network for the dead-peer tests.
type browserOptions struct {
	mux ice.UDPMux // all ICE traffic through this mux (a cuttable socket)
	// lean drops pion's default interceptors (Chrome-like RTCP, NACK,
	// TWCC), so a benchmark counts the switch's costs, not the browser's.
	lean bool
	// noDTMF leaves telephone-event out of the offer, as some clients do.
	noDTMF bool
	// onlyPCMU offers PCMU as the only G.711 codec.
	onlyPCMU bool
}

func newBrowser(t testing.TB, opt browserOptions) *browser {
	t.Helper()
	var me webrtc.MediaEngine
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 48000, Channels: 1,
			SDPFmtpLine: "0-15"}, PayloadType: chromeDTMF48k},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1}, PayloadType: 0},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000, Channels: 1}, PayloadType: 8},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 8000, Channels: 1,
			SDPFmtpLine: "0-15"}, PayloadType: chromeDTMF8k},
	} {
		if opt.noDTMF && c.MimeType == "audio/telephone-event" {
			continue
		}
		if opt.onlyPCMU && c.MimeType == webrtc.MimeTypePCMA {
			continue
		}
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
	}
	var se webrtc.SettingEngine
	se.LoggerFactory = pionLoggerFactory{}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	if opt.mux != nil {
		se.SetICEUDPMux(opt.mux)
	}
	opts := []func(*webrtc.API){webrtc.WithMediaEngine(&me), webrtc.WithSettingEngine(se)}
	if opt.lean {
		opts = append(opts, webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
	}
	pc, err := webrtc.NewAPI(opts...).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, pc: pc, track: &rtpTrack{}, remote: make(chan *webrtc.TrackRemote, 1),
		connected: make(chan struct{}), closed: make(chan struct{})}
	t.Cleanup(func() { pc.Close() })
	var connOnce, closeOnce atomic.Bool
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected:
			if connOnce.CompareAndSwap(false, true) {
				close(b.connected)
			}
		case webrtc.PeerConnectionStateClosed, webrtc.PeerConnectionStateFailed:
			if closeOnce.CompareAndSwap(false, true) {
				close(b.closed)
			}
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { b.remote <- tr })
	if _, err := pc.AddTransceiverFromTrack(b.track,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
		t.Fatal(err)
	}
	return b
}

// offer creates the browser's offer. With gather it waits for all
// candidates (the SDP carries them); without, the SDP has none and the
// caller trickles them.
func (b *browser) offer(gather bool) string {
	b.t.Helper()
	o, err := b.pc.CreateOffer(nil)
	if err != nil {
		b.t.Fatal(err)
	}
	done := webrtc.GatheringCompletePromise(b.pc)
	if err := b.pc.SetLocalDescription(o); err != nil {
		b.t.Fatal(err)
	}
	if !gather {
		return o.SDP
	}
	select {
	case <-done:
	case <-time.After(recvTimeout):
		b.t.Fatal("browser: ICE gathering did not complete")
	}
	return b.pc.LocalDescription().SDP
}

func (b *browser) setAnswer(answer string) {
	b.t.Helper()
	if err := b.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		b.t.Fatal(err)
	}
}

func await(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(recvTimeout):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// send writes one RTP packet from the browser with the given header fields.
func (b *browser) send(pt uint8, seq uint16, ts uint32, marker bool, payload []byte) {
	b.t.Helper()
	pkt, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts,
		SSRC: 0xb40, Marker: marker}, Payload: payload}).Marshal()
	if err != nil {
		b.t.Fatal(err)
	}
	bind := b.track.binding.Load()
	if bind == nil {
		b.t.Fatal("browser track not bound")
	}
	var h rtp.Header
	if _, err := h.Unmarshal(pkt); err != nil {
		b.t.Fatal(err)
	}
	h.SSRC = bind.ssrc
	if _, err := bind.w.WriteRTP(&h, payload); err != nil {
		b.t.Fatal(err)
	}
}

// remoteTrack waits for the switch's audio to arrive at the browser.
func (b *browser) remoteTrack() *webrtc.TrackRemote {
	b.t.Helper()
	select {
	case tr := <-b.remote:
		return tr
	case <-time.After(recvTimeout):
		b.t.Fatal("browser: no track from the switch")
	}
	return nil
}

// connectBrowser negotiates a browser with w and waits until both ends are
// connected.
func connectBrowser(t testing.TB, w *WebRTC, prefer Direction, opt browserOptions) (*browser, *WebRTCPeer, string) {
	t.Helper()
	b := newBrowser(t, opt)
	ctx, cancel := context.WithTimeout(context.Background(), recvTimeout)
	defer cancel()
	peer, answer, err := w.Answer(ctx, b.offer(true), prefer)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	b.setAnswer(answer)
	await(t, b.connected, "browser connected")
	return b, peer, answer
}

// audioFormats returns the payload types of the first audio m= line.
func audioFormats(t testing.TB, s string) []string {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(s); err != nil {
		t.Fatal(err)
	}
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media == "audio" {
			return m.MediaName.Formats
		}
	}
	t.Fatal("no audio m= line")
	return nil
}

func TestWebRTCAnswerNegotiatesG711(t *testing.T) {
	w := newTestWebRTC(t)
	for _, tt := range []struct {
		name    string
		prefer  Direction
		want    Direction
		formats string
	}{
		{"phone speaks PCMA", Direction{PayloadType: PayloadPCMA, DTMFType: 96}, Direction{PayloadType: PayloadPCMA, DTMFType: chromeDTMF8k}, "8 0 126"},
		{"phone speaks PCMU", Direction{PayloadType: PayloadPCMU, DTMFType: 101}, Direction{PayloadType: PayloadPCMU, DTMFType: chromeDTMF8k}, "0 8 126"},
		{"phone speaks G.722", Direction{PayloadType: 9}, Direction{PayloadType: PayloadPCMU, DTMFType: chromeDTMF8k}, "0 8 126"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, peer, answer := connectBrowser(t, w, tt.prefer, browserOptions{})
			if got := peer.Direction(); got != tt.want {
				t.Fatalf("Direction = %+v, want %+v", got, tt.want)
			}
			if got := strings.Join(audioFormats(t, answer), " "); got != tt.formats {
				t.Fatalf("answer formats %q, want %q (no opus, phone's codec first)", got, tt.formats)
			}
			if strings.Contains(strings.ToLower(answer), "opus") {
				t.Fatal("answer mentions opus")
			}
			ap, err := netip.ParseAddrPort(peer.RemoteAddr())
			if err != nil || ap.Addr() != loopback {
				t.Fatalf("RemoteAddr = %q, want 127.0.0.1:port", peer.RemoteAddr())
			}
		})
	}
}

// TestWebRTCAnswerWithoutTelephoneEvent: an offer without RFC 4733 events is
// answered with audio only, whatever DTMF the phone side speaks.
func TestWebRTCAnswerWithoutTelephoneEvent(t *testing.T) {
	w := newTestWebRTC(t)
	_, peer, answer := connectBrowser(t, w, Direction{PayloadType: PayloadPCMA, DTMFType: 101}, browserOptions{noDTMF: true})
	if got := peer.Direction(); got != (Direction{PayloadType: PayloadPCMA}) {
		t.Fatalf("Direction = %+v, want PCMA without DTMF", got)
	}
	if got := strings.Join(audioFormats(t, answer), " "); got != "8 0" {
		t.Fatalf("answer formats %q, want \"8 0\"", got)
	}
}

// TestWebRTCAnswerPCMUOnlyOffer: a phone side speaking PCMA still gets an
// answer from a browser that offers only PCMU (the bridge transcodes).
func TestWebRTCAnswerPCMUOnlyOffer(t *testing.T) {
	w := newTestWebRTC(t)
	_, peer, answer := connectBrowser(t, w, Direction{PayloadType: PayloadPCMA}, browserOptions{onlyPCMU: true})
	if got := peer.Direction().PayloadType; got != PayloadPCMU {
		t.Fatalf("audio PT = %d, want PCMU", got)
	}
	if got := strings.Join(audioFormats(t, answer), " "); got != "0 126" {
		t.Fatalf("answer formats %q, want \"0 126\"", got)
	}
}

func TestWebRTCAnswerRejectsBadOffers(t *testing.T) {
	w := newTestWebRTC(t)
	opusOnly := "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n" +
		"a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" +
		"a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n" +
		"a=setup:actpass\r\na=sendrecv\r\na=rtcp-mux\r\n"
	videoOnly := strings.Replace(strings.Replace(opusOnly, "m=audio", "m=video", 1), "opus/48000/2", "VP8/90000", 1)
	for _, tt := range []struct {
		name  string
		offer string
		want  error
	}{
		{"garbage", "hello", ErrBadOffer},
		{"empty", "", ErrBadOffer},
		{"video only", videoOnly, ErrBadOffer},
		{"opus only", opusOnly, ErrNoCodec},
	} {
		t.Run(tt.name, func(t *testing.T) {
			peer, answer, err := w.Answer(context.Background(), tt.offer, Direction{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if peer != nil || answer != "" {
				t.Fatal("a failed Answer returned a peer or an answer")
			}
		})
	}
}

// webrtcRig is a phone on plain UDP bridged to a browser on WebRTC.
type webrtcRig struct {
	ph       *phone
	ep       *Endpoint
	br       *browser
	peer     *WebRTCPeer
	bridge   *Bridge
	phoneDir Direction
}

func newWebRTCRig(t *testing.T, phoneDir, prefer Direction) *webrtcRig {
	t.Helper()
	w := newTestWebRTC(t)
	r := &webrtcRig{ph: newPhone(t), ep: openTestEndpoint(t, newTestPool(t)), phoneDir: phoneDir}
	r.br, r.peer, _ = connectBrowser(t, w, prefer, browserOptions{})
	r.ep.SetRemote(r.ph.addr)
	r.bridge = NewBridge(r.ep, r.peer, phoneDir, r.peer.Direction(), nil)
	r.bridge.Start()
	t.Cleanup(r.bridge.Stop)
	return r
}

// primeBrowser sends silence from the phone until it reaches the browser
// (the switch's DTLS may finish a moment after the browser's) and returns
// the browser's track of the switch's audio. Later packets of s follow it.
func (r *webrtcRig) primeBrowser(t *testing.T, s *stream) *webrtc.TrackRemote {
	t.Helper()
	silence := encode(s.pt, make([]int16, 160))
	deadline := time.After(recvTimeout)
	for {
		r.ph.send(r.ep.LocalAddr(), s.next(t, silence))
		select {
		case tr := <-r.br.remote:
			return tr
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatal("no audio from the phone reached the browser")
		}
	}
}

// readBrowser reads the next packet the browser receives.
func readBrowser(t *testing.T, tr *webrtc.TrackRemote, buf []byte) *rtp.Packet {
	t.Helper()
	if err := tr.SetReadDeadline(time.Now().Add(recvTimeout)); err != nil {
		t.Fatal(err)
	}
	n, _, err := tr.Read(buf)
	if err != nil {
		t.Fatalf("browser read: %v", err)
	}
	var p rtp.Packet
	if err := p.Unmarshal(append([]byte(nil), buf[:n]...)); err != nil {
		t.Fatal(err)
	}
	return &p
}

// toneFrames returns n 20 ms frames of a tone at level dBFS.
func toneFrames(freq, level float64, n int) [][]int16 {
	var phase float64
	frames := make([][]int16, n)
	for i := range frames {
		frames[i] = testaudio.Sine(freq, 8000, 160, testaudio.AmplitudeForDBFS(level), &phase)
	}
	return frames
}

func encode(pt uint8, frame []int16) []byte {
	out := make([]byte, len(frame))
	for i, s := range frame {
		if pt == PayloadPCMA {
			out[i] = LinearToALaw(s)
		} else {
			out[i] = LinearToULaw(s)
		}
	}
	return out
}

func decode(t testing.TB, pt uint8, payload []byte) []int16 {
	t.Helper()
	table := &ULawToLinear
	switch pt {
	case PayloadPCMA:
		table = &ALawToLinear
	case PayloadPCMU:
	default:
		t.Fatalf("payload type %d is not G.711", pt)
	}
	out := make([]int16, len(payload))
	for i, c := range payload {
		out[i] = table[c]
	}
	return out
}

func TestWebRTCBridgeTones(t *testing.T) {
	const frames = 50 // one second
	for _, tt := range []struct {
		name   string
		prefer Direction
	}{
		{"same codec both sides", Direction{PayloadType: PayloadPCMA, DTMFType: 96}},
		{"browser PCMU, phone PCMA: transcoded", Direction{PayloadType: PayloadPCMU}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			phoneDir := Direction{PayloadType: PayloadPCMA, DTMFType: 96}
			r := newWebRTCRig(t, phoneDir, tt.prefer)
			browserPT := r.peer.Direction().PayloadType
			if browserPT != tt.prefer.PayloadType {
				t.Fatalf("browser negotiated PT %d, want %d", browserPT, tt.prefer.PayloadType)
			}

			// Phone -> browser: 1 kHz at -10 dBFS as PCMA.
			const level = -10.0
			s := &stream{ssrc: 0x9e, seq: 1000, ts: 50000, pt: PayloadPCMA}
			tr := r.primeBrowser(t, s)
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			var sent []int16
			go func() {
				for _, f := range toneFrames(1000, level, frames) {
					<-tick.C
					if _, err := r.ph.conn.WriteToUDPAddrPort(s.next(t, encode(PayloadPCMA, f)), r.ep.LocalAddr()); err != nil {
						return
					}
				}
			}()
			for _, f := range toneFrames(1000, level, frames) {
				sent = append(sent, f...)
			}
			var got []int16
			buf := make([]byte, 1500)
			for len(got) < len(sent)-160 { // allow one lost packet
				p := readBrowser(t, tr, buf)
				if p.PayloadType != browserPT {
					t.Fatalf("browser got PT %d, want %d", p.PayloadType, browserPT)
				}
				frame := decode(t, p.PayloadType, p.Payload)
				if len(got) == 0 && testaudio.RMSDBFS(frame) < -60 {
					continue // priming silence still in flight
				}
				got = append(got, frame...)
			}
			want := testaudio.ToneLevelDBFS(sent, 8000, 1000)
			if lvl := testaudio.ToneLevelDBFS(got, 8000, 1000); math.Abs(lvl-want) > 1 {
				t.Fatalf("1 kHz at the browser: %.2f dBFS, sent %.2f dBFS", lvl, want)
			}
			if f := testaudio.DominantFrequency(got, 8000, 200, 3800, 10); math.Abs(f-1000) > 10 {
				t.Fatalf("dominant frequency at the browser %v Hz, want 1000", f)
			}

			// Browser -> phone: 440 Hz in the browser's codec, arriving
			// as PCMA.
			var fromBrowser []int16
			ts := uint32(7777)
			for i, f := range toneFrames(440, level, frames) {
				r.br.send(browserPT, uint16(300+i), ts, i == 0, encode(browserPT, f))
				ts += 160
				p, from := r.ph.recv()
				if from != r.ep.LocalAddr() || p.PayloadType != PayloadPCMA {
					t.Fatalf("phone got PT %d from %v, want PCMA from %v", p.PayloadType, from, r.ep.LocalAddr())
				}
				fromBrowser = append(fromBrowser, decode(t, PayloadPCMA, p.Payload)...)
			}
			if f := testaudio.DominantFrequency(fromBrowser, 8000, 200, 3800, 10); math.Abs(f-440) > 10 {
				t.Fatalf("dominant frequency at the phone %v Hz, want 440", f)
			}
			if lvl := testaudio.ToneLevelDBFS(fromBrowser, 8000, 440); math.Abs(lvl-level) > 1 {
				t.Fatalf("440 Hz at the phone: %.2f dBFS, sent %.2f", lvl, level)
			}
		})
	}
}

func TestWebRTCDTMFFromBrowser(t *testing.T) {
	phoneDir := Direction{PayloadType: PayloadPCMA, DTMFType: 96}
	r := newWebRTCRig(t, phoneDir, phoneDir)
	dtmf := r.peer.Direction().DTMFType
	if dtmf != chromeDTMF8k {
		t.Fatalf("browser DTMF PT %d, want %d", dtmf, chromeDTMF8k)
	}
	// Digit 7: start, two updates, end repeated three times (RFC 4733
	// §2.5.1.4), all with the event's start timestamp.
	durations := []uint16{160, 320, 480, 640, 640, 640}
	for i, d := range durations {
		end := byte(0)
		if i >= 3 {
			end = 0x80
		}
		r.br.send(dtmf, uint16(40+i), 16000, i == 0, []byte{7, end | 10, byte(d >> 8), byte(d)})
		p, _ := r.ph.recv()
		if p.PayloadType != phoneDir.DTMFType {
			t.Fatalf("event packet %d at the phone: PT %d, want %d", i, p.PayloadType, phoneDir.DTMFType)
		}
		if p.Payload[0] != 7 || p.Payload[1]&0x80 != end || int(p.Payload[2])<<8|int(p.Payload[3]) != int(d) {
			t.Fatalf("event packet %d payload %x", i, p.Payload)
		}
		if p.Marker != (i == 0) {
			t.Fatalf("event packet %d marker %v", i, p.Marker)
		}
	}
}

func TestWebRTCDTMFToBrowserKeepsPayloadType(t *testing.T) {
	phoneDir := Direction{PayloadType: PayloadPCMU, DTMFType: 101}
	r := newWebRTCRig(t, phoneDir, phoneDir)
	s := &stream{ssrc: 0x51, seq: 1, ts: 1, pt: PayloadPCMU}
	tr := r.primeBrowser(t, s)
	s.pt = 101
	r.ph.send(r.ep.LocalAddr(), s.next(t, []byte{3, 10, 0, 160}))
	buf := make([]byte, 1500)
	for {
		p := readBrowser(t, tr, buf)
		if p.PayloadType == PayloadPCMU {
			continue // priming audio still in flight
		}
		if p.PayloadType != chromeDTMF8k || p.Payload[0] != 3 {
			t.Fatalf("browser got PT %d payload %x, want the event on PT %d: an event must not be stamped as audio",
				p.PayloadType, p.Payload, chromeDTMF8k)
		}
		return
	}
}

func TestWebRTCBrowserCloseEndsPeer(t *testing.T) {
	w := newTestWebRTC(t)
	b, peer, _ := connectBrowser(t, w, Direction{PayloadType: PayloadPCMU}, browserOptions{})
	read := make(chan error, 1)
	go func() {
		_, err := peer.ReadRTP(make([]byte, 1500))
		read <- err
	}()
	select {
	case <-peer.Done():
		t.Fatal("Done closed while connected")
	default:
	}
	if err := b.pc.Close(); err != nil {
		t.Fatal(err)
	}
	await(t, peer.Done(), "Done after the browser closed")
	if err := peer.Close(); err != nil {
		t.Fatalf("Close after the browser left: %v", err)
	}
	select {
	case err := <-read:
		if err == nil {
			t.Fatal("ReadRTP returned no error after close")
		}
	case <-time.After(recvTimeout):
		t.Fatal("ReadRTP still blocked after Close")
	}
	if err := peer.WriteRTP((&stream{pt: 0}).next(t, pcmuSilence())); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WriteRTP after Close = %v, want net.ErrClosed", err)
	}
}

// cutConn is a browser's UDP socket whose network can be cut: while cut,
// nothing is received and writes vanish, as when a laptop loses Wi-Fi.
type cutConn struct {
	net.PacketConn
	cut atomic.Bool
}

func (c *cutConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, a, err := c.PacketConn.ReadFrom(b)
		if err != nil || !c.cut.Load() {
			return n, a, err
		}
	}
}

func (c *cutConn) WriteTo(b []byte, a net.Addr) (int, error) {
	if c.cut.Load() {
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, a)
}

// TestWebRTCSilenceIsNotDeath: with ICE timeouts shortened to make the
// test fast, a browser that sends no audio for many times those timeouts
// keeps its peer alive (ICE consent keeps flowing); losing the network
// ends it.
func TestWebRTCSilenceIsNotDeath(t *testing.T) {
	// Our keepalive checks every 50 ms are answered by the browser; the
	// peer is dead after 800 ms without an answer.
	const disconnected, failed, keepalive = 400 * time.Millisecond, 400 * time.Millisecond, 50 * time.Millisecond
	w, err := newWebRTC(testWebRTCConfig, tuning{disconnected: disconnected, failed: failed, keepalive: keepalive})
	if err != nil {
		t.Fatal(err)
	}
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	conn := &cutConn{PacketConn: udp}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	t.Cleanup(func() { mux.Close() })
	_, peer, _ := connectBrowser(t, w, Direction{PayloadType: PayloadPCMU}, browserOptions{mux: mux})

	// Silence (no RTP at all) for 3x the time to failure.
	select {
	case <-peer.Done():
		t.Fatal("a silent but reachable browser was declared dead")
	case <-time.After(3 * (disconnected + failed)):
	}

	conn.cut.Store(true)
	start := time.Now()
	await(t, peer.Done(), "Done after the network was cut")
	if d := time.Since(start); d < disconnected+failed-100*time.Millisecond {
		t.Fatalf("declared dead after %v, before the ICE timeouts (%v)", d, disconnected+failed)
	}
}

func TestWebRTCTrickleICE(t *testing.T) {
	w := newTestWebRTC(t)
	b := newBrowser(t, browserOptions{})
	var cands []string
	gathered := make(chan struct{})
	b.pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			close(gathered)
			return
		}
		j, err := json.Marshal(c.ToJSON())
		if err != nil {
			t.Error(err)
			return
		}
		cands = append(cands, string(j))
	})
	offer := b.offer(false)
	if strings.Contains(offer, "a=candidate") {
		t.Fatal("trickle offer already carries candidates")
	}
	ctx, cancel := context.WithTimeout(context.Background(), recvTimeout)
	defer cancel()
	peer, answer, err := w.Answer(ctx, offer, Direction{PayloadType: PayloadPCMU})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	if !strings.Contains(answer, "a=candidate") {
		t.Fatal("answer carries no host candidate")
	}
	// The browser's candidates reach the switch before its first
	// connectivity check can, so the switch knows them only from the
	// trickle (not as peer-reflexive candidates learned from checks).
	await(t, gathered, "browser gathering")
	if len(cands) == 0 {
		t.Fatal("browser gathered no candidates")
	}
	for _, c := range cands {
		if err := peer.AddICECandidate([]byte(c)); err != nil {
			t.Fatalf("AddICECandidate(%s): %v", c, err)
		}
	}
	if err := peer.AddICECandidate([]byte("null")); err != nil {
		t.Fatalf("end of candidates: %v", err)
	}
	b.setAnswer(answer)
	await(t, b.connected, "browser connected over trickled candidates")
	host := 0
	for _, st := range peer.pc.GetStats() {
		if c, ok := st.(webrtc.ICECandidateStats); ok && c.Type == webrtc.StatsTypeRemoteCandidate &&
			c.CandidateType == webrtc.ICECandidateTypeHost && c.IP == "127.0.0.1" {
			host++
		}
	}
	if host == 0 {
		t.Fatal("the switch has no host candidate of the browser: the trickled candidates were not added")
	}

	for _, bad := range []string{"{", `{"candidate":"candidate:nonsense"}`, `"x"`} {
		if err := peer.AddICECandidate([]byte(bad)); !errors.Is(err, ErrBadCandidate) {
			t.Errorf("AddICECandidate(%s) = %v, want ErrBadCandidate", bad, err)
		}
	}
}

// TestWebRTCLocalCandidatesAfterAnswer covers the trickle of the switch's
// late candidates: those in the answer SDP are not repeated, later ones
// queue until a handler is set and then flow to it.
func TestWebRTCLocalCandidatesAfterAnswer(t *testing.T) {
	w := newTestWebRTC(t)
	b := newBrowser(t, browserOptions{})
	peer, _, err := w.Answer(context.Background(), b.offer(true), Direction{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	cand := func(port uint16) *webrtc.ICECandidate {
		return &webrtc.ICECandidate{Foundation: "1", Priority: 1, Address: "198.51.100.7", Protocol: webrtc.ICEProtocolUDP,
			Port: port, Typ: webrtc.ICECandidateTypeSrflx, Component: 1, RelatedAddress: "127.0.0.1", RelatedPort: 9}
	}
	peer.onCandidate(cand(1000))
	peer.onCandidate(nil) // end of gathering: nothing to send
	var got []string
	peer.OnLocalCandidate(func(c []byte) { got = append(got, string(c)) })
	peer.onCandidate(cand(2000))
	if len(got) != 2 || !strings.Contains(got[0], "198.51.100.7 1000") || !strings.Contains(got[1], "198.51.100.7 2000") {
		t.Fatalf("trickled %q, want the two late candidates in order", got)
	}
	var init webrtc.ICECandidateInit
	if err := json.Unmarshal([]byte(got[0]), &init); err != nil || !strings.HasPrefix(init.Candidate, "candidate:") {
		t.Fatalf("trickled candidate is not RTCIceCandidateInit JSON: %q (%v)", got[0], err)
	}
}

func TestNewWebRTCConfig(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  WebRTCConfig
		ok   bool
	}{
		{"loopback", testWebRTCConfig, true},
		{"STUN server", WebRTCConfig{ICEServers: []ICEServer{{URLs: []string{"stun:127.0.0.1:3478"}}}}, true},
		{"TURN with credentials", WebRTCConfig{ICEServers: []ICEServer{{URLs: []string{"turn:127.0.0.1:3478"},
			Username: "u", Credential: "p"}}}, true},
		{"bad ICE URL", WebRTCConfig{ICEServers: []ICEServer{{URLs: []string{"http://x"}}}}, false},
		{"TURN without credentials", WebRTCConfig{ICEServers: []ICEServer{{URLs: []string{"turn:127.0.0.1"}}}}, false},
		{"bad public IP", WebRTCConfig{PublicIPs: []string{"example.com"}}, false},
		{"IPv6 public IP", WebRTCConfig{PublicIPs: []string{"2001:db8::1"}}, false},
		{"inverted port range", WebRTCConfig{PortMin: 50000, PortMax: 40000}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewWebRTC(tt.cfg)
			if (err == nil) != tt.ok {
				t.Fatalf("NewWebRTC err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestWebRTCPublicIPAndPortRange: the answer advertises the NAT's public
// address instead of the local one, on a port from the configured range.
func TestWebRTCPublicIPAndPortRange(t *testing.T) {
	base := uint16(40000 + 2*time.Now().UnixNano()%5000)
	w, err := NewWebRTC(WebRTCConfig{Loopback: true, Interfaces: []string{"lo"},
		PublicIPs: []string{"203.0.113.9"}, PortMin: base, PortMax: base + 50})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, browserOptions{})
	peer, answer, err := w.Answer(context.Background(), b.offer(true), Direction{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(answer); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range sd.MediaDescriptions {
		for _, a := range m.Attributes {
			if a.Key != "candidate" {
				continue
			}
			n++
			f := strings.Fields(a.Value) // foundation component transport priority address port typ host
			if len(f) < 8 || f[4] != "203.0.113.9" {
				t.Fatalf("candidate %q does not advertise the public IP", a.Value)
			}
			port, err := netip.ParseAddrPort("0.0.0.0:" + f[5])
			if err != nil || port.Port() < base || port.Port() > base+50 {
				t.Fatalf("candidate port %s outside %d-%d", f[5], base, base+50)
			}
		}
	}
	if n == 0 {
		t.Fatal("answer has no candidates")
	}
}

// TestWebRTCWriteAllocs measures what one packet toward the browser costs
// in allocations: our WriteRTP and pion's SRTP path below it.
func TestWebRTCWriteAllocs(t *testing.T) {
	w := newTestWebRTC(t)
	b, peer, _ := connectBrowser(t, w, Direction{PayloadType: PayloadPCMU}, browserOptions{})
	// Wait until DTLS is up on the switch's side: a packet must arrive.
	s := &stream{ssrc: 1, pt: PayloadPCMU}
	pkt := s.next(t, pcmuSilence())
	got := make(chan struct{})
	go func() {
		track := b.remoteTrack()
		buf := make([]byte, 1500)
		if _, _, err := track.Read(buf); err == nil {
			close(got)
		}
		for {
			if _, _, err := track.Read(buf); err != nil {
				return
			}
		}
	}()
	deadline := time.Now().Add(recvTimeout)
	for arrived := false; !arrived; {
		if err := peer.WriteRTP(pkt); err != nil {
			t.Fatal(err)
		}
		select {
		case <-got:
			arrived = true
		case <-time.After(10 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("no packet reached the browser")
			}
		}
	}
	// AllocsPerRun counts the whole process, and the browser's side, in
	// this process too, decrypts what we send with allocations of its own
	// (pion's receive path) whenever it runs alongside. Those come and go
	// with scheduling; an allocation of WriteRTP is in every round. So the
	// fewest of several rounds is WriteRTP's.
	var seq uint16
	allocs := math.Inf(1)
	for range 5 {
		allocs = min(allocs, testing.AllocsPerRun(200, func() {
			seq++
			pkt[2], pkt[3] = byte(seq>>8), byte(seq)
			if err := peer.WriteRTP(pkt); err != nil {
				t.Fatal(err)
			}
		}))
	}
	t.Logf("WebRTCPeer.WriteRTP: %v allocations per packet (fewest of 5 rounds)", allocs)
	if allocs > 0 {
		t.Fatalf("WriteRTP allocates %v times per packet, want 0", allocs)
	}
}

// TestWebRTCReadAllocs measures what one packet from the browser costs in
// allocations on the switch's side: pion's SRTP receive path, its RTCP
// receiver-report interceptor and our ReadRTP. Ours allocate nothing; the
// bound is what pion v4.2.20's report interceptor takes (it parses every
// header into a fresh attributes map), so a regression shows up here.
func TestWebRTCReadAllocs(t *testing.T) {
	w := newTestWebRTC(t)
	b, peer, _ := connectBrowser(t, w, Direction{PayloadType: PayloadPCMU}, browserOptions{lean: true})
	buf := make([]byte, 1500)
	var seq uint16
	payload := pcmuSilence()
	// The first ReadRTP discards what was queued before it, so keep
	// sending until it returns.
	first := make(chan error, 1)
	go func() {
		_, err := peer.ReadRTP(buf)
		first <- err
	}()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(recvTimeout)
	for waiting := true; waiting; {
		seq++
		b.send(PayloadPCMU, seq, uint32(seq)*160, false, payload)
		select {
		case err := <-first:
			if err != nil {
				t.Fatal(err)
			}
			waiting = false
		case <-tick.C:
		case <-deadline:
			t.Fatal("ReadRTP returned nothing")
		}
	}
	// Packets still queued from the wait above keep each read below from
	// blocking; every iteration still sends one and reads one.
	var h rtp.Header
	bind := b.track.binding.Load()
	allocs := testing.AllocsPerRun(500, func() {
		seq++
		h = rtp.Header{Version: 2, PayloadType: PayloadPCMU, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: bind.ssrc}
		if _, err := bind.w.WriteRTP(&h, payload); err != nil {
			t.Fatal(err)
		}
		if _, err := peer.ReadRTP(buf); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("browser SRTP send + switch receive + ReadRTP: %v allocations per packet", allocs)
	if allocs > 3 {
		t.Fatalf("%v allocations per received packet, want at most pion's 3", allocs)
	}
}

// BenchmarkWebRTCRelay relays packets one at a time between a phone on
// plain UDP and a browser on WebRTC (DTLS-SRTP) through a Bridge, in each
// direction. ns/op is the round trip through both processes' worth of
// work (here one process); allocs/op counts the whole path: the phone and
// bridge allocate nothing, the browser is a lean pion peer, so what
// remains is pion's SRTP and RTCP-report work on the switch's side.
func BenchmarkWebRTCRelay(b *testing.B) {
	phoneDir := Direction{PayloadType: PayloadPCMU, DTMFType: 101}
	w, err := NewWebRTC(testWebRTCConfig)
	if err != nil {
		b.Fatal(err)
	}
	ph := newPhone(b)
	ep := openTestEndpoint(b, newTestPool(b))
	br, peer, _ := connectBrowser(b, w, phoneDir, browserOptions{lean: true})
	ep.SetRemote(ph.addr)
	bridge := NewBridge(ep, peer, phoneDir, peer.Direction(), nil)
	bridge.Start()
	b.Cleanup(bridge.Stop)

	s := &stream{ssrc: 1, pt: PayloadPCMU}
	pkt := s.next(b, pcmuSilence())
	dst := ep.LocalAddr()
	// Prime: the first packets may be lost while DTLS completes on our side.
	var tr *webrtc.TrackRemote
	for tr == nil {
		if _, err := ph.conn.WriteToUDPAddrPort(pkt, dst); err != nil {
			b.Fatal(err)
		}
		select {
		case tr = <-br.remote:
		case <-time.After(20 * time.Millisecond):
		}
	}
	buf := make([]byte, 1500)
	if err := tr.SetReadDeadline(time.Now().Add(recvTimeout)); err != nil {
		b.Fatal(err)
	}
	if _, _, err := tr.Read(buf); err != nil {
		b.Fatal(err)
	}
	if err := tr.SetReadDeadline(time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	if err := ph.conn.SetReadDeadline(time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}

	b.Run("phone_to_browser", func(b *testing.B) {
		var seq uint16
		b.ReportAllocs()
		for b.Loop() {
			seq++
			pkt[2], pkt[3] = byte(seq>>8), byte(seq)
			if _, err := ph.conn.WriteToUDPAddrPort(pkt, dst); err != nil {
				b.Fatal(err)
			}
			if _, _, err := tr.Read(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("browser_to_phone", func(b *testing.B) {
		bind := br.track.binding.Load()
		payload := pcmuSilence()
		var h rtp.Header
		var seq uint16
		b.ReportAllocs()
		for b.Loop() {
			seq++
			h = rtp.Header{Version: 2, PayloadType: PayloadPCMU, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: bind.ssrc}
			if _, err := bind.w.WriteRTP(&h, payload); err != nil {
				b.Fatal(err)
			}
			if _, _, err := ph.conn.ReadFromUDPAddrPort(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestBridgeStopClosesWebRTCPeer: the bridge owns its ports, a WebRTC peer
// included.
func TestBridgeStopClosesWebRTCPeer(t *testing.T) {
	r := newWebRTCRig(t, Direction{PayloadType: PayloadPCMU}, Direction{PayloadType: PayloadPCMU})
	// Media flowing proves the switch's DTLS side is up, so its close
	// reaches the browser as a DTLS close_notify.
	r.primeBrowser(t, &stream{ssrc: 5, pt: PayloadPCMU})
	r.bridge.Stop()
	await(t, r.peer.Done(), "peer Done after Bridge.Stop")
	await(t, r.br.closed, "browser told the peer connection closed")
	if err := r.peer.WriteRTP((&stream{pt: 0}).next(t, pcmuSilence())); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WriteRTP after Stop = %v, want net.ErrClosed", err)
	}
}

// TestWebRTCReadDiscardsStaleAudio: what the browser sent before anyone
// read (an outbound call ringing before the bridge starts) is not relayed
// late: only the newest rtpQueuePackets wait.
func TestWebRTCReadDiscardsStaleAudio(t *testing.T) {
	queues := make(chan *pktQueue, 16)
	tu := defaultTuning
	tu.queueCreated = func(kind packetio.BufferPacketType, _ uint32, q *pktQueue) {
		if kind == packetio.RTPBufferPacket {
			queues <- q
		}
	}
	w, err := newWebRTC(testWebRTCConfig, tu)
	if err != nil {
		t.Fatal(err)
	}
	b, peer, _ := connectBrowser(t, w, Direction{PayloadType: PayloadPCMU}, browserOptions{lean: true})
	const stale = 50
	for seq := uint16(1); seq <= stale; seq++ {
		b.send(PayloadPCMU, seq, uint32(seq)*160, seq == 1, pcmuSilence())
	}
	// The queue itself is the barrier: full (but for the one packet pion
	// may have taken out, below), its newest packet the last stale one.
	var q *pktQueue
	select {
	case q = <-queues: // the browser's one audio stream
	case <-time.After(recvTimeout):
		t.Fatal("no RTP queue created")
	}
	newest := func() (count int, seq uint16) {
		q.mu.Lock()
		defer q.mu.Unlock()
		if q.count == 0 {
			return 0, 0
		}
		last := q.slot((q.head + q.count - 1) % len(q.lens))
		return q.count, uint16(last[2])<<8 | uint16(last[3])
	}
	deadline := time.After(recvTimeout)
	for {
		count, seq := newest()
		if count >= rtpQueuePackets-1 && seq == stale {
			break
		}
		select {
		case <-deadline:
			t.Fatalf("queue holds %d packets, newest %d; want %d up to %d", count, seq, rtpQueuePackets, stale)
		case <-time.After(time.Millisecond):
		}
	}

	// Pion takes the oldest queued packet aside once, to learn the stream's
	// payload type, and hands it out first; after it come only the newest
	// rtpQueuePackets.
	buf := make([]byte, 1500)
	var got []uint16
	for len(got) == 0 || got[len(got)-1] != stale {
		n, err := peer.ReadRTP(buf)
		if err != nil || n < rtpHeaderLen {
			t.Fatalf("ReadRTP = %d, %v", n, err)
		}
		got = append(got, uint16(buf[2])<<8|uint16(buf[3]))
	}
	for i, seq := range got[1:] {
		if seq <= stale-rtpQueuePackets || seq <= got[i] {
			t.Fatalf("relayed stale packets %v, want only the newest %d (after one pion kept)", got, rtpQueuePackets)
		}
	}
}
