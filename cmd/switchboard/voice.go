package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"

	"switchboard/call"
	"switchboard/config"
	"switchboard/ivr"
	"switchboard/media"
	"switchboard/store"
)

// voice is the announcement and voicemail side of the gateway.
type voice struct {
	tts     *ivr.Cache // nil when espeak-ng is not installed
	prompts *ivr.Prompts
	mailbox *ivr.Mailbox
	limits  ivr.Limits // uploaded and configured greeting files
}

// setupVoice opens the TTS prompt cache under data_dir/prompts, repairs
// voicemails a crash left open, and returns the prompt library and mailbox.
// Without espeak-ng the gateway still runs: spoken prompts are skipped
// (voicemail callers hear the beep only) and the log says how to fix it.
func setupVoice(cfg *config.Config, st *store.Store, log *slog.Logger) (*voice, error) {
	v := &voice{}
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		log.Warn("text-to-speech unavailable: install espeak-ng (apt-get install espeak-ng); spoken prompts will be skipped")
	} else {
		cache, err := ivr.NewCache(filepath.Join(cfg.DataDir, "prompts"), ivr.Espeak{})
		if err != nil {
			return nil, err
		}
		v.tts = cache
	}
	v.limits = ivr.Limits{MaxDuration: cfg.Greetings.MaxLength}
	v.prompts = ivr.NewPrompts(v.tts, cfg.DefaultRegion, v.limits)
	v.mailbox = &ivr.Mailbox{DataDir: cfg.DataDir, Store: st, Prompts: v.prompts, Log: log}
	if n, err := v.mailbox.Recover(); err != nil {
		return nil, err
	} else if n > 0 {
		log.Warn("repaired voicemails a crash interrupted", "count", n)
	}
	return v, nil
}

// warm renders every configured prompt in both G.711 codecs in the
// background, so the first call to a number does not wait for espeak-ng.
func (v *voice) warm(ctx context.Context, ec call.Config, log *slog.Logger) {
	srcs := []ivr.Source{{Tone: ivr.ToneBeep}, {Tone: ivr.ToneRingback}}
	for _, n := range ec.Numbers {
		// Consent plays on inbound calls of recorded numbers and on outbound
		// calls of recorded users, who present their own numbers.
		if ec.RecordingAllowed && (n.Record || ec.RecordOutbound[n.Owner]) {
			srcs = append(srcs, n.Consent)
		}
		if n.Voicemail.Enabled {
			srcs = append(srcs, n.Voicemail.InHours, n.Voicemail.AfterHours)
		}
	}
	go func() {
		for _, src := range srcs {
			for _, pt := range []uint8{media.PayloadPCMU, media.PayloadPCMA} {
				if _, err := v.prompts.Frames(ctx, src, pt); err != nil {
					if !errors.Is(err, ivr.ErrNoTTS) && ctx.Err() == nil {
						log.Error("prompt cannot be played", "prompt", src.String(), "error", err)
					}
					break
				}
			}
		}
	}()
}

// source converts a configured prompt; audio paths are under data_dir.
func source(p config.Prompt, dataDir string) ivr.Source {
	if p.Audio != "" {
		return ivr.Source{Audio: filepath.Join(dataDir, filepath.FromSlash(p.Audio))}
	}
	return ivr.Source{Text: p.Text, Language: p.Language, Voice: p.Voice}
}

// checkAudioFiles loads every audio prompt the configuration names, so a
// missing or unusable file is a configuration error naming its key, found
// at startup rather than by the first caller.
func checkAudioFiles(cfg *config.Config) error {
	var errs []error
	check := func(key string, p config.Prompt) {
		if p.Audio == "" {
			return
		}
		path := filepath.Join(cfg.DataDir, filepath.FromSlash(p.Audio))
		f, err := os.Open(path)
		if err == nil {
			_, err = ivr.LoadGreeting(f, p.Audio, ivr.Limits{MaxDuration: cfg.Greetings.MaxLength})
			f.Close()
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	for i, n := range cfg.Numbers {
		p := fmt.Sprintf("numbers[%d]", i)
		check(p+".consent.audio", n.Consent)
		check(p+".voicemail.in_hours.audio", n.Voicemail.InHours)
		check(p+".voicemail.after_hours.audio", n.Voicemail.AfterHours)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", config.ErrInvalid, errors.Join(errs...))
	}
	return nil
}
