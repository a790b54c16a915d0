package ivr

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// WAVE format tags (the wFormatTag field of the fmt chunk).
const (
	wavFormatPCM        = 0x0001
	wavFormatExtensible = 0xFFFE
)

// wavStreamingSize is the data size streaming writers put in the header
// when they do not know the length up front; espeak-ng --stdout writes a
// size close to 2 GiB for the same reason. Either way the chunk runs to the
// end of the stream.
const wavStreamingSize = 0xFFFFFFFF

// wavFormat is the part of the fmt chunk the decoder needs.
type wavFormat struct {
	tag        uint16
	channels   int
	rate       int
	blockAlign int
	bits       int
	subFormat  uint16 // first two bytes of the extensible SubFormat GUID
}

// DecodeWAV decodes a RIFF/WAVE file holding linear PCM: 8-bit unsigned or
// 16-bit signed little-endian samples, mono or stereo (downmixed by
// averaging the channels), at any sample rate. It returns the samples and
// their rate. Chunks other than fmt and data (LIST, fact, cue, ...) are
// skipped. A data chunk whose declared size runs past the end of the stream
// (as streaming writers such as espeak-ng produce) is read to the end.
// Other encodings fail with ErrUnsupported; input that is not a well-formed
// WAVE file fails with ErrNotAudio.
func DecodeWAV(r io.Reader) (samples []int16, rate int, err error) {
	br := bufio.NewReader(r)
	var hdr [12]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return nil, 0, fmt.Errorf("%w: WAV header: %w", ErrNotAudio, err)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return nil, 0, fmt.Errorf("%w: missing RIFF/WAVE signature", ErrNotAudio)
	}
	var format *wavFormat
	for {
		var ch [8]byte
		if _, err := io.ReadFull(br, ch[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, 0, fmt.Errorf("%w: WAV file has no data chunk", ErrNotAudio)
			}
			return nil, 0, fmt.Errorf("%w: WAV chunk header: %w", ErrNotAudio, err)
		}
		id := string(ch[0:4])
		size := binary.LittleEndian.Uint32(ch[4:8])
		switch id {
		case "fmt ":
			f, err := readWAVFormat(br, size)
			if err != nil {
				return nil, 0, err
			}
			format = f
		case "data":
			if format == nil {
				return nil, 0, fmt.Errorf("%w: WAV data chunk before fmt chunk", ErrNotAudio)
			}
			var body io.Reader = br
			if size != wavStreamingSize {
				body = io.LimitReader(br, int64(size))
			}
			// A short read is tolerated on purpose: see wavStreamingSize.
			data, err := io.ReadAll(body)
			if err != nil {
				return nil, 0, fmt.Errorf("%w: WAV data: %w", ErrNotAudio, err)
			}
			return pcmToMono(data, format), format.rate, nil
		default:
			if err := skipChunk(br, size); err != nil {
				return nil, 0, fmt.Errorf("%w: WAV %q chunk: %w", ErrNotAudio, id, err)
			}
		}
	}
}

// readWAVFormat parses a fmt chunk of the given size and checks that it
// describes PCM this package can decode.
func readWAVFormat(br *bufio.Reader, size uint32) (*wavFormat, error) {
	if size < 16 || size > 1024 {
		return nil, fmt.Errorf("%w: WAV fmt chunk has size %d", ErrNotAudio, size)
	}
	buf := make([]byte, size+size&1) // chunks are padded to even length
	if _, err := io.ReadFull(br, buf); err != nil {
		return nil, fmt.Errorf("%w: WAV fmt chunk: %w", ErrNotAudio, err)
	}
	le := binary.LittleEndian
	f := &wavFormat{
		tag:        le.Uint16(buf[0:2]),
		channels:   int(le.Uint16(buf[2:4])),
		rate:       int(le.Uint32(buf[4:8])),
		blockAlign: int(le.Uint16(buf[12:14])),
		bits:       int(le.Uint16(buf[14:16])),
	}
	tag := f.tag
	if tag == wavFormatExtensible {
		// WAVE_FORMAT_EXTENSIBLE: cbSize(2) validBits(2) channelMask(4)
		// SubFormat GUID(16), whose first two bytes are the real format tag.
		if size < 40 {
			return nil, fmt.Errorf("%w: WAV extensible fmt chunk has size %d", ErrNotAudio, size)
		}
		f.subFormat = le.Uint16(buf[24:26])
		tag = f.subFormat
	}
	if tag != wavFormatPCM {
		return nil, fmt.Errorf("%w: WAV format tag 0x%04x (only linear PCM is supported)", ErrUnsupported, tag)
	}
	if f.bits != 8 && f.bits != 16 {
		return nil, fmt.Errorf("%w: WAV with %d-bit samples (only 8- and 16-bit are supported)", ErrUnsupported, f.bits)
	}
	if f.channels != 1 && f.channels != 2 {
		return nil, fmt.Errorf("%w: WAV with %d channels (only mono and stereo are supported)", ErrUnsupported, f.channels)
	}
	if f.rate < 1000 || f.rate > 384000 {
		return nil, fmt.Errorf("%w: WAV sample rate %d Hz", ErrUnsupported, f.rate)
	}
	if want := f.channels * f.bits / 8; f.blockAlign != want {
		return nil, fmt.Errorf("%w: WAV block align %d, expected %d", ErrNotAudio, f.blockAlign, want)
	}
	return f, nil
}

// skipChunk discards a chunk body and its pad byte (RIFF chunks are
// word-aligned). A missing pad byte at the very end is not an error.
func skipChunk(br *bufio.Reader, size uint32) error {
	if _, err := br.Discard(int(size)); err != nil {
		return err
	}
	if size&1 == 1 {
		if _, err := br.Discard(1); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
	}
	return nil
}

// pcmToMono converts interleaved PCM bytes to mono 16-bit samples, dropping
// a trailing partial frame. Stereo is averaged so a tone present in both
// channels keeps its level.
func pcmToMono(data []byte, f *wavFormat) []int16 {
	frames := len(data) / f.blockAlign
	out := make([]int16, frames)
	for i := range out {
		frame := data[i*f.blockAlign : (i+1)*f.blockAlign]
		var acc int32
		for c := range f.channels {
			if f.bits == 8 {
				// 8-bit WAV is unsigned with 128 as silence.
				acc += (int32(frame[c]) - 128) << 8
			} else {
				acc += int32(int16(binary.LittleEndian.Uint16(frame[2*c:])))
			}
		}
		out[i] = int16(acc / int32(f.channels))
	}
	return out
}
