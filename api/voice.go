package api

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"switchboard/ivr"
	"switchboard/store"
)

// Voice is what the voicemail and greeting endpoints need.
type Voice struct {
	// DataDir is where the files live; paths in store records are
	// relative to it.
	DataDir string
	// Owner maps our numbers (E.164) to their owner user ids; ok is false
	// when number is not ours.
	Owner func(number string) (owner string, ok bool)
	// TTS renders previews; nil disables POST /api/tts/preview (503 with a
	// message).
	TTS *ivr.Cache
	// Limits bounds greeting uploads (zero fields take the ivr defaults).
	Limits ivr.Limits
	// GreetingChanged is called after a greeting was uploaded or deleted,
	// so cached frames are dropped. May be nil.
	GreetingChanged func(number string, kind store.GreetingKind)
}

// SetVoice turns on the voicemail, greeting and text-to-speech preview
// endpoints; until it is called they answer 503. Call it before serving
// requests.
func (s *Server) SetVoice(v Voice) { s.voice = &v }

// uploadSlack is how far past Limits.MaxBytes a greeting upload's body may
// run: room for multipart headers and boundaries, and for LoadGreeting to
// see that a file is too large rather than cut short.
const uploadSlack = 64 << 10

// maxUploadBytes is the largest greeting file accepted.
func (v *Voice) maxUploadBytes() int64 {
	if v == nil || v.Limits.MaxBytes <= 0 {
		return ivr.DefaultMaxBytes
	}
	return v.Limits.MaxBytes
}

// uploadCap is the body cap of the greeting upload route.
func (s *Server) uploadCap() int64 { return s.voice.maxUploadBytes() + uploadSlack }

// errOutsideDataDir reports a store path that would leave DataDir.
var errOutsideDataDir = errors.New("path leaves the data directory")

// dataPath turns a path from a store record (relative to DataDir, slash
// separated) into a file path, refusing any that would leave DataDir.
func (v *Voice) dataPath(rel string) (string, error) {
	local := filepath.FromSlash(rel)
	if !filepath.IsLocal(local) {
		return "", fmt.Errorf("%q: %w", rel, errOutsideDataDir)
	}
	p := filepath.Join(v.DataDir, local)
	if err := checkUnder(v.DataDir, p); err != nil {
		return "", fmt.Errorf("%q: %w", rel, err)
	}
	return p, nil
}

// checkUnder verifies that the joined path p is inside dir (and is not dir
// itself). It is the last line of defence: callers build p only from store
// records or validated values.
func checkUnder(dir, p string) error {
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return errOutsideDataDir
	}
	return nil
}

// e164 matches an E.164 number as the configuration writes it: "+", a
// non-zero country code digit, at most 15 digits in all (ITU-T E.164 §6).
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// voiceOn returns the voice configuration, or answers 503 when SetVoice was
// never called.
func (s *Server) voiceOn(w http.ResponseWriter) (*Voice, bool) {
	if s.voice == nil {
		writeError(w, http.StatusServiceUnavailable, "voicemail and greetings are not configured on this server")
		return nil, false
	}
	return s.voice, true
}

// ourNumber resolves the {number} path value to one of our numbers and its
// owner, answering 404 when it is not one.
func ourNumber(w http.ResponseWriter, r *http.Request, v *Voice) (number, owner string, ok bool) {
	number = r.PathValue("number")
	if e164.MatchString(number) && v.Owner != nil {
		if owner, ok = v.Owner(number); ok {
			return number, owner, true
		}
	}
	writeError(w, http.StatusNotFound, "no number "+strconv.Quote(number)+" on this switchboard (numbers are E.164, like +15550100)")
	return "", "", false
}

// allowed reports whether the request's sender may manage what any of
// owners owns: always with auth off or with the admin token, otherwise
// only the owner user.
func (s *Server) allowed(r *http.Request, owners ...string) bool {
	if s.auth == nil {
		return true
	}
	p, ok := principalFrom(r.Context())
	if !ok {
		return false
	}
	if p.admin {
		return true
	}
	for _, o := range owners {
		if o != "" && o == p.user {
			return true
		}
	}
	return false
}
