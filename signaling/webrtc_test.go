package signaling

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"switchboard/call"
	"switchboard/media"
)

// The real peer type must satisfy the interface the legs use.
var _ Peer = (*media.WebRTCPeer)(nil)

// pionBrowser is a real pion peer connection standing in for a browser: it
// offers opus, G722, PCMU and PCMA like Chrome, on loopback only.
type pionBrowser struct {
	pc        *webrtc.PeerConnection
	track     *webrtc.TrackLocalStaticRTP
	cands     chan *webrtc.ICECandidate
	connected chan struct{}
}

func newPionBrowser(t *testing.T) *pionBrowser {
	t.Helper()
	var me webrtc.MediaEngine
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	// Chrome offers telephone-event at 8 kHz too (on its own payload type).
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 8000, Channels: 1, SDPFmtpLine: "0-15"},
		PayloadType:        126,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	api := webrtc.NewAPI(webrtc.WithMediaEngine(&me), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}, "audio", "mic")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	b := &pionBrowser{pc: pc, track: track, cands: make(chan *webrtc.ICECandidate, 32), connected: make(chan struct{})}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) { b.cands <- c })
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			close(b.connected)
		}
	})
	return b
}

// TestRealWebRTCInboundCall rings a tab whose "browser" is a real pion peer
// trickling its candidates, answers through the real media.WebRTC, proves
// the browser's audio reaches the leg's port, and ends the call by closing
// the browser's peer connection.
func TestRealWebRTCInboundCall(t *testing.T) {
	w, err := media.NewWebRTC(media.WebRTCConfig{Loopback: true, Interfaces: []string{"lo"}})
	if err != nil {
		t.Fatal(err)
	}
	r := newRigWith(t, AnswerWith(w.Answer), nil)
	tab := r.available(t, "tok-alice")
	req := ringReq("c1")
	res := r.ringAsync(context.Background(), req)
	tab.expect("incoming")

	b := newPionBrowser(t)
	offer, err := b.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	// Trickle ICE: the offer goes first, the candidates follow.
	tab.sendJSON(map[string]any{"type": "answer", "call_id": "c1", "sdp": offer.SDP, "id": "a"})
	sent := 0
	for gathering := true; gathering; {
		select {
		case c := <-b.cands:
			var cand any // null ends the trickle
			if c != nil {
				cand = c.ToJSON()
			} else {
				gathering = false
			}
			tab.sendJSON(map[string]any{"type": "ice", "call_id": "c1", "candidate": cand, "id": "ice"})
			sent++
		case <-time.After(waitTimeout):
			t.Fatal("browser ICE gathering did not complete")
		}
	}
	var answer string
	for oks, inCall := 0, false; answer == "" || oks < sent || !inCall; {
		switch m := tab.next(); m.str("type") {
		case "ok":
			oks++
		case "answer_sdp":
			answer = m.str("sdp")
		case "presence":
			inCall = m.str("status") == "in_call"
		default:
			t.Fatalf("got %v", m)
		}
	}
	if err := b.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	awaitClosed(t, b.connected, "browser connected")
	got := awaitRing(t, res)
	if got.err != nil {
		t.Fatalf("Ring: %v", got.err)
	}
	leg := got.leg
	port, dir, ok := leg.Media()
	if !ok || dir.PayloadType != media.PayloadPCMA || dir.DTMFType != 126 {
		t.Fatalf("Media dir = %+v, %v; want PCMA (the phone side's codec) and the offer's telephone-event 126", dir, ok)
	}

	// The browser's audio arrives on the leg's port, as the bridge reads it.
	stop := make(chan struct{})
	sending := make(chan struct{})
	go func() {
		defer close(sending)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(1); ; seq++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			_ = b.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: media.PayloadPCMA,
				SequenceNumber: seq, Timestamp: uint32(seq) * 160}, Payload: make([]byte, 160)})
		}
	}()
	readDone := make(chan error, 1)
	buf := make([]byte, 1500)
	go func() {
		n, err := port.ReadRTP(buf)
		if err == nil && (n != 12+160 || buf[1]&0x7f != media.PayloadPCMA) {
			err = errBadPacket
		}
		readDone <- err
	}()
	select {
	case err := <-readDone:
		if err != nil {
			t.Fatalf("ReadRTP: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no audio from the browser on the leg")
	}
	close(stop)
	<-sending
	eventually(t, "the leg knows the browser's address", func() bool { return leg.Info().Remote != "" })

	// The browser closes its peer connection: the leg ends.
	if err := b.pc.Close(); err != nil {
		t.Fatal(err)
	}
	awaitClosed(t, leg.Done(), "leg ended after the browser closed")
	if cause, byRemote := leg.EndCause(); cause != call.CauseFailed || !byRemote {
		t.Errorf("EndCause = %v, %v", cause, byRemote)
	}
	if m := tab.expect("call_state"); m.str("state") != "ended" {
		t.Errorf("got %v, want call_state ended", m)
	}
}

func TestRealWebRTCBadOffer(t *testing.T) {
	w, err := media.NewWebRTC(media.WebRTCConfig{Loopback: true, Interfaces: []string{"lo"}})
	if err != nil {
		t.Fatal(err)
	}
	r := newRigWith(t, AnswerWith(w.Answer), nil)
	r.srv.SetPlacer(&fakePlacer{})
	tab := r.signIn(t, "tok-alice")
	for _, sdp := range []string{"not sdp", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 VP8/90000\r\n"} {
		m := tab.request(map[string]any{"type": "dial", "to": "+15550199", "from": "+15550100", "sdp": sdp}, "error")
		if m.str("code") != "bad_request" {
			t.Errorf("dial with offer %q: %v, want bad_request", sdp, m)
		}
	}
	tab.quiet()
}

var errBadPacket = errors.New("not a 20 ms PCMA packet")
