package ivr

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	"switchboard/internal/testaudio"
)

// makeWAV builds a PCM WAV file holding mono in on every channel, with a
// LIST chunk of odd length before the data so chunk walking and padding are
// exercised.
func makeWAV(t testing.TB, mono []int16, rate, channels, bits int) []byte {
	t.Helper()
	block := channels * bits / 8
	var data bytes.Buffer
	for _, s := range mono {
		for range channels {
			if bits == 8 {
				data.WriteByte(byte(int(s>>8) + 128))
			} else {
				_ = binary.Write(&data, binary.LittleEndian, s)
			}
		}
	}
	list := []byte("INFOISFT\x03\x00\x00\x00go\x00") // 15 bytes: odd, padded
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("RIFF")
	_ = binary.Write(&b, le, uint32(4+8+16+8+len(list)+1+8+data.Len()))
	b.WriteString("WAVEfmt ")
	_ = binary.Write(&b, le, uint32(16))
	_ = binary.Write(&b, le, uint16(1))
	_ = binary.Write(&b, le, uint16(channels))
	_ = binary.Write(&b, le, uint32(rate))
	_ = binary.Write(&b, le, uint32(rate*block))
	_ = binary.Write(&b, le, uint16(block))
	_ = binary.Write(&b, le, uint16(bits))
	b.WriteString("LIST")
	_ = binary.Write(&b, le, uint32(len(list)))
	b.Write(list)
	b.WriteByte(0)
	b.WriteString("data")
	_ = binary.Write(&b, le, uint32(data.Len()))
	b.Write(data.Bytes())
	return b.Bytes()
}

// tone returns seconds of a freq Hz sine at dbfs, sampled at rate.
func tone(freq float64, rate int, seconds, dbfs float64) []int16 {
	return testaudio.Sine(freq, float64(rate), int(seconds*float64(rate)), testaudio.AmplitudeForDBFS(dbfs), nil)
}

// assertTone checks that samples at rate are dominated by freq at level
// want dBFS within tol dB. The edges are trimmed: filters and codecs ramp in
// and out there.
func assertTone(t *testing.T, samples []int16, rate int, freq, want, tol float64) {
	t.Helper()
	edge := rate / 10
	if len(samples) < 3*edge {
		t.Fatalf("only %d samples at %d Hz", len(samples), rate)
	}
	mid := samples[edge : len(samples)-edge]
	if got := testaudio.DominantFrequency(mid, float64(rate), 200, float64(rate)/2-100, 10); math.Abs(got-freq) > 10 {
		t.Errorf("dominant frequency %.0f Hz, want %.0f Hz", got, freq)
	}
	if got := testaudio.ToneLevelDBFS(mid, float64(rate), freq); math.Abs(got-want) > tol {
		t.Errorf("%.0f Hz level %.2f dBFS, want %.2f ± %.1f dB", freq, got, want, tol)
	}
}
