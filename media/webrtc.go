package media

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/transport/v4/packetio"
	"github.com/pion/webrtc/v4"
)

// Errors of Answer, wrapped with details; callers branch with errors.Is.
var (
	// ErrBadOffer means the browser's offer is not usable SDP: it does not
	// parse, or it has no audio section.
	ErrBadOffer = errors.New("media: bad WebRTC offer")
	// ErrNoCodec means the offer's audio section has neither PCMU nor PCMA,
	// the only codecs the switch relays.
	ErrNoCodec = errors.New("media: WebRTC offer has no G.711 codec")
	// ErrBadCandidate means a trickled ICE candidate is not valid
	// RTCIceCandidateInit JSON or pion rejected it.
	ErrBadCandidate = errors.New("media: bad ICE candidate")
	// ErrBadPacket is returned by WebRTCPeer.WriteRTP for a buffer that is
	// not a valid RTP packet.
	ErrBadPacket = errors.New("media: not an RTP packet")
)

// DTMFPayloadType is the payload type the switch's WebRTC media engine
// registers telephone-event on. In an answer the browser's own payload type
// from the offer wins (RFC 3264 §6.1), so WebRTCPeer.Direction reports what
// was negotiated, not this.
const DTMFPayloadType = 101

// ICE timing of the switch's side of every peer connection. ICE reports
// "disconnected" after iceDisconnectedTimeout without any packet from the
// browser and "failed" iceFailedTimeout later, so a peer is declared dead
// after it has been disconnected for 10 s. Silence alone is not that: while
// the browser is alive it answers and sends ICE consent checks (RFC 7675)
// whether or not the microphone sends audio.
const (
	iceDisconnectedTimeout = 5 * time.Second
	iceFailedTimeout       = 10 * time.Second
	iceKeepalive           = 2 * time.Second
)

// ICEServer is a STUN or TURN server for the switch's own ICE agent.
type ICEServer struct {
	// URLs are stun:, turn: or turns: URIs (RFC 7064, RFC 7065).
	URLs []string
	// Username and Credential authenticate to a TURN server.
	Username, Credential string
}

// WebRTCConfig configures the switch's side of browser peer connections.
type WebRTCConfig struct {
	// PublicIPs are advertised as the host candidate addresses in place
	// of the local ones, for a server behind a 1:1 NAT.
	PublicIPs []string
	// PortMin and PortMax bound the UDP ports ICE binds; 0 means any.
	PortMin, PortMax uint16
	// Loopback includes loopback candidates: tests and single-machine
	// setups where the browser runs on the server.
	Loopback bool
	// Interfaces, when set, restricts candidates to these network
	// interfaces (e.g. ["lo"] in tests).
	Interfaces []string
	// ICEServers are given to the switch's ICE agent: STUN for a
	// server-reflexive candidate, TURN for a relayed one.
	ICEServers []ICEServer
}

// WebRTC creates the switch's side of browser peer connections. It holds
// one pion API, shared by all peers: pion copies the media engine into each
// peer connection, so negotiations do not interfere.
type WebRTC struct {
	api    *webrtc.API
	config webrtc.Configuration
}

// The codecs of the media engine: only what the bridge relays without
// decoding, so an answer can never pick anything else (opus, which
// browsers offer first, included).
var (
	codecPCMU = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: ClockRate, Channels: 1},
		PayloadType:        PayloadPCMU,
	}
	codecPCMA = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: ClockRate, Channels: 1},
		PayloadType:        PayloadPCMA,
	}
	// RFC 4733 §7.1.1: events 0-15 are the DTMF digits; 16 is flash.
	codecTelephoneEvent = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: ClockRate,
			Channels: 1, SDPFmtpLine: "0-16"},
		PayloadType: DTMFPayloadType,
	}
)

// NewWebRTC returns a WebRTC for cfg: a media engine with only PCMU,
// PCMA and telephone-event, UDP over IPv4, and mDNS candidates off (the
// switch's address is no secret and browsers cannot resolve .local names of
// a server anyway).
func NewWebRTC(cfg WebRTCConfig) (*WebRTC, error) {
	return newWebRTC(cfg, defaultTuning)
}

