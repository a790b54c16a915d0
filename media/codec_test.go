package media

import "testing"

func TestCodecs(t *testing.T) {
	tests := []struct {
		codec  Codec
		pt     uint8
		rtpmap string
	}{
		{PCMU, 0, "PCMU/8000"},
		{PCMA, 8, "PCMA/8000"},
		{TelephoneEvent(101), 101, "telephone-event/8000"},
	}
	for _, tt := range tests {
		if tt.codec.PayloadType != tt.pt {
			t.Errorf("%s: PT %d, want %d", tt.codec, tt.codec.PayloadType, tt.pt)
		}
		if got := tt.codec.String(); got != tt.rtpmap {
			t.Errorf("String = %q, want %q", got, tt.rtpmap)
		}
	}
}
