package ivr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/hajimehoshi/go-mp3"
)

// id3v2HeaderLen is the fixed ID3v2 tag header: "ID3", version (2),
// flags (1), syncsafe size (4).
const id3v2HeaderLen = 10

// DecodeMP3 decodes an MPEG-1/2 layer III stream (an optional leading ID3v2
// tag is skipped) and returns mono samples, stereo being averaged, and their
// sample rate. Input the decoder cannot parse fails with ErrNotAudio.
func DecodeMP3(r io.Reader) ([]int16, int, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, 0, fmt.Errorf("ivr: read MP3: %w", err)
	}
	return decodeMP3(data, 0)
}

// decodeMP3 decodes data, stopping once more than maxSamples mono samples
// have been produced (0 = no limit). The cap matters because a 5 MB MP3 at
// a low bit rate can expand to gigabytes of PCM; LoadGreeting only needs to
// know that the limit was passed.
func decodeMP3(data []byte, maxSamples int) (samples []int16, rate int, err error) {
	body, err := stripID3v2(data)
	if err != nil {
		return nil, 0, err
	}
	// go-mp3 parses untrusted bytes; a panic inside it on a crafted upload
	// must become a rejected file, not a crashed switchboard.
	defer func() {
		if p := recover(); p != nil {
			samples, rate, err = nil, 0, fmt.Errorf("%w: MP3 decoder failed: %v", ErrNotAudio, p)
		}
	}()
	// Hiding Seek keeps go-mp3 from pre-scanning every frame header to
	// compute a length this function does not use.
	dec, err := mp3.NewDecoder(struct{ io.Reader }{bytes.NewReader(body)})
	if err != nil {
		return nil, 0, fmt.Errorf("%w: MP3: %w", ErrNotAudio, err)
	}
	rate = dec.SampleRate()
	// go-mp3 always emits 16-bit little-endian stereo, mono sources included.
	buf := make([]byte, 4*1152*4)
	var pending []byte
	for {
		n, rerr := dec.Read(buf)
		pending = append(pending, buf[:n]...)
		whole := len(pending) / 4 * 4
		for i := 0; i < whole; i += 4 {
			l := int32(int16(binary.LittleEndian.Uint16(pending[i:])))
			r := int32(int16(binary.LittleEndian.Uint16(pending[i+2:])))
			samples = append(samples, int16((l+r)/2))
		}
		pending = pending[:copy(pending, pending[whole:])]
		if maxSamples > 0 && len(samples) > maxSamples {
			return samples, rate, nil
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				break
			}
			// Frames decoded so far are kept when a later frame is damaged
			// (a truncated upload still plays up to the damage); with none
			// decoded the file is rejected.
			if len(samples) == 0 {
				return nil, 0, fmt.Errorf("%w: MP3: %w", ErrNotAudio, rerr)
			}
			break
		}
	}
	return samples, rate, nil
}

// stripID3v2 returns data without a leading ID3v2 tag. go-mp3 can skip the
// tag itself, but it allocates whatever size the header claims (up to
// 256 MB); checking the size against the bytes actually present first keeps
// a forged header from costing memory.
func stripID3v2(data []byte) ([]byte, error) {
	if len(data) < 3 || string(data[:3]) != "ID3" {
		return data, nil
	}
	if len(data) < id3v2HeaderLen {
		return nil, fmt.Errorf("%w: truncated ID3 tag", ErrNotAudio)
	}
	// ID3v2.4 §3.1: the size is a 28-bit syncsafe integer (7 bits per byte)
	// excluding the header, plus a 10-byte footer when flag bit 4 is set.
	sz := data[6:10]
	if (sz[0]|sz[1]|sz[2]|sz[3])&0x80 != 0 {
		return nil, fmt.Errorf("%w: malformed ID3 tag size", ErrNotAudio)
	}
	size := int(sz[0])<<21 | int(sz[1])<<14 | int(sz[2])<<7 | int(sz[3])
	end := id3v2HeaderLen + size
	if data[5]&0x10 != 0 {
		end += id3v2HeaderLen
	}
	if end >= len(data) {
		return nil, fmt.Errorf("%w: ID3 tag with no audio after it", ErrNotAudio)
	}
	return data[end:], nil
}
