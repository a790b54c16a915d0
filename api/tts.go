package api

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"switchboard/ivr"
	"switchboard/media"
)

// Bounds of POST /api/tts/preview.
const (
	// maxTTSBody bounds the request body: 1000 characters of text, even
	// all escaped, fit well within it.
	maxTTSBody = 16 << 10
	// maxPreviewChars bounds the text, in characters after trimming.
	maxPreviewChars = 1000
	// previewTimeout bounds one rendering, so a stuck engine cannot hold
	// the request open until the server's write timeout.
	previewTimeout = 30 * time.Second
	// defaultPreviewLanguage is used when the request names none.
	defaultPreviewLanguage = "en-us"
)

// ttsPreviewRequest is the JSON body of POST /api/tts/preview.
type ttsPreviewRequest struct {
	Text     string `json:"text"`
	Language string `json:"language"`
	Voice    string `json:"voice"`
}

// previewSlots bounds concurrent previews process-wide.
var previewSlots = make(chan struct{}, 2)

func (s *Server) ttsPreview(w http.ResponseWriter, r *http.Request) {
	if s.voice == nil || s.voice.TTS == nil {
		writeError(w, http.StatusServiceUnavailable, "text-to-speech is not configured on this server")
		return
	}
	req, err := readPreviewRequest(w, r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	// Each preview runs an espeak-ng process: bound how many run at once so
	// a client cannot take the machine's CPU from the calls.
	select {
	case previewSlots <- struct{}{}:
		defer func() { <-previewSlots }()
	default:
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "text-to-speech is busy; try again in a second")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), previewTimeout)
	defer cancel()
	samples, err := s.voice.TTS.Preview(ctx, req.Text, req.Language, req.Voice)
	switch {
	case err == nil:
	case errors.Is(err, ivr.ErrBadVoice):
		writeError(w, http.StatusBadRequest, userMessage(err))
		return
	case errors.Is(err, ivr.ErrEmpty):
		// Text of only punctuation speaks nothing: the request's fault.
		writeError(w, http.StatusBadRequest, "the text speaks nothing: "+userMessage(err))
		return
	case r.Context().Err() != nil:
		return // the client went away; nobody reads an answer
	default:
		s.log.Warn("text-to-speech preview failed", "language", req.Language, "voice", req.Voice, "error", err)
		writeError(w, http.StatusBadGateway, "text-to-speech failed: "+userMessage(err))
		return
	}
	wav := encodeWAV(samples, media.ClockRate)
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Content-Length", strconv.Itoa(len(wav)))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(wav)
}

// readPreviewRequest reads and validates the preview body, filling in the
// default language and voice.
func readPreviewRequest(w http.ResponseWriter, r *http.Request) (ttsPreviewRequest, error) {
	const shape = `body must be JSON like {"text": "Hello", "language": "en-us", "voice": "default"}`
	var req ttsPreviewRequest
	if err := readJSON(w, r, maxTTSBody, `{"text": "Hello", "language": "en-us", "voice": "default"}`, &req, false); err != nil {
		return ttsPreviewRequest{}, err
	}
	req.Text = strings.TrimSpace(req.Text)
	switch n := utf8.RuneCountInString(req.Text); {
	case n == 0:
		return ttsPreviewRequest{}, errors.New("text is empty")
	case n > maxPreviewChars:
		return ttsPreviewRequest{}, fmt.Errorf("text has %d characters; the limit is %d", n, maxPreviewChars)
	}
	if req.Language == "" {
		req.Language = defaultPreviewLanguage
	}
	if req.Voice == "" {
		req.Voice = "default"
	}
	return req, nil
}

// encodeWAV returns samples (mono, 16-bit) as a canonical 44-byte-header
// RIFF/WAVE file, the shape browsers' <audio> plays directly.
func encodeWAV(samples []int16, rate int) []byte {
	const header = 44
	dataLen := 2 * len(samples)
	b := make([]byte, header+dataLen)
	le := binary.LittleEndian
	copy(b[0:4], "RIFF")
	le.PutUint32(b[4:8], uint32(header-8+dataLen))
	copy(b[8:12], "WAVE")
	copy(b[12:16], "fmt ")
	le.PutUint32(b[16:20], 16) // PCM fmt chunk size
	le.PutUint16(b[20:22], 1)  // WAVE_FORMAT_PCM
	le.PutUint16(b[22:24], 1)  // mono
	le.PutUint32(b[24:28], uint32(rate))
	le.PutUint32(b[28:32], uint32(2*rate)) // byte rate
	le.PutUint16(b[32:34], 2)              // block align
	le.PutUint16(b[34:36], 16)             // bits per sample
	copy(b[36:40], "data")
	le.PutUint32(b[40:44], uint32(dataLen))
	for i, v := range samples {
		le.PutUint16(b[header+2*i:], uint16(v))
	}
	return b
}
