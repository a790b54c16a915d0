package ivr

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"switchboard/media"
)

// Default upload limits, used where a Limits field is zero.
const (
	// DefaultMaxBytes is the largest greeting file accepted: 5 MB.
	DefaultMaxBytes int64 = 5 << 20
	// DefaultMaxDuration is the longest greeting accepted.
	DefaultMaxDuration = 120 * time.Second
)

// drainFactor bounds how far past the limit LoadGreeting keeps reading an
// oversized upload only to report its real size: beyond this many times the
// limit it gives up and reports "more than".
const drainFactor = 4

// Limits bounds what LoadGreeting accepts. Zero (or negative) fields take
// the defaults.
type Limits struct {
	// MaxBytes is the largest file size in bytes (default 5 MB).
	MaxBytes int64
	// MaxDuration is the longest playing time (default 120 s).
	MaxDuration time.Duration
}

// withDefaults fills zero fields.
func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxDuration <= 0 {
		l.MaxDuration = DefaultMaxDuration
	}
	return l
}

// audioKind is what sniffing found at the start of a file.
type audioKind int

const (
	kindUnknown audioKind = iota
	kindWAV
	kindMP3
	kindMPEGOther // MPEG audio frame sync, but layer I or II
)

// LoadGreeting reads an uploaded greeting, identifies it by its content
// (RIFF/WAVE, an ID3v2 tag, or an MPEG audio frame header; the name is used
// only in error messages, so a text file named greeting.mp3 is still
// rejected), checks it against limits and returns it as 8 kHz mono samples
// ready for EncodeFrames. Errors wrap ErrEmpty, ErrTooLarge, ErrNotAudio,
// ErrUnsupported or ErrTooLong with a message naming the file and the limit.
func LoadGreeting(r io.Reader, name string, limits Limits) ([]int16, error) {
	limits = limits.withDefaults()
	if name == "" {
		name = "greeting"
	}
	data, err := io.ReadAll(io.LimitReader(r, limits.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("ivr: read %s: %w", name, err)
	}
	if int64(len(data)) > limits.MaxBytes {
		return nil, fmt.Errorf("%w: %s is %s; the limit is %s",
			ErrTooLarge, name, describeSize(r, int64(len(data)), limits.MaxBytes), formatLimit(limits.MaxBytes))
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: %s has no content", ErrEmpty, name)
	}

	var (
		samples []int16
		rate    int
	)
	switch sniff(data) {
	case kindWAV:
		samples, rate, err = DecodeWAV(bytes.NewReader(data))
	case kindMP3:
		// The cap is in source samples, so it needs the source rate; 48 kHz
		// is the highest MPEG rate and the exact check follows below.
		samples, rate, err = decodeMP3(data, durationSamples(limits.MaxDuration, 48000))
	case kindMPEGOther:
		return nil, fmt.Errorf("%w: %s is MPEG audio layer I or II; upload MP3 (layer III) or WAV", ErrUnsupported, name)
	default:
		return nil, fmt.Errorf("%w: %s is neither WAV nor MP3", ErrNotAudio, name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(samples) == 0 {
		return nil, fmt.Errorf("%w: %s contains no audio samples", ErrEmpty, name)
	}
	if dur := time.Duration(int64(len(samples)) * int64(time.Second) / int64(rate)); dur > limits.MaxDuration {
		return nil, fmt.Errorf("%w: %s plays for at least %s; the limit is %s",
			ErrTooLong, name, dur.Round(100*time.Millisecond), limits.MaxDuration)
	}
	return Resample(samples, rate, media.ClockRate), nil
}

// durationSamples converts d to a sample count at rate Hz (rounded down).
func durationSamples(d time.Duration, rate int) int {
	return int(int64(d) * int64(rate) / int64(time.Second))
}

// sniff classifies data by its first bytes.
func sniff(data []byte) audioKind {
	switch {
	case len(data) >= 12 && string(data[0:4]) == "RIFF" && string(data[8:12]) == "WAVE":
		return kindWAV
	case len(data) >= 3 && string(data[0:3]) == "ID3":
		return kindMP3
	case len(data) >= 4 && data[0] == 0xFF && data[1]&0xE0 == 0xE0:
		// MPEG audio frame header (ISO/IEC 11172-3 §2.4.2.3): 11 sync bits,
		// then version, layer, protection; bit rate index 15 and sample
		// rate index 3 are forbidden, version 01 is reserved.
		version := (data[1] >> 3) & 0x3
		layer := (data[1] >> 1) & 0x3
		bitrate := data[2] >> 4
		srate := (data[2] >> 2) & 0x3
		if version == 1 || layer == 0 || bitrate == 15 || srate == 3 {
			return kindUnknown
		}
		if layer != 1 { // layer bits 01 mean layer III
			return kindMPEGOther
		}
		return kindMP3
	}
	return kindUnknown
}

// describeSize returns the size of an oversized upload for the error
// message. It uses the reader's own idea of its size where it has one, and
// otherwise drains a bounded amount more (which also lets an HTTP server
// reuse the connection), falling back to "more than N MB".
func describeSize(r io.Reader, read, limit int64) string {
	type lener interface{ Len() int }
	if l, ok := r.(lener); ok {
		return formatMB(read + int64(l.Len()))
	}
	n, err := io.CopyN(io.Discard, r, drainFactor*limit)
	if errors.Is(err, io.EOF) {
		return formatMB(read + n)
	}
	// Either the drain cap was hit or the reader failed: the true size is
	// unknown, only that it exceeds what was read.
	return "more than " + formatMB(read+n)
}

// formatMB renders a measured byte count in MB (2^20 bytes) with one
// decimal, "6.0 MB".
func formatMB(n int64) string {
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}

// formatLimit renders a configured limit in MB, without a decimal when it is
// a whole number ("5 MB").
func formatLimit(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return formatMB(n)
}
