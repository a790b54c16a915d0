package ivr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"

	"switchboard/media"
)

// TTS renders text to speech. Implementations return 8 kHz mono 16-bit
// linear PCM (media.ClockRate), ready for EncodeFrames. Name identifies the
// engine and is part of the prompt cache key, so two engines never share
// cached audio.
type TTS interface {
	// Name returns a short stable identifier of the engine (and of any
	// setting that changes its output).
	Name() string
	// Render speaks text in language (e.g. "en-us", "pl") with voice (an
	// engine-specific variant; "" or "default" for the language's own).
	Render(ctx context.Context, text, language, voice string) ([]int16, error)
}

// ErrBadVoice reports a language or voice name with characters no engine
// voice uses; it is rejected before anything is run.
var ErrBadVoice = errors.New("ivr: invalid TTS language or voice")

// voiceName matches espeak-ng language and variant names ("en-us",
// "zh-yue", "f3", "klatt") and keeps option-like strings out of argv.
var voiceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$`)

// Espeak is the default, offline TTS engine: it runs espeak-ng, parses the
// WAV it writes to stdout and resamples it from espeak-ng's native 22.05 kHz
// to 8 kHz.
type Espeak struct {
	// Binary is the espeak-ng executable, looked up in PATH; empty means
	// "espeak-ng".
	Binary string
}

var _ TTS = Espeak{}

// Name returns "espeak-ng".
func (Espeak) Name() string { return "espeak-ng" }

// Render runs `espeak-ng -v LANGUAGE[+VOICE] --stdout -- TEXT`. An empty
// language means "en"; a voice of "" or "default" uses the language's
// default voice. Empty text fails with ErrEmpty, malformed names with
// ErrBadVoice.
func (e Espeak) Render(ctx context.Context, text, language, voice string) ([]int16, error) {
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("%w: no text to speak", ErrEmpty)
	}
	v, err := espeakVoice(language, voice)
	if err != nil {
		return nil, err
	}
	bin := e.Binary
	if bin == "" {
		bin = "espeak-ng"
	}
	// "--" ends option parsing so text starting with "-" is spoken, not
	// taken as a flag.
	cmd := exec.CommandContext(ctx, bin, "-v", v, "--stdout", "--", text)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("ivr: espeak-ng: %w", ctxErr)
		}
		return nil, fmt.Errorf("ivr: espeak-ng -v %s: %w: %s", v, err, strings.TrimSpace(stderr.String()))
	}
	samples, rate, err := DecodeWAV(&stdout)
	if err != nil {
		return nil, fmt.Errorf("ivr: espeak-ng output: %w", err)
	}
	if len(samples) == 0 {
		// Text of only punctuation or markup speaks nothing; a prompt of
		// silence is a configuration error worth reporting.
		return nil, fmt.Errorf("%w: espeak-ng produced no audio for %q", ErrEmpty, text)
	}
	return Resample(samples, rate, media.ClockRate), nil
}

// espeakVoice builds espeak-ng's -v argument, LANGUAGE[+VARIANT].
func espeakVoice(language, voice string) (string, error) {
	if language == "" {
		language = "en"
	}
	if !voiceName.MatchString(language) {
		return "", fmt.Errorf("%w: language %q", ErrBadVoice, language)
	}
	language = strings.ToLower(language)
	if voice == "" || strings.EqualFold(voice, "default") {
		return language, nil
	}
	if !voiceName.MatchString(voice) {
		return "", fmt.Errorf("%w: voice %q", ErrBadVoice, voice)
	}
	return language + "+" + strings.ToLower(voice), nil
}