// tuning holds internals that tests change: ICE timeouts short enough to
// declare a peer dead in milliseconds, and a look at the packet queues.
type tuning struct {
	disconnected, failed, keepalive time.Duration
	// queueCreated, if set, is called with each packet queue pion asks for.
	queueCreated func(kind packetio.BufferPacketType, ssrc uint32, q *pktQueue)
}

var defaultTuning = tuning{disconnected: iceDisconnectedTimeout, failed: iceFailedTimeout, keepalive: iceKeepalive}

// newWebRTC is NewWebRTC with tuning.
func newWebRTC(cfg WebRTCConfig, tu tuning) (*WebRTC, error) {
	var me webrtc.MediaEngine
	for _, c := range []webrtc.RTPCodecParameters{codecPCMU, codecPCMA, codecTelephoneEvent} {
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, fmt.Errorf("media: register %s: %w", c.MimeType, err)
		}
	}

	var se webrtc.SettingEngine
	se.LoggerFactory = pionLoggerFactory{}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(cfg.Loopback)
	se.SetICETimeouts(tu.disconnected, tu.failed, tu.keepalive)
	se.BufferFactory = func(kind packetio.BufferPacketType, ssrc uint32) io.ReadWriteCloser {
		q := newPacketQueue(kind)
		if tu.queueCreated != nil {
			tu.queueCreated(kind, ssrc, q)
		}
		return q
	}
	if err := se.SetEphemeralUDPPortRange(cfg.PortMin, cfg.PortMax); err != nil {
		return nil, fmt.Errorf("media: ICE port range %d-%d: %w", cfg.PortMin, cfg.PortMax, err)
	}
	if len(cfg.Interfaces) > 0 {
		names := slices.Clone(cfg.Interfaces)
		se.SetInterfaceFilter(func(name string) bool { return slices.Contains(names, name) })
	}
	if len(cfg.PublicIPs) > 0 {
		for _, ip := range cfg.PublicIPs {
			if a, err := netip.ParseAddr(ip); err != nil || !a.Is4() {
				return nil, fmt.Errorf("media: public IP %q: not an IPv4 address", ip)
			}
		}
		// NAT 1:1: replace each host candidate's address with the public
		// one; the private address is not advertised.
		err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        slices.Clone(cfg.PublicIPs),
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteReplace,
		})
		if err != nil {
			return nil, fmt.Errorf("media: public IPs %v: %w", cfg.PublicIPs, err)
		}
	}

	ir, err := interceptors()
	if err != nil {
		return nil, err
	}
	w := &WebRTC{
		api: webrtc.NewAPI(webrtc.WithMediaEngine(&me), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(ir)),
		config: webrtc.Configuration{
			// Browsers bundle; requiring it keeps one transport per call.
			BundlePolicy:  webrtc.BundlePolicyMaxBundle,
			RTCPMuxPolicy: webrtc.RTCPMuxPolicyRequire,
		},
	}
	for _, s := range cfg.ICEServers {
		w.config.ICEServers = append(w.config.ICEServers, webrtc.ICEServer{
			URLs: slices.Clone(s.URLs), Username: s.Username, Credential: s.Credential,
		})
	}
	// Fail at startup, not on the first call, when an ICE server URL is
	// malformed or a TURN server lacks credentials: pion validates the
	// configuration when a peer connection is created.
	pc, err := w.api.NewPeerConnection(w.config)
	if err != nil {
		return nil, fmt.Errorf("media: WebRTC configuration: %w", err)
	}
	if err := pc.Close(); err != nil {
		return nil, fmt.Errorf("media: WebRTC configuration check: %w", err)
	}
	return w, nil
}

// interceptors returns what runs on every peer connection's packets: RTCP
// sender and receiver reports only (RFC 3550 §6.4; RFC 8834 §4.1 requires
// RTCP in WebRTC), which browsers show in their statistics. Pion's other
// defaults do not apply to a fixed-rate G.711 stream: NACK
// retransmission is not negotiated for audio, and transport-wide
// congestion control (TWCC) estimates bandwidth for encoders that can
// adapt, at the cost of a header extension and feedback on every packet.
func interceptors() (*interceptor.Registry, error) {
	sr, err := report.NewSenderInterceptor(report.WithSenderLoggerFactory(pionLoggerFactory{}))
	if err != nil {
		return nil, fmt.Errorf("media: RTCP sender reports: %w", err)
	}
	rr, err := report.NewReceiverInterceptor(report.WithReceiverLoggerFactory(pionLoggerFactory{}))
	if err != nil {
		return nil, fmt.Errorf("media: RTCP receiver reports: %w", err)
	}
	var ir interceptor.Registry
	ir.Add(sr)
	ir.Add(rr)
	return &ir, nil
}

