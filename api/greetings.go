package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"switchboard/ivr"
	"switchboard/media"
	"switchboard/store"
	"switchboard/wavfile"
)

// greetingUploadPattern is the route of greeting uploads; ServeHTTP gives
// it a larger body cap than the rest of the API.
const greetingUploadPattern = "PUT /api/numbers/{number}/greetings/{kind}"

// greetingsDir is the directory under DataDir holding uploaded greetings,
// one subdirectory per number named by its digits.
const greetingsDir = "greetings"

// maxUploadName bounds the original file name kept with a greeting.
const maxUploadName = 200

// greetingKinds lists the kinds a number has, in the order error messages
// name them.
var greetingKinds = []store.GreetingKind{store.GreetingInHours, store.GreetingAfterHours}

// errNoFilePart reports a multipart upload without a "file" field.
var errNoFilePart = errors.New(`multipart upload has no "file" field`)

// greetingTarget resolves {number} and {kind} and checks that the sender
// owns the number, answering 404 or 403 when not.
func (s *Server) greetingTarget(w http.ResponseWriter, r *http.Request) (v *Voice, number string, kind store.GreetingKind, ok bool) {
	v, ok = s.voiceOn(w)
	if !ok {
		return nil, "", "", false
	}
	number, owner, ok := ourNumber(w, r, v)
	if !ok {
		return nil, "", "", false
	}
	if !s.allowed(r, owner) {
		writeError(w, http.StatusForbidden, "only the owner of "+number+" may manage its greetings")
		return nil, "", "", false
	}
	raw := r.PathValue("kind")
	for _, k := range greetingKinds {
		if raw == string(k) {
			return v, number, k, true
		}
	}
	names := make([]string, len(greetingKinds))
	for i, k := range greetingKinds {
		names[i] = string(k)
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("no greeting kind %q: the kinds are %s", raw, strings.Join(names, ", ")))
	return nil, "", "", false
}

// greetingFile is where number's kind greeting lives, relative to DataDir
// (slash separated, as the store keeps it). It is built only from a
// validated E.164 number and a known kind.
func greetingFile(number string, kind store.GreetingKind) string {
	return path.Join(greetingsDir, strings.TrimPrefix(number, "+"), string(kind)+".wav")
}

func (s *Server) putGreeting(w http.ResponseWriter, r *http.Request) {
	v, number, kind, ok := s.greetingTarget(w, r)
	if !ok {
		return
	}
	limit := v.maxUploadBytes()
	if r.ContentLength > limit+uploadSlack {
		// Refuse before reading what the client announced is too big.
		writeError(w, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("the upload is %.1f MB; the limit is %s", float64(r.ContentLength)/(1<<20), formatLimit(limit)))
		return
	}
	body, name, err := uploadedFile(r)
	if err != nil {
		writeError(w, uploadErrorStatus(err), "could not read the upload: "+err.Error())
		return
	}
	samples, err := ivr.LoadGreeting(body, name, ivr.Limits{MaxBytes: limit, MaxDuration: v.Limits.MaxDuration})
	if err != nil {
		status := greetingErrorStatus(err)
		if status == http.StatusBadRequest {
			s.log.Info("greeting upload failed", "number", number, "kind", kind, "error", err)
		}
		writeError(w, status, userMessage(err))
		return
	}
	by := ""
	if p, ok := principalFrom(r.Context()); ok {
		by = p.user
		if p.admin {
			by = "admin"
		}
	}
	g, err := s.installGreeting(v, number, kind, name, by, samples)
	if err != nil {
		s.log.Error("storing a greeting", "number", number, "kind", kind, "error", err)
		writeError(w, http.StatusInternalServerError, "could not store the greeting; the previous one is unchanged")
		return
	}
	if v.GreetingChanged != nil {
		v.GreetingChanged(number, kind)
	}
	s.log.Info("greeting uploaded", "number", number, "kind", kind, "seconds", g.DurationSeconds, "by", by)
	// number is validated E.164: "+" and digits need no escaping in a path.
	w.Header().Set("Location", "/api/numbers/"+number+"/greetings/"+string(kind))
	writeJSON(w, http.StatusCreated, g)
}

// formatLimit renders a byte limit in MB (2^20 bytes), without a decimal
// when it is a whole number: "5 MB", "0.5 MB".
func formatLimit(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}

// uploadedFile returns the greeting's bytes and file name from either a
// multipart/form-data body (the "file" field) or a raw body (named by
// ?name=, or "greeting").
func uploadedFile(r *http.Request) (io.Reader, string, error) {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType != "multipart/form-data" {
		return r.Body, uploadName(r.URL.Query().Get("name")), nil
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, "", err
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, "", errNoFilePart
		}
		if err != nil {
			return nil, "", err
		}
		if part.FormName() == "file" {
			return part, uploadName(part.FileName()), nil
		}
		// Other fields are skipped; the body cap bounds how many.
		if _, err := io.Copy(io.Discard, part); err != nil {
			return nil, "", err
		}
	}
}

