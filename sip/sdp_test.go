package sip

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"switchboard/media"
)

func sdpBody(lines ...string) []byte {
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

func TestParseSDP(t *testing.T) {
	head := []string{"v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.1", "t=0 0"}
	tests := []struct {
		name      string
		body      []byte
		wantErr   error
		addr      string
		codecs    []uint8
		dtmf      uint8
		direction string
		held      bool
	}{
		{
			name:   "PCMA first with telephone-event",
			body:   sdpBody(append(head, "m=audio 4000 RTP/AVP 8 0 101", "a=rtpmap:8 PCMA/8000", "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16")...),
			addr:   "192.0.2.1:4000",
			codecs: []uint8{8, 0}, dtmf: 101, direction: "sendrecv",
		},
		{
			name:   "static payload types without rtpmap",
			body:   sdpBody(append(head, "m=audio 4002 RTP/AVP 0")...),
			addr:   "192.0.2.1:4002",
			codecs: []uint8{0}, direction: "sendrecv",
		},
		{
			name:   "unknown codecs are skipped, order kept",
			body:   sdpBody(append(head, "m=audio 4004 RTP/AVP 18 9 0", "a=rtpmap:18 G729/8000", "a=rtpmap:9 G722/8000")...),
			addr:   "192.0.2.1:4004",
			codecs: []uint8{0}, direction: "sendrecv",
		},
		{
			name:   "media-level c= wins over session-level",
			body:   sdpBody("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.1", "t=0 0", "m=audio 4006 RTP/AVP 0", "c=IN IP4 198.51.100.7"),
			addr:   "198.51.100.7:4006",
			codecs: []uint8{0}, direction: "sendrecv",
		},
		{
			name:   "hold with sendonly",
			body:   sdpBody(append(head, "m=audio 4008 RTP/AVP 0", "a=sendonly")...),
			addr:   "192.0.2.1:4008",
			codecs: []uint8{0}, direction: "sendonly", held: true,
		},
		{
			name:   "hold with c=0.0.0.0 (RFC 3264 §8.4)",
			body:   sdpBody("v=0", "o=- 1 2 IN IP4 192.0.2.1", "s=-", "c=IN IP4 0.0.0.0", "t=0 0", "m=audio 4010 RTP/AVP 0"),
			addr:   "0.0.0.0:4010",
			codecs: []uint8{0}, direction: "sendrecv", held: true,
		},
		{
			name:   "session-level inactive applies to the stream",
			body:   sdpBody("v=0", "o=- 1 2 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.1", "t=0 0", "a=inactive", "m=audio 4012 RTP/AVP 8"),
			addr:   "192.0.2.1:4012",
			codecs: []uint8{8}, direction: "inactive", held: true,
		},
		{
			name:    "only G.729 offered",
			body:    sdpBody(append(head, "m=audio 4014 RTP/AVP 18", "a=rtpmap:18 G729/8000")...),
			wantErr: ErrNoCodec,
		},
		{
			name:    "PT 0 remapped to something else is not PCMU",
			body:    sdpBody(append(head, "m=audio 4016 RTP/AVP 0", "a=rtpmap:0 opus/48000/2")...),
			wantErr: ErrNoCodec,
		},
		{
			name:    "SRTP profile is not for us",
			body:    sdpBody(append(head, "m=audio 4018 RTP/SAVP 0")...),
			wantErr: ErrNoCodec,
		},
		{
			name:    "video only",
			body:    sdpBody(append(head, "m=video 4020 RTP/AVP 96")...),
			wantErr: ErrNoCodec,
		},
		{
			name:    "audio without any c= line",
			body:    sdpBody("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0", "m=audio 4022 RTP/AVP 0"),
			wantErr: ErrBadSDP,
		},
		{
			name:    "connection address is a host name",
			body:    sdpBody("v=0", "o=- 1 1 IN IP4 x", "s=-", "c=IN IP4 media.example.com", "t=0 0", "m=audio 4024 RTP/AVP 0"),
			wantErr: ErrBadSDP,
		},
		{
			name:    "garbage",
			body:    []byte("hello\r\nworld\r\n"),
			wantErr: ErrBadSDP,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := parseSDP(tt.body)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseSDP: %v", err)
			}
			if got := m.Addr.String(); got != tt.addr {
				t.Errorf("addr = %s, want %s", got, tt.addr)
			}
			if string(m.Codecs) != string(tt.codecs) {
				t.Errorf("codecs = %v, want %v", m.Codecs, tt.codecs)
			}
			if m.DTMF != tt.dtmf {
				t.Errorf("dtmf = %d, want %d", m.DTMF, tt.dtmf)
			}
			if m.Direction != tt.direction {
				t.Errorf("direction = %s, want %s", m.Direction, tt.direction)
			}
			if m.held() != tt.held {
				t.Errorf("held = %v, want %v", m.held(), tt.held)
			}
			if m.wantsMedia() == tt.held && tt.direction != "recvonly" {
				t.Errorf("wantsMedia = %v while held = %v", m.wantsMedia(), tt.held)
			}
		})
	}
}

func TestAnswerDirection(t *testing.T) {
	// RFC 3264 §6.1: sendonly is answered recvonly, recvonly sendonly, inactive inactive.
	for offered, want := range map[string]string{
		"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive", "": "sendrecv",
	} {
		if got := answerDirection(offered); got != want {
			t.Errorf("answerDirection(%q) = %q, want %q", offered, got, want)
		}
	}
}

// TestBuildSDPRoundTrip checks that what we write parses back to what we meant.
func TestBuildSDPRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		prefer uint8
		want   []uint8
	}{
		{media.PayloadPCMA, []uint8{8, 0}},
		{media.PayloadPCMU, []uint8{0, 8}},
	} {
		body := buildSDP(sdpParams{
			SessionID: 42, Version: 3, Addr: netip.MustParseAddr("127.0.0.1"), Port: 20000,
			Codecs: offerCodecs(tc.prefer), DTMF: dtmfPayloadType, Direction: "recvonly",
		})
		m, err := parseSDP(body)
		if err != nil {
			t.Fatalf("our own SDP does not parse: %v\n%s", err, body)
		}
		if m.Addr.String() != "127.0.0.1:20000" || string(m.Codecs) != string(tc.want) || m.DTMF != 101 || m.Direction != "recvonly" {
			t.Errorf("round trip = %+v\n%s", m, body)
		}
		if !strings.Contains(string(body), "o=switchboard 42 3 IN IP4 127.0.0.1\r\n") {
			t.Errorf("origin line missing or wrong:\n%s", body)
		}
	}
}

// FuzzParseSDP: hostile SDP must never panic.
func FuzzParseSDP(f *testing.F) {
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 1 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"))
	f.Add([]byte("v=0\r\nm=audio 99999 RTP/AVP 0\r\n"))
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4/127\r\nt=0 0\r\nm=audio 5/2 RTP/AVP 300\r\na=rtpmap:300 x\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseSDP(b)
		if err == nil && (len(m.Codecs) == 0 || !m.Addr.IsValid()) {
			t.Fatalf("accepted SDP without codec or address: %+v", m)
		}
	})
}