// Answer takes a browser's SDP offer and returns the peer and the SDP
// answer. It waits for ICE gathering to complete so the answer carries all
// of the switch's candidates; if ctx ends first, the answer carries those
// gathered so far and the rest are trickled through OnLocalCandidate
// (it fails only if not a single candidate was gathered by then).
//
// prefer is the phone side's codec: its payload type is put first in the
// answer (RFC 3264 §6.1: the answerer's order is its preference), so the
// browser sends and receives that codec and the bridge relays without
// transcoding.
func (w *WebRTC) Answer(ctx context.Context, offer string, prefer Direction) (*WebRTCPeer, string, error) {
	if err := checkOffer(offer); err != nil {
		return nil, "", err
	}
	pc, err := w.api.NewPeerConnection(w.config)
	if err != nil {
		return nil, "", fmt.Errorf("media: new peer connection: %w", err)
	}
	p := &WebRTCPeer{
		pc:         pc,
		track:      &rtpTrack{},
		trackReady: make(chan struct{}),
		closed:     make(chan struct{}),
		done:       make(chan struct{}),
	}
	answer, err := p.negotiate(ctx, offer, prefer)
	if err != nil {
		p.Close()
		return nil, "", err
	}
	return p, answer, nil
}

// checkOffer rejects offers the switch cannot use before pion sees them,
// with errors the signaling layer can tell apart.
func checkOffer(offer string) error {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(offer); err != nil {
		return fmt.Errorf("%w: %w", ErrBadOffer, err)
	}
	audio := false
	for _, m := range sd.MediaDescriptions {
		if !strings.EqualFold(m.MediaName.Media, "audio") {
			continue
		}
		audio = true
		one := &sdp.SessionDescription{MediaDescriptions: []*sdp.MediaDescription{m}}
		for _, f := range m.MediaName.Formats {
			pt, err := strconv.ParseUint(f, 10, 7)
			if err != nil {
				continue
			}
			c, err := one.GetCodecForPayloadType(uint8(pt))
			if err == nil && c.ClockRate == ClockRate &&
				(strings.EqualFold(c.Name, "PCMU") || strings.EqualFold(c.Name, "PCMA")) {
				return nil
			}
		}
	}
	if !audio {
		return fmt.Errorf("%w: no audio m= section", ErrBadOffer)
	}
	return ErrNoCodec
}

// negotiate applies the offer, creates the answer and waits for gathering.
func (p *WebRTCPeer) negotiate(ctx context.Context, offer string, prefer Direction) (string, error) {
	pc := p.pc
	pc.OnTrack(p.onTrack)
	pc.OnConnectionStateChange(p.onState)
	pc.OnICECandidate(p.onCandidate)

	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadOffer, err)
	}
	sender, err := pc.AddTrack(p.track)
	if err != nil {
		return "", fmt.Errorf("media: add audio track: %w", err)
	}
	var tr *webrtc.RTPTransceiver
	for _, t := range pc.GetTransceivers() {
		if t.Sender() == sender {
			tr = t
		}
	}
	if tr == nil {
		return "", errors.New("media: audio transceiver not found")
	}
	if err := tr.SetCodecPreferences(codecOrder(prefer, offer)); err != nil {
		return "", fmt.Errorf("media: codec preferences: %w", err)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadOffer, err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("media: set local description: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
	}

	// Candidates gathered from here on are trickled; those before are in
	// the SDP (pion adds a candidate to the description before it
	// announces it, so at worst one is both in the SDP and trickled, which
	// the browser ignores).
	p.candMu.Lock()
	local := pc.LocalDescription()
	p.answered = true
	p.candMu.Unlock()
	if local == nil {
		return "", errors.New("media: no local description")
	}
	dir, candidates, err := answerDirection(local.SDP)
	if err != nil {
		return "", err
	}
	if candidates == 0 && ctx.Err() != nil {
		return "", fmt.Errorf("media: ICE gathering: %w", context.Cause(ctx))
	}
	p.dir = dir
	return local.SDP, nil
}

