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
	v, rec, ok := s.loadRecording(w, r.PathValue("id"))
	if !ok {
		return nil, store.Recording{}, false
	}
	if !s.mayHear(r, v, rec.Number) {
		writeError(w, http.StatusForbidden, "only the owner of "+rec.Number+" may hear its recordings")
		return nil, store.Recording{}, false
	}
	return v, rec, true
}

// loadRecording loads the recording of call id without any access check,
// answering 503, 404 or 500 itself.
func (s *Server) loadRecording(w http.ResponseWriter, id string) (*Voice, store.Recording, bool) {
	v, ok := s.voiceOn(w)
	if !ok {
		return nil, store.Recording{}, false
	}
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
	return v, rec, true
}

// mayHear reports whether the request's sender may hear the recordings of
// calls on number: its owner or the admin (anyone with auth off).
func (s *Server) mayHear(r *http.Request, v *Voice, number string) bool {
	var owner string
	if v.Owner != nil {
		owner, _ = v.Owner(number)
	}
	return s.allowed(r, owner)
}

// recordingReply is the JSON of GET /api/calls/{id}/recording: the stored
// record and a playback link to its audio.
type recordingReply struct {
	store.Recording
	// AudioURL serves the audio without an Authorization header for
	// playLinkTTL, for players that cannot send one (an <audio> element).
	AudioURL string `json:"audio_url"`
}

func (s *Server) getRecording(w http.ResponseWriter, r *http.Request) {
	if _, rec, ok := s.recordingFor(w, r); ok {
		writeJSON(w, http.StatusOK, recordingReply{Recording: rec, AudioURL: s.links.audioURL(rec.CallID)})
	}
}

// recordingAudioRoute is the handler of GET /api/calls/{id}/recording/audio.
// A request carrying a playback link (expires and sig in the query) is
// judged by the link alone; any other needs the owner's or the admin's
// bearer token, as the other recording endpoints do.
func (s *Server) recordingAudioRoute() http.HandlerFunc {
	bearer := s.userOrAdmin(s.recordingAudio)
	return func(w http.ResponseWriter, r *http.Request) {
		if hasPlayLink(r.URL.Query()) {
			s.linkedRecordingAudio(w, r)
			return
		}
		bearer(w, r)
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

// linkedRecordingAudio serves the audio of call {id} to the holder of a
// playback link for that call. The link is checked before the store is
// read, so a bad link learns nothing about which calls have recordings.
// Range requests work as with a bearer token: a player fetches the
// metadata first and seeks with further requests carrying the same link.
func (s *Server) linkedRecordingAudio(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.links.check(id, r.URL.Query()); err != nil {
		writeError(w, http.StatusForbidden, err.Error())
		return
	}
	v, rec, ok := s.loadRecording(w, id)
	if !ok {
		return
	}
	s.serveWAV(w, r, v, rec.File, "call-"+rec.CallID+".wav", "the recording's audio file is missing")
}

// listedCall is one item of GET /api/calls: the call record, and a summary
// of its recording when it has one the sender may hear.
type listedCall struct {
	store.CallRecord
	Recording *recordingSummary `json:"recording,omitempty"`
}

// recordingSummary is what the call list tells of a call's recording: enough
// to offer playback; GET /api/calls/{id}/recording has the rest.
type recordingSummary struct {
	State           store.RecordingState `json:"state"`
	DurationSeconds float64              `json:"duration_seconds"`
}

// withRecordings pairs each call with its recording's summary. A recording
// is listed only where the sender may hear it (the number's owner or the
// admin), so the page offers playback only where it would work. A failed
// lookup is logged and leaves that call without a summary: the call log
// stays usable when recordings are not.
func (s *Server) withRecordings(r *http.Request, calls []store.CallRecord) []listedCall {
	out := make([]listedCall, len(calls))
	for i, c := range calls {
		out[i].CallRecord = c
		if s.voice == nil {
			continue // recordings are not served at all
		}
		rec, err := s.store.GetRecording(c.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue
		case err != nil:
			s.log.Error("reading a listed call's recording", "call", c.ID, "error", err)
			continue
		}
		if s.mayHear(r, s.voice, rec.Number) {
			out[i].Recording = &recordingSummary{State: rec.State, DurationSeconds: rec.DurationSeconds}
		}
	}
	return out
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
