package main

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
)

func TestBuildParseRoundTrip(t *testing.T) {
	addr := netip.MustParseAddrPort("127.0.0.1:41000")
	got, err := parseAudio(buildSDP(42, addr, ptPCMA, ptPCMU))
	if err != nil {
		t.Fatal(err)
	}
	if got.Addr != addr || !slices.Equal(got.Codecs, []uint8{ptPCMA, ptPCMU}) {
		t.Errorf("round trip = %+v, want %v with [8 0]", got, addr)
	}
}

func TestParseAudio(t *testing.T) {
	// The shape the gateway writes: session-level c=, telephone-event too.
	gateway := "v=0\r\no=switchboard 1 1 IN IP4 127.0.0.1\r\ns=switchboard\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 21000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n" +
		"a=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\na=sendrecv\r\n"
	tests := []struct {
		name    string
		body    string
		want    remoteAudio
		wantErr error
	}{
		{"gateway offer", gateway, remoteAudio{netip.MustParseAddrPort("127.0.0.1:21000"), []uint8{0, 8}}, nil},
		{"media-level c= wins", "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n" +
			"m=audio 5004 RTP/AVP 8\r\nc=IN IP4 127.0.0.2\r\n",
			remoteAudio{netip.MustParseAddrPort("127.0.0.2:5004"), []uint8{8}}, nil},
		{"no G.711", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
			"m=audio 5004 RTP/AVP 9\r\n", remoteAudio{}, errNoAudio},
		{"video only", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
			"m=video 5004 RTP/AVP 96\r\n", remoteAudio{}, errNoAudio},
		{"no c= line", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0\r\n",
			remoteAudio{}, errNoAudio},
	}
	for _, tt := range tests {
		got, err := parseAudio([]byte(tt.body))
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("%s: error = %v, want %v", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got.Addr != tt.want.Addr || !slices.Equal(got.Codecs, tt.want.Codecs) {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
	if _, err := parseAudio([]byte("not sdp")); err == nil {
		t.Error("garbage: no error")
	}
}

func TestPick(t *testing.T) {
	ra := remoteAudio{Codecs: []uint8{ptPCMU, ptPCMA}}
	if pt, ok := ra.pick(ptPCMA); !ok || pt != ptPCMA {
		t.Errorf("pick(PCMA) = %d, %v", pt, ok)
	}
	if _, ok := (remoteAudio{Codecs: []uint8{ptPCMU}}).pick(ptPCMA); ok {
		t.Error("pick of an absent codec succeeded")
	}
}

func TestCodecByName(t *testing.T) {
	for name, want := range map[string]uint8{"pcmu": 0, "PCMA": 8, "ulaw": 0, "alaw": 8} {
		if got, err := codecByName(name); err != nil || got != want {
			t.Errorf("codecByName(%q) = %d, %v; want %d", name, got, err, want)
		}
	}
	if _, err := codecByName("opus"); err == nil {
		t.Error("opus: no error")
	}
}