// codecOrder lists the media engine's codecs with prefer's first.
func codecOrder(prefer Direction, offer string) []webrtc.RTPCodecParameters {
	// pion refuses a preference for a codec the offer lacks: list only what
	// the browser offered, the phone side's codec first.
	order := []webrtc.RTPCodecParameters{codecPCMU, codecPCMA}
	if prefer.PayloadType == PayloadPCMA {
		order = []webrtc.RTPCodecParameters{codecPCMA, codecPCMU}
	}
	lower := strings.ToLower(offer)
	kept := order[:0]
	for _, c := range order {
		if strings.Contains(lower, strings.ToLower(c.MimeType[len("audio/"):])+"/8000") {
			kept = append(kept, c)
		}
	}
	if offersTelephoneEvent(offer) {
		// Payload type 0 tells pion to take the type the offer used for the
		// codec: RFC 3264 §6.1 wants the answer to keep the offer's numbering
		// (Chrome offers telephone-event/8000 as 126, not our 101).
		te := codecTelephoneEvent
		te.PayloadType = 0
		kept = append(kept, te)
	}
	return kept
}

// offersTelephoneEvent reports whether an offer carries RFC 4733 events at
// 8 kHz; pion refuses a preference for a codec the offer lacks.
func offersTelephoneEvent(offer string) bool {
	return strings.Contains(strings.ToLower(offer), "telephone-event/8000")
}

// answerDirection reads what the switch's answer negotiated: the first
// audio format is what both sides send (RFC 3264 §6.1), telephone-event at
// 8000 Hz carries DTMF. It also counts the answer's candidates.
func answerDirection(answer string) (Direction, int, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(answer); err != nil {
		return Direction{}, 0, fmt.Errorf("media: own answer: %w", err)
	}
	for _, m := range sd.MediaDescriptions {
		if !strings.EqualFold(m.MediaName.Media, "audio") || m.MediaName.Port.Value == 0 {
			continue
		}
		var d Direction
		audio := false
		one := &sdp.SessionDescription{MediaDescriptions: []*sdp.MediaDescription{m}}
		for _, f := range m.MediaName.Formats {
			pt, err := strconv.ParseUint(f, 10, 7)
			if err != nil {
				continue
			}
			c, err := one.GetCodecForPayloadType(uint8(pt))
			if err != nil || c.ClockRate != ClockRate {
				continue
			}
			switch {
			case !audio && (strings.EqualFold(c.Name, "PCMU") || strings.EqualFold(c.Name, "PCMA")):
				d.PayloadType, audio = uint8(pt), true
			case d.DTMFType == 0 && strings.EqualFold(c.Name, "telephone-event"):
				d.DTMFType = uint8(pt)
			}
		}
		if !audio {
			return Direction{}, 0, ErrNoCodec
		}
		candidates := 0
		for _, a := range m.Attributes {
			if a.Key == "candidate" {
				candidates++
			}
		}
		return d, candidates, nil
	}
	return Direction{}, 0, fmt.Errorf("%w: audio rejected", ErrNoCodec)
}

// WebRTCPeer is a browser's peer connection as a bridge Port: the audio
// the browser sends (SRTP-decrypted) and the audio the switch sends it.
type WebRTCPeer struct {
	pc    *webrtc.PeerConnection
	track *rtpTrack
	dir   Direction

	remoteMu   sync.Mutex
	remote     *webrtc.TrackRemote
	trackReady chan struct{} // closed when remote is set

	writeMu sync.Mutex
	hdr     rtp.Header // reused by WriteRTP, so sending does not allocate

	candMu   sync.Mutex
	answered bool // the answer SDP was taken; later candidates trickle
	onCand   func([]byte)
	pending  [][]byte // trickled candidates before OnLocalCandidate

	trackAt     int64       // monoNow when the track arrived; set before trackReady closes
	readStarted atomic.Bool // the first ReadRTP has happened

	closeOnce sync.Once
	closeErr  error
	closed    chan struct{}
	doneOnce  sync.Once
	done      chan struct{}
}

// Compile-time check that a WebRTC peer is a Port.
var _ Port = (*WebRTCPeer)(nil)

