package config

import (
	"path"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Recording is the account-wide recording switch (yaml "recording").
type Recording struct {
	// Allowed (yaml "allowed") lets numbers with record: true and users
	// with record_outbound: true be recorded; false records nothing,
	// whatever they say. Default true.
	Allowed bool
	// RetentionDays (yaml "retention_days") deletes recordings older than
	// this many days (a daily sweep); 0 keeps them. Default 90.
	RetentionDays int
	// StreamURL (yaml "stream_url"), when set, streams every recorded
	// call's audio live to this ws:// or wss:// URL (docs/livestream.md).
	// Empty streams nothing.
	StreamURL string
}

// Greetings bounds uploaded greeting files (yaml "greetings").
type Greetings struct {
	// MaxLength (yaml "max_length") is the longest greeting accepted, 1s..600s. Default 120s.
	MaxLength time.Duration
}

// Prompt is an announcement: text spoken by text-to-speech, or an audio
// file (WAV or MP3) under data_dir.
type Prompt struct {
	Text     string // yaml "tts" in greetings, "text" in consent: what TTS speaks.
	Language string // yaml "language": espeak-ng language, e.g. "en-us", "pl", "de". Default "en-us".
	Voice    string // yaml "voice": voice variant, "default" for the language's own.
	Audio    string // yaml "audio": path under data_dir of a WAV or MP3 file; wins over the text.
}

// IsZero reports whether the prompt says nothing at all.
func (p Prompt) IsZero() bool { return p.Text == "" && p.Audio == "" }

// Voicemail is a number's voicemail box (yaml "voicemail").
type Voicemail struct {
	Enabled        bool          // yaml "enabled": callers nobody answers may leave a message.
	MaxLength      time.Duration // yaml "max_length": longest message (5s..600s, default 120s).
	SilenceTimeout time.Duration // yaml "silence_timeout": silence that ends a message (1s..60s, default 5s).
	InHours        Prompt        // yaml "in_hours": greeting within working hours.
	AfterHours     Prompt        // yaml "after_hours": greeting outside working hours.
}

// Default greetings and consent text, used where the configuration gives none.
const (
	DefaultConsentText     = "This call may be recorded for quality and training."
	DefaultInHoursGreeting = "Sorry we missed you. Please leave a message after the tone."
	DefaultAfterHours      = "We are closed right now. Please leave a message after the tone."
	DefaultLanguage        = "en-us"
	maxPromptText          = 1000
)

// promptName matches espeak-ng language and voice names ("en-us", "pl",
// "m3"): nothing that could be read as a command-line option or a path.
var promptName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$`)

func defaultVoicemail() Voicemail {
	return Voicemail{
		MaxLength:      120 * time.Second,
		SilenceTimeout: 5 * time.Second,
		InHours:        Prompt{Text: DefaultInHoursGreeting, Language: DefaultLanguage, Voice: "default"},
		AfterHours:     Prompt{Text: DefaultAfterHours, Language: DefaultLanguage, Voice: "default"},
	}
}

// DefaultClosedText is the closed announcement where none is configured.
const DefaultClosedText = "We are closed right now. Please call again during our opening hours."

func defaultClosed() Prompt {
	return Prompt{Text: DefaultClosedText, Language: DefaultLanguage, Voice: "default"}
}

func defaultConsent() Prompt {
	return Prompt{Text: DefaultConsentText, Language: DefaultLanguage, Voice: "default"}
}

// prompt decodes a prompt mapping whose spoken text is under textKey.
// Giving any key replaces the default prompt as a whole, so a greeting set
// to an audio file does not keep the default text beside it.
func (d *decoder) prompt(dst *Prompt, textKey string) func(*yaml.Node, string) {
	return func(n *yaml.Node, p string) {
		*dst = Prompt{Language: DefaultLanguage, Voice: "default"}
		d.mapping(n, p, keys{
			textKey:    d.str(&dst.Text),
			"language": d.str(&dst.Language),
			"voice":    d.str(&dst.Voice),
			"audio":    d.str(&dst.Audio),
		})
	}
}

func (d *decoder) voicemail(dst *Voicemail) func(*yaml.Node, string) {
	return func(n *yaml.Node, p string) {
		d.mapping(n, p, keys{
			"enabled":         d.boolean(&dst.Enabled),
			"max_length":      d.duration(&dst.MaxLength),
			"silence_timeout": d.duration(&dst.SilenceTimeout),
			"in_hours":        d.prompt(&dst.InHours, "tts"),
			"after_hours":     d.prompt(&dst.AfterHours, "tts"),
		})
	}
}

// validatePrompt checks one prompt at path p; textKey names its text key.
func (d *decoder) validatePrompt(pr *Prompt, p, textKey string) {
	if pr.IsZero() {
		d.failAt(p, "needs %s or audio", textKey)
	}
	if n := utf8.RuneCountInString(pr.Text); n > maxPromptText {
		d.failAt(p+"."+textKey, "is %d characters; at most %d", n, maxPromptText)
	}
	if !utf8.ValidString(pr.Text) {
		d.failAt(p+"."+textKey, "is not valid UTF-8")
	}
	if !promptName.MatchString(pr.Language) {
		d.failAt(p+".language", "%q is not a language name such as en-us, pl or de", pr.Language)
	}
	if !promptName.MatchString(pr.Voice) {
		d.failAt(p+".voice", "%q is not a voice name such as default or m3", pr.Voice)
	}
	if pr.Audio != "" {
		if err := checkDataPath(pr.Audio); err != "" {
			d.failAt(p+".audio", "%q %s", pr.Audio, err)
		}
	}
}

// checkDataPath reports why a path cannot name a file under data_dir, or "".
func checkDataPath(s string) string {
	switch {
	case strings.HasPrefix(s, "/") || strings.Contains(s, `\`):
		return "must be a path relative to data_dir, with / between folders"
	case path.Clean(s) != s || s == "." || strings.HasPrefix(s, "../") || s == "..":
		return "must stay inside data_dir (no .., no ./, no //)"
	}
	return ""
}

func (d *decoder) validateGreetings(g *Greetings) {
	if g.MaxLength < time.Second || g.MaxLength > 600*time.Second {
		d.failAt("greetings.max_length", "%s is out of range (1s to 600s)", g.MaxLength)
	}
}

func (d *decoder) validateVoice(n *Number, p string) {
	d.validatePrompt(&n.Consent, p+".consent", "text")
	d.validatePrompt(&n.ClosedAnnouncement, p+".closed_announcement", "text")
	v := &n.Voicemail
	if v.MaxLength < 5*time.Second || v.MaxLength > 600*time.Second {
		d.failAt(p+".voicemail.max_length", "%s is out of range (5s to 600s)", v.MaxLength)
	}
	if v.SilenceTimeout < time.Second || v.SilenceTimeout > 60*time.Second {
		d.failAt(p+".voicemail.silence_timeout", "%s is out of range (1s to 60s)", v.SilenceTimeout)
	}
	d.validatePrompt(&v.InHours, p+".voicemail.in_hours", "tts")
	d.validatePrompt(&v.AfterHours, p+".voicemail.after_hours", "tts")
}
