package ivr

import "errors"

// Sentinel errors returned (wrapped, with a message naming the file and the
// limit) when uploaded or rendered audio cannot be used. Callers such as the
// HTTP API branch on them with errors.Is to choose a status code.
var (
	// ErrTooLarge reports an upload bigger than Limits.MaxBytes.
	ErrTooLarge = errors.New("ivr: audio file too large")
	// ErrNotAudio reports content that is neither WAV nor MP3, or is too
	// damaged to decode.
	ErrNotAudio = errors.New("ivr: not an audio file")
	// ErrEmpty reports an upload with no bytes or no samples, or empty TTS text.
	ErrEmpty = errors.New("ivr: audio is empty")
	// ErrTooLong reports audio that plays longer than Limits.MaxDuration.
	ErrTooLong = errors.New("ivr: audio too long")
	// ErrUnsupported reports a recognised container with an encoding this
	// package does not decode (for example WAV with float or 24-bit samples,
	// or MPEG layer I/II).
	ErrUnsupported = errors.New("ivr: unsupported audio encoding")
)