func (p *WebRTCPeer) onTrack(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	if t.Kind() != webrtc.RTPCodecTypeAudio {
		return
	}
	p.remoteMu.Lock()
	defer p.remoteMu.Unlock()
	if p.remote == nil {
		p.remote = t
		p.trackAt = monoNow()
		close(p.trackReady)
	}
}

func (p *WebRTCPeer) onState(s webrtc.PeerConnectionState) {
	// "failed" is ICE's verdict after the browser has been silent, ICE
	// consent checks included, for iceDisconnectedTimeout+iceFailedTimeout
	// (or never connected in that time); "closed" follows a DTLS
	// close_notify from the browser or our own Close.
	if s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed {
		p.doneOnce.Do(func() { close(p.done) })
	}
}

func (p *WebRTCPeer) onCandidate(c *webrtc.ICECandidate) {
	if c == nil {
		return // gathering complete
	}
	b, err := json.Marshal(c.ToJSON())
	if err != nil {
		return
	}
	p.candMu.Lock()
	if !p.answered {
		p.candMu.Unlock()
		return // in the answer SDP
	}
	f := p.onCand
	if f == nil {
		p.pending = append(p.pending, b)
	}
	p.candMu.Unlock()
	if f != nil {
		f(b)
	}
}

// Direction returns the negotiated audio payload type and the
// telephone-event payload type (0 if the browser offered none).
func (p *WebRTCPeer) Direction() Direction { return p.dir }

// AddICECandidate adds a candidate the browser trickled, as the
// RTCIceCandidateInit JSON its onicecandidate handler produced. JSON null
// or an empty candidate marks the end of the browser's candidates and is
// accepted.
func (p *WebRTCPeer) AddICECandidate(candidate []byte) error {
	var init *webrtc.ICECandidateInit
	if err := json.Unmarshal(candidate, &init); err != nil {
		return fmt.Errorf("%w: %w", ErrBadCandidate, err)
	}
	if init == nil || init.Candidate == "" {
		return nil
	}
	if err := p.pc.AddICECandidate(*init); err != nil {
		return fmt.Errorf("%w: %w", ErrBadCandidate, err)
	}
	return nil
}

// OnLocalCandidate sets f to receive, as RTCIceCandidateInit JSON, each of
// the switch's candidates gathered after Answer returned (STUN or TURN
// answering late). Candidates gathered before f was set are delivered to
// it at once. f is called from pion's goroutine and must not block.
func (p *WebRTCPeer) OnLocalCandidate(f func(candidate []byte)) {
	p.candMu.Lock()
	p.onCand = f
	pending := p.pending
	p.pending = nil
	p.candMu.Unlock()
	if f == nil {
		return
	}
	for _, b := range pending {
		f(b)
	}
}

// Done returns a channel closed when the peer connection is dead: ICE
// failed (the browser silent, consent checks included, for 15 s: 5 s to
// "disconnected", then 10 s more) or it never connected, or the browser
// closed it, or Close was called. A muted microphone does not close it.
func (p *WebRTCPeer) Done() <-chan struct{} { return p.done }

// RemoteAddr returns the browser's address on the selected ICE candidate
// pair, for the call record; "" before ICE has selected one.
func (p *WebRTCPeer) RemoteAddr() string {
	pair, err := p.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Remote == nil {
		return ""
	}
	return net.JoinHostPort(pair.Remote.Address, strconv.Itoa(int(pair.Remote.Port)))
}

// String describes the peer for logs.
func (p *WebRTCPeer) String() string { return "webrtc:" + p.RemoteAddr() }

