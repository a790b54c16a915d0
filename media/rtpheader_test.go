package media

import (
	"testing"

	"github.com/pion/rtp"
)

func marshal(t testing.TB, p *rtp.Packet) []byte {
	t.Helper()
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRTPPayload(t *testing.T) {
	payload := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	plain := marshal(t, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0}, Payload: payload})
	withCSRC := marshal(t, &rtp.Packet{Header: rtp.Header{Version: 2, CSRC: []uint32{1, 2}}, Payload: payload})
	ext := rtp.Header{Version: 2}
	if err := ext.SetExtension(1, []byte{0xaa, 0xbb, 0xcc}); err != nil {
		t.Fatal(err)
	}
	withExt := marshal(t, &rtp.Packet{Header: ext, Payload: payload})
	padded := marshal(t, &rtp.Packet{Header: rtp.Header{Version: 2, Padding: true, PaddingSize: 4}, Payload: payload})

	// Hand-built broken packets.
	csrcOverrun := append([]byte(nil), plain[:12]...)
	csrcOverrun[0] |= 0x03 // claims 3 CSRCs, has none
	extOverrun := append([]byte(nil), withExt...)
	extOverrun[12+3] = 200 // extension length in words beyond the packet
	extTruncated := append([]byte(nil), plain[:12]...)
	extTruncated[0] |= 0x10 // extension bit but no extension header
	padOverrun := append([]byte(nil), plain...)
	padOverrun[0] |= 0x20
	padOverrun[len(padOverrun)-1] = 100
	padZero := append([]byte(nil), plain...)
	padZero[0] |= 0x20
	padZero[len(padZero)-1] = 0
	version1 := append([]byte(nil), plain...)
	version1[0] = 0x40

	tests := []struct {
		name        string
		pkt         []byte
		ok          bool
		wantPayload []byte
	}{
		{"plain", plain, true, payload},
		{"CSRC list", withCSRC, true, payload},
		{"header extension", withExt, true, payload},
		{"padding", padded, true, payload},
		{"header only", plain[:12], true, []byte{}},
		{"short", plain[:11], false, nil},
		{"empty", nil, false, nil},
		{"version 1", version1, false, nil},
		{"CSRC overrun", csrcOverrun, false, nil},
		{"extension overrun", extOverrun, false, nil},
		{"extension header truncated", extTruncated, false, nil},
		{"padding overrun", padOverrun, false, nil},
		{"padding count zero", padZero, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, end, ok := rtpPayload(tt.pkt)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if got := tt.pkt[start:end]; string(got) != string(tt.wantPayload) {
				t.Fatalf("payload = %v, want %v", got, tt.wantPayload)
			}
			// Cross-check with pion's parser.
			var p rtp.Packet
			if err := p.Unmarshal(tt.pkt); err != nil {
				t.Fatalf("pion rejects a packet we accept: %v", err)
			}
			if string(p.Payload) != string(tt.wantPayload) {
				t.Fatalf("pion payload %v, ours %v", p.Payload, tt.wantPayload)
			}
		})
	}
}

func TestIsRTCP(t *testing.T) {
	tests := []struct {
		name string
		b1   byte
		want bool
	}{
		{"SR", 200, true},
		{"RR", 201, true},
		{"BYE", 203, true},
		{"APP", 204, true},
		{"PCMU", 0, false},
		{"PCMU with marker", 0x80, false},
		{"telephone-event 101 with marker", 0x80 | 101, false},
		{"PCMA", 8, false},
	}
	for _, tt := range tests {
		if got := isRTCP([]byte{0x80, tt.b1, 0, 1}); got != tt.want {
			t.Errorf("%s: isRTCP = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParseRTP(t *testing.T) {
	s := &stream{ssrc: 0xdeadbeef, seq: 7, ts: 1600, pt: PayloadPCMA}
	pkt := s.next(t, []byte{1, 2, 3})
	pkt[1] |= markerBit
	h, payload, ok := ParseRTP(pkt)
	if !ok || h.SSRC != 0xdeadbeef || h.Seq != 7 || h.TS != 1600 || h.PayloadType != PayloadPCMA || !h.Marker || string(payload) != "\x01\x02\x03" {
		t.Fatalf("ParseRTP = %+v %v %v", h, payload, ok)
	}
	rtcp := []byte{0x80, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0}
	for _, bad := range [][]byte{nil, {0x80, 0}, rtcp} {
		if _, _, ok := ParseRTP(bad); ok {
			t.Errorf("ParseRTP(%x) ok", bad)
		}
	}
	if n := testing.AllocsPerRun(100, func() { ParseRTP(pkt) }); n != 0 {
		t.Errorf("ParseRTP allocates %v", n)
	}
}