// uploadName cleans a client-supplied file name for messages and the
// greeting record: the base name only, no control characters, bounded in
// length. It never reaches the filesystem.
func uploadName(raw string) string {
	if i := strings.LastIndexAny(raw, `/\`); i >= 0 {
		raw = raw[i+1:]
	}
	raw = strings.Map(func(c rune) rune {
		if unicode.IsControl(c) || c == utf8.RuneError {
			return -1
		}
		return c
	}, raw)
	raw = strings.TrimSpace(raw)
	if len(raw) > maxUploadName {
		cut := maxUploadName
		for cut > 0 && !utf8.RuneStart(raw[cut]) {
			cut--
		}
		raw = raw[:cut]
	}
	if raw == "" || raw == "." || raw == ".." {
		return "greeting"
	}
	return raw
}

// uploadErrorStatus maps a failure to read the upload's envelope.
func uploadErrorStatus(err error) int {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// greetingErrorStatus maps a LoadGreeting failure to a status. Content the
// server cannot use is 422 whatever its Content-Type: greetings are
// identified by their bytes, not by the header.
func greetingErrorStatus(err error) int {
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, ivr.ErrTooLarge), errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ivr.ErrNotAudio), errors.Is(err, ivr.ErrUnsupported),
		errors.Is(err, ivr.ErrEmpty), errors.Is(err, ivr.ErrTooLong):
		return http.StatusUnprocessableEntity
	default:
		// The body could not be read: the client went away or sent a
		// broken stream.
		return http.StatusBadRequest
	}
}

// userMessage is err's text without the "ivr: " package prefixes, which
// help in logs but not the person uploading.
func userMessage(err error) string {
	return strings.ReplaceAll(err.Error(), "ivr: ", "")
}

// installGreeting writes samples as number's kind greeting and records it.
// The WAV is written to a temporary file beside the final one and renamed
// over it, and the previous file is kept until the record is written, so a
// failure at any step leaves the previous greeting (file and record) as it
// was.
func (s *Server) installGreeting(v *Voice, number string, kind store.GreetingKind, name, by string, samples []int16) (store.Greeting, error) {
	rel := greetingFile(number, kind)
	final, err := v.dataPath(rel)
	if err != nil {
		return store.Greeting{}, err
	}
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return store.Greeting{}, fmt.Errorf("greeting directory: %w", err)
	}

	s.greetingMu.Lock()
	defer s.greetingMu.Unlock()

	tmp := filepath.Join(dir, "."+string(kind)+"-"+randomHex()+".wav.tmp")
	wr, err := wavfile.Create(tmp, 1, media.ClockRate)
	if err != nil {
		return store.Greeting{}, fmt.Errorf("create %s: %w", tmp, err)
	}
	if err := wr.Write(samples); err != nil {
		return store.Greeting{}, errors.Join(fmt.Errorf("write %s: %w", tmp, err), wr.Abort(), removeIfExists(tmp))
	}
	if err := wr.Close(); err != nil {
		return store.Greeting{}, errors.Join(fmt.Errorf("close %s: %w", tmp, err), removeIfExists(tmp))
	}
	duration := wr.Duration()

	backup, err := keepOld(final)
	if err != nil {
		return store.Greeting{}, errors.Join(err, removeIfExists(tmp))
	}
	if err := os.Rename(tmp, final); err != nil {
		return store.Greeting{}, errors.Join(fmt.Errorf("install %s: %w", final, err), removeIfExists(tmp), removeIfExists(backup))
	}
	if err := syncDir(dir); err != nil {
		// The rename is done; only its durability across a power loss is
		// in doubt, which is no reason to fail the upload.
		s.log.Warn("syncing the greeting directory", "dir", dir, "error", err)
	}
	g := store.Greeting{
		Number:          number,
		Kind:            kind,
		File:            rel,
		OriginalName:    name,
		DurationSeconds: duration.Seconds(),
		UploadedAt:      time.Now().UTC(),
		UploadedBy:      by,
	}
	if err := s.store.PutGreeting(g); err != nil {
		// Put the previous file back (or remove the new one if there was
		// none) so file and record agree again.
		var restore error
		if backup != "" {
			restore = os.Rename(backup, final)
		} else {
			restore = os.Remove(final)
		}
		return store.Greeting{}, errors.Join(fmt.Errorf("record greeting: %w", err), restore)
	}
	if err := removeIfExists(backup); err != nil {
		s.log.Warn("removing the previous greeting's backup", "path", backup, "error", err)
	}
	if stored, err := s.store.GetGreeting(number, kind); err == nil {
		g = stored // the store's normalised form (times, rounding)
	}
	return g, nil
}

// keepOld makes a second name for the file at p, so it survives p being
// replaced, and returns it ("" when p does not exist). A hard link costs
// nothing; where the filesystem has none the file is copied.
func keepOld(p string) (string, error) {
	backup := p + ".old-" + randomHex()
	err := os.Link(p, backup)
	switch {
	case err == nil:
		return backup, nil
	case errors.Is(err, fs.ErrNotExist):
		return "", nil
	}
	src, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("keep the previous greeting: %w", err)
	}
	defer src.Close()
	dst, err := os.OpenFile(backup, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return "", fmt.Errorf("keep the previous greeting: %w", err)
	}
	_, cerr := io.Copy(dst, src)
	if err := errors.Join(cerr, dst.Close()); err != nil {
		return "", errors.Join(fmt.Errorf("keep the previous greeting: %w", err), os.Remove(backup))
	}
	return backup, nil
}

// removeIfExists removes p; an empty p or a missing file is not an error.
func removeIfExists(p string) error {
	if p == "" {
		return nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// syncDir fsyncs directory dir, making a rename inside it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// randomHex returns 16 random hex digits for temporary file names.
func randomHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

func (s *Server) getGreeting(w http.ResponseWriter, r *http.Request) {
	v, number, kind, ok := s.greetingTarget(w, r)
	if !ok {
		return
	}
	g, err := s.store.GetGreeting(number, kind)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "no uploaded greeting; the configured one is used")
		return
	case err != nil:
		s.log.Error("reading a greeting record", "number", number, "kind", kind, "error", err)
		writeError(w, http.StatusInternalServerError, "greetings unavailable")
		return
	}
	name := strings.TrimPrefix(number, "+") + "-" + string(kind) + ".wav"
	s.serveWAV(w, r, v, g.File, name, "the greeting's audio file is missing; upload it again")
}

func (s *Server) deleteGreeting(w http.ResponseWriter, r *http.Request) {
	v, number, kind, ok := s.greetingTarget(w, r)
	if !ok {
		return
	}
	s.greetingMu.Lock()
	g, err := s.store.DeleteGreeting(number, kind)
	if err == nil {
		s.removeDataFile(v, g.File, "greeting")
	}
	s.greetingMu.Unlock()
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "no uploaded greeting; the configured one is used")
		return
	case err != nil:
		s.log.Error("deleting a greeting", "number", number, "kind", kind, "error", err)
		writeError(w, http.StatusInternalServerError, "greetings unavailable")
		return
	}
	if v.GreetingChanged != nil {
		v.GreetingChanged(number, kind)
	}
	s.log.Info("greeting deleted", "number", number, "kind", kind)
	w.WriteHeader(http.StatusNoContent)
}

// removeDataFile removes the file a deleted record named. The record is
// already gone, so failures are only logged: a missing file is what the
// caller wanted anyway, and a stray file does no harm.
func (s *Server) removeDataFile(v *Voice, rel, what string) {
	if rel == "" {
		return // the record never had a file
	}
	p, err := v.dataPath(rel)
	if err != nil {
		s.log.Error("not removing a "+what+" file outside the data directory", "file", rel, "error", err)
		return
	}
	switch err := os.Remove(p); {
	case errors.Is(err, fs.ErrNotExist):
		s.log.Info(what+" file was already gone", "path", p)
	case err != nil:
		s.log.Error("removing a "+what+" file", "path", p, "error", err)
	}
}

// serveWAV serves the WAV file a store record names with
// http.ServeContent, so Range and conditional requests work. A record
// whose file is gone answers 410 with missingMsg.
func (s *Server) serveWAV(w http.ResponseWriter, r *http.Request, v *Voice, rel, downloadName, missingMsg string) {
	p, err := v.dataPath(rel)
	if err != nil {
		s.log.Error("refusing a stored path outside the data directory", "file", rel, "error", err)
		writeError(w, http.StatusInternalServerError, "the stored file path is invalid")
		return
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		writeError(w, http.StatusGone, missingMsg)
		return
	}
	if err != nil {
		s.log.Error("opening an audio file", "path", p, "error", err)
		writeError(w, http.StatusInternalServerError, "could not read the audio file")
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		s.log.Error("audio file is not a regular file", "path", p, "error", err)
		writeError(w, http.StatusInternalServerError, "could not read the audio file")
		return
	}
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Content-Disposition", "inline; filename="+strconv.Quote(downloadName))
	// Personal audio: browsers may keep it but must revalidate, and shared
	// caches must not keep it at all.
	w.Header().Set("Cache-Control", "private, no-cache")
	http.ServeContent(w, r, downloadName, st.ModTime(), f)
}