// ReadRTP implements Port: it blocks until the browser's audio track has
// arrived, then returns its packets one by one (SRTP already removed). It
// returns net.ErrClosed after Close, and another error when the peer
// connection ended by itself.
//
// Packets not read in time are not kept: only the newest rtpQueuePackets
// wait (see pktQueue), so what the browser sent before the bridge started
// reading is not relayed late.
func (p *WebRTCPeer) ReadRTP(b []byte) (int, error) {
	select {
	case <-p.trackReady:
	case <-p.closed:
		return 0, net.ErrClosed
	}
	// remote is set before trackReady is closed and never changes after.
	remote := p.remote
	if !p.readStarted.Swap(true) && time.Duration(monoNow()-p.trackAt) > maxQueueAge {
		// Pion holds the track's first packet (read to learn its payload
		// type before OnTrack) and hands it to the first Read however old it
		// is; the bridge starting seconds later (an outbound call that rang)
		// must not relay it: the far end would get stale audio and then a
		// jump in sequence numbers. Skip it; newer queued packets past
		// maxQueueAge are dropped by the queue.
		if _, _, err := remote.Read(b); err != nil {
			select {
			case <-p.closed:
				return 0, net.ErrClosed
			default:
			}
		}
	}
	for errs := 0; ; {
		n, _, err := remote.Read(b)
		if err == nil {
			return n, nil
		}
		select {
		case <-p.closed:
			return 0, net.ErrClosed
		default:
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) {
			return 0, fmt.Errorf("media: webrtc track ended: %w", err)
		}
		// A packet pion could not map to a negotiated codec (a payload
		// type the browser did not offer): skip it. Bound the run so a
		// persistent failure cannot spin.
		if errs++; errs >= 1000 {
			return 0, fmt.Errorf("media: webrtc track read: %w", err)
		}
	}
}

// WriteRTP implements Port: it sends one RTP packet to the browser, SRTP
// protected. The payload type is kept as given (the bridge has already set
// the browser's audio or telephone-event type); the SSRC becomes the one
// the answer announced. CSRCs and header extensions are dropped: their IDs
// belong to the SIP side, not to what the browser negotiated. Before the
// DTLS handshake completes the packet is discarded. After Close it returns
// net.ErrClosed.
func (p *WebRTCPeer) WriteRTP(b []byte) error {
	select {
	case <-p.closed:
		return net.ErrClosed
	default:
	}
	start, end, ok := rtpPayload(b)
	if !ok || isRTCP(b) {
		return ErrBadPacket
	}
	bind := p.track.binding.Load()
	if bind == nil {
		return nil // not negotiated yet: nobody to send to
	}
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	h := &p.hdr
	*h = rtp.Header{
		Version:        rtpVersion,
		Marker:         b[1]&markerBit != 0,
		PayloadType:    b[1] & ptMask,
		SequenceNumber: binary.BigEndian.Uint16(b[offSeq:]),
		Timestamp:      binary.BigEndian.Uint32(b[offTimestamp:]),
		SSRC:           bind.ssrc,
	}
	_, err := bind.w.WriteRTP(h, b[start:end])
	return err
}

// Close closes the peer connection, which unblocks ReadRTP and closes
// Done. It is idempotent; later calls return the first call's result.
func (p *WebRTCPeer) Close() error {
	p.closeOnce.Do(func() {
		close(p.closed)
		p.closeErr = p.pc.Close()
		p.doneOnce.Do(func() { close(p.done) })
	})
	return p.closeErr
}

// rtpTrack is the switch's outgoing audio track. Unlike pion's
// TrackLocalStaticRTP it does not stamp every packet with the one codec it
// was bound to: the bridge sends G.711 and telephone-event on one stream,
// each with its own negotiated payload type.
type rtpTrack struct {
	binding atomic.Pointer[trackBinding]
}

// trackBinding is where a bound track's packets go.
type trackBinding struct {
	id   string
	ssrc uint32
	w    webrtc.TrackLocalWriter
}

// Bind is called by pion once negotiation is complete.
func (t *rtpTrack) Bind(c webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, codec := range c.CodecParameters() {
		if strings.EqualFold(codec.MimeType, webrtc.MimeTypePCMU) || strings.EqualFold(codec.MimeType, webrtc.MimeTypePCMA) {
			t.binding.Store(&trackBinding{id: c.ID(), ssrc: uint32(c.SSRC()), w: c.WriteStream()})
			return codec, nil
		}
	}
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}

// Unbind is called by pion when the track stops.
func (t *rtpTrack) Unbind(c webrtc.TrackLocalContext) error {
	if b := t.binding.Load(); b != nil && b.id == c.ID() {
		t.binding.CompareAndSwap(b, nil)
	}
	return nil
}

// ID names the track in the SDP (a=msid).
func (t *rtpTrack) ID() string { return "audio" }

// RID is empty: no simulcast.
func (t *rtpTrack) RID() string { return "" }

// StreamID names the media stream in the SDP (a=msid).
func (t *rtpTrack) StreamID() string { return "switchboard" }

// Kind is audio.
func (t *rtpTrack) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeAudio }
