package ivr

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

const mp3Fixture = "testdata/tone1k_44k1_mono_-6dBFS.mp3"

func TestDecodeMP3Tone(t *testing.T) {
	f, err := os.Open(mp3Fixture)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	samples, rate, err := DecodeMP3(f)
	if err != nil {
		t.Fatal(err)
	}
	// The encoder adds a few frames of delay and padding around the 1 s.
	if rate != 44100 || len(samples) < 44100 || len(samples) > 44100+5*1152 {
		t.Fatalf("got %d samples at %d Hz, want about 44100 at 44100 Hz", len(samples), rate)
	}
	// MP3 is lossy: 1 dB tolerance.
	assertTone(t, Resample(samples, rate, 8000), 8000, 1000, -6, 1)
}

func TestDecodeMP3SkipsID3v2(t *testing.T) {
	raw, err := os.ReadFile(mp3Fixture)
	if err != nil {
		t.Fatal(err)
	}
	// ID3v2.3 header with a 20-byte (syncsafe) body of padding.
	tagged := append([]byte("ID3\x03\x00\x00\x00\x00\x00\x14"), make([]byte, 20)...)
	tagged = append(tagged, raw...)
	samples, rate, err := DecodeMP3(bytes.NewReader(tagged))
	if err != nil {
		t.Fatal(err)
	}
	assertTone(t, Resample(samples, rate, 8000), 8000, 1000, -6, 1)
}

func TestDecodeMP3Rejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"text", []byte("this is a plain text file, not an mp3")},
		{"ID3 tag claiming 256 MB", []byte("ID3\x03\x00\x00\x7f\x7f\x7f\x7fxxxx")},
		{"ID3 tag with bad syncsafe size", []byte("ID3\x03\x00\x00\x80\x00\x00\x00xxxx")},
		{"ID3 only", []byte("ID3\x03\x00\x00\x00\x00\x00\x00")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := DecodeMP3(bytes.NewReader(tc.data)); !errors.Is(err, ErrNotAudio) {
				t.Fatalf("err = %v, want ErrNotAudio", err)
			}
		})
	}
}
