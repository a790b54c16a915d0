package api

import (
	"errors"
	"net/http"
	"strconv"

	"switchboard/store"
)

// recordingFor loads the recording of call {id} and checks that the sender
// may hear it: the owner of the call's number, or the admin. It answers
// 404, 403 or 500 itself.
func (s *Server) recordingFor(w http.ResponseWriter, r *http.Request) (*Voice, store.Recording, bool) {
	v, ok := s.voiceOn(w)
	if !ok {
		return nil, store.Recording{}, false
	}
	id := r.PathValue("id")
	rec, err := s.store.GetRecording(id)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalid):
		writeError(w, http.StatusNotFound, "call "+strconv.Quote(id)+" has no recording")
		return nil, store.Recording{}, false
	case err != nil:
		s.log.Error("reading a recording", "call", id, "error", err)
		writeError(w, http.StatusInternalServerError, "recordings unavailable")
		return nil, store.Recording{}, false
	}
	var owner string
	if v.Owner != nil {
		owner, _ = v.Owner(rec.Number)
	}
	if !s.allowed(r, owner) {
		writeError(w, http.StatusForbidden, "only the owner of "+rec.Number+" may hear its recordings")
		return nil, store.Recording{}, false
	}
	return v, rec, true
}

func (s *Server) getRecording(w http.ResponseWriter, r *http.Request) {
	if _, rec, ok := s.recordingFor(w, r); ok {
		writeJSON(w, http.StatusOK, rec)
	}
}

// recordingAudio serves the stereo WAV with range requests, so a browser's
// player can seek. A recording still being made is served as far as it
// reached the disk (its header is rewritten at every flush).
func (s *Server) recordingAudio(w http.ResponseWriter, r *http.Request) {
	v, rec, ok := s.recordingFor(w, r)
	if !ok {
		return
	}
	s.serveWAV(w, r, v, rec.File, "call-"+rec.CallID+".wav", "the recording's audio file is missing")
}

func (s *Server) deleteRecording(w http.ResponseWriter, r *http.Request) {
	v, rec, ok := s.recordingFor(w, r)
	if !ok {
		return
	}
	if rec.State == store.RecordingActive {
		writeError(w, http.StatusConflict, "the call is still being recorded")
		return
	}
	deleted, err := s.store.DeleteRecording(rec.CallID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "call "+strconv.Quote(rec.CallID)+" has no recording")
		return
	case err != nil:
		s.log.Error("deleting a recording", "call", rec.CallID, "error", err)
		writeError(w, http.StatusInternalServerError, "recordings unavailable")
		return
	}
	s.removeDataFile(v, deleted.File, "recording")
	s.log.Info("recording deleted", "call", rec.CallID, "number", rec.Number)
	w.WriteHeader(http.StatusNoContent)
}
