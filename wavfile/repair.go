package wavfile

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"time"
)

// header is the parsed canonical header.
type header struct {
	channels int
	rate     int
	riffSize int64
	dataSize int64
}

// blockAlign returns the bytes per sample frame.
func (h header) blockAlign() int { return h.channels * bytesPerSample }

// readHeader reads and validates the canonical 44-byte header at the start of
// f. Anything that is not exactly the layout Create writes, with PCM format,
// 1 or 2 channels, 8..48 kHz and 16 bits, is ErrNotWAV.
func readHeader(f *os.File, path string) (header, error) {
	var b [headerSize]byte
	if _, err := f.ReadAt(b[:], 0); err != nil {
		if err == io.EOF {
			return header{}, fmt.Errorf("%w: %s: shorter than the %d-byte header", ErrNotWAV, path, headerSize)
		}
		return header{}, fmt.Errorf("wavfile: read header of %s: %w", path, err)
	}
	le := binary.LittleEndian
	h := header{
		channels: int(le.Uint16(b[22:])),
		rate:     int(le.Uint32(b[24:])),
		riffSize: int64(le.Uint32(b[4:])),
		dataSize: int64(le.Uint32(b[40:])),
	}
	if string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" || string(b[12:16]) != "fmt " {
		return header{}, fmt.Errorf("%w: %s: no RIFF/WAVE/fmt signature", ErrNotWAV, path)
	}
	if le.Uint32(b[16:]) != 16 || le.Uint16(b[20:]) != 1 {
		return header{}, fmt.Errorf("%w: %s: fmt chunk is not plain PCM", ErrNotWAV, path)
	}
	if (h.channels != 1 && h.channels != 2) || h.rate < minRate || h.rate > maxRate ||
		le.Uint16(b[34:]) != bitsPerSample {
		return header{}, fmt.Errorf("%w: %s: %d channels, %d Hz, %d bits", ErrNotWAV, path,
			h.channels, h.rate, le.Uint16(b[34:]))
	}
	if int(le.Uint16(b[32:])) != h.blockAlign() || int(le.Uint32(b[28:])) != h.rate*h.blockAlign() {
		return header{}, fmt.Errorf("%w: %s: inconsistent block align or byte rate", ErrNotWAV, path)
	}
	if string(b[36:40]) != "data" {
		return header{}, fmt.Errorf("%w: %s: chunk %q where the data chunk should start", ErrNotWAV, path, b[36:40])
	}
	return h, nil
}

// Repair makes a file left open by a crashed writer valid: it rewrites the
// RIFF and data sizes from the actual file size, truncating a trailing partial
// frame so the data length is a multiple of channels*2, fsyncs, and returns
// the audio duration. A file whose header already matches its size is left
// unchanged. A file that does not start with the canonical PCM header this
// package writes, or that has chunks after the data chunk, gives ErrNotWAV and
// is never modified; so does a file shorter than the header (a crash before
// Create finished writing it), which the caller may delete.
func Repair(path string) (time.Duration, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("wavfile: repair %s: %w", path, err)
	}
	d, err := repairFile(f, path)
	if cerr := f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("wavfile: repair %s: %w", path, cerr)
	}
	if err != nil {
		return 0, err
	}
	return d, nil
}

func repairFile(f *os.File, path string) (time.Duration, error) {
	h, err := readHeader(f, path)
	if err != nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("wavfile: repair %s: %w", path, err)
	}
	// Our writer keeps RIFF size <= 36 + data size even mid-update (see
	// writeSizesLocked), so a larger RIFF size means further chunks follow the
	// audio: another program's file, whose tail must not become "audio".
	if h.riffSize > riffOverhead+h.dataSize {
		return 0, fmt.Errorf("%w: %s: RIFF size %d leaves room for chunks after data", ErrNotWAV, path, h.riffSize)
	}
	ba := int64(h.blockAlign())
	data := st.Size() - headerSize
	data -= data % ba
	if data > maxDataSize(h.blockAlign()) {
		return 0, fmt.Errorf("%w: %s: %d bytes is more than a WAV can describe", ErrNotWAV, path, st.Size())
	}
	d := framesDuration(data/ba, h.rate)
	if h.dataSize == data && h.riffSize == riffOverhead+data && st.Size() == headerSize+data {
		return d, nil
	}
	if st.Size() > headerSize+data {
		// A frame cut short by the crash: drop it so channels stay aligned.
		if err := f.Truncate(headerSize + data); err != nil {
			return 0, fmt.Errorf("wavfile: repair %s: %w", path, err)
		}
	}
	var scratch [4]byte
	if err := putSizes(f, &scratch, h.dataSize, data); err != nil {
		return 0, fmt.Errorf("wavfile: repair %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("wavfile: repair %s: %w", path, err)
	}
	return d, nil
}

// Info reads the canonical header of path and returns its channel count,
// sample rate and number of sample frames. The frame count comes from the data
// size, clamped to the audio actually present, so a file whose writer crashed
// reports no more audio than it holds. A file without the canonical header
// gives ErrNotWAV.
func Info(path string) (channels, rate int, frames int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("wavfile: info %s: %w", path, err)
	}
	defer f.Close()
	h, err := readHeader(f, path)
	if err != nil {
		return 0, 0, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("wavfile: info %s: %w", path, err)
	}
	data := min(h.dataSize, st.Size()-headerSize)
	return h.channels, h.rate, data / int64(h.blockAlign()), nil
}
