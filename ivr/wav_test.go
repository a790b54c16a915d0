package ivr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestDecodeWAVToneTo8k(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		rate, channels, bits int
	}{
		{"44.1kHz stereo 16-bit", 44100, 2, 16},
		{"16kHz mono 8-bit", 16000, 1, 8},
		{"8kHz mono 16-bit", 8000, 1, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := makeWAV(t, tone(1000, tc.rate, 1, -6), tc.rate, tc.channels, tc.bits)
			samples, rate, err := DecodeWAV(bytes.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			if rate != tc.rate || len(samples) != tc.rate {
				t.Fatalf("got %d samples at %d Hz, want %d at %d Hz", len(samples), rate, tc.rate, tc.rate)
			}
			// 8-bit quantisation noise is about -48 dBFS, well below the
			// tone, so the same 0.5 dB tolerance holds.
			assertTone(t, Resample(samples, rate, 8000), 8000, 1000, -6, 0.5)
		})
	}
}

func TestDecodeWAVStreamingSize(t *testing.T) {
	// espeak-ng --stdout and other streaming writers declare a data size
	// longer than what follows; the decoder reads to the end.
	file := makeWAV(t, tone(1000, 8000, 0.5, -6), 8000, 1, 16)
	binary.LittleEndian.PutUint32(file[len(file)-8000-4:], 0x7ffff000)
	samples, _, err := DecodeWAV(bytes.NewReader(file))
	if err != nil || len(samples) != 4000 {
		t.Fatalf("got %d samples, err %v; want 4000", len(samples), err)
	}
}

func TestDecodeWAVRejects(t *testing.T) {
	good := makeWAV(t, tone(1000, 8000, 0.1, -6), 8000, 1, 16)
	withFmt := func(off int, v uint16) []byte {
		b := bytes.Clone(good)
		binary.LittleEndian.PutUint16(b[20+off:], v) // fmt body starts at byte 20
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"float samples", withFmt(0, 3), ErrUnsupported},
		{"24-bit", withFmt(14, 24), ErrUnsupported},
		{"six channels", withFmt(2, 6), ErrUnsupported},
		{"bad block align", withFmt(12, 7), ErrNotAudio},
		{"not RIFF", []byte("hello, this is not a wave file"), ErrNotAudio},
		{"truncated header", good[:20], ErrNotAudio},
		{"no data chunk", good[:36], ErrNotAudio},
		{"data before fmt", append([]byte("RIFF\x00\x00\x00\x00WAVEdata\x02\x00\x00\x00\x01\x02"), good[12:]...), ErrNotAudio},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := DecodeWAV(bytes.NewReader(tc.data))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}
