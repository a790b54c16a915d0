package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"switchboard/store"
)

// maxPatchBody bounds the body of PATCH /api/voicemails/{id}, which holds
// one boolean.
const maxPatchBody = 4 << 10

// voicemailList is the JSON shape of GET /api/numbers/{number}/voicemails.
type voicemailList struct {
	Voicemails []store.Voicemail `json:"voicemails"`
	// Next is the cursor for the next (older) page: pass it as ?before=.
	Next string `json:"next,omitempty"`
	// Unheard counts the number's unheard voicemails, across all pages.
	Unheard int `json:"unheard"`
}

// voicemailPatch is the JSON body of PATCH /api/voicemails/{id}.
type voicemailPatch struct {
	Heard *bool `json:"heard"`
}

func (s *Server) listVoicemails(w http.ResponseWriter, r *http.Request) {
	v, ok := s.voiceOn(w)
	if !ok {
		return
	}
	number, owner, ok := ourNumber(w, r, v)
	if !ok {
		return
	}
	if !s.allowed(r, owner) {
		writeError(w, http.StatusForbidden, "only the owner of "+number+" may read its voicemail")
		return
	}
	opt, ok := pageOptions(w, r)
	if !ok {
		return
	}
	list, next, err := s.store.ListVoicemails(number, opt)
	switch {
	case errors.Is(err, store.ErrInvalid):
		writeError(w, http.StatusBadRequest, "before is not a voicemail id")
		return
	case err != nil:
		s.log.Error("listing voicemails", "number", number, "error", err)
		writeError(w, http.StatusInternalServerError, "voicemail unavailable")
		return
	}
	unheard, err := s.store.CountUnheard(number)
	if err != nil {
		s.log.Error("counting unheard voicemails", "number", number, "error", err)
		writeError(w, http.StatusInternalServerError, "voicemail unavailable")
		return
	}
	if list == nil {
		list = []store.Voicemail{}
	}
	writeJSON(w, http.StatusOK, voicemailList{Voicemails: list, Next: next, Unheard: unheard})
}

// voicemailFor loads the {id} voicemail and checks that the sender may
// manage it: the user it was left for, or the current owner of the number
// it was left on. It answers 404, 403 or 500 itself.
func (s *Server) voicemailFor(w http.ResponseWriter, r *http.Request) (*Voice, store.Voicemail, bool) {
	v, ok := s.voiceOn(w)
	if !ok {
		return nil, store.Voicemail{}, false
	}
	id := r.PathValue("id")
	vm, err := s.store.GetVoicemail(id)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalid):
		// An id that is not even valid cannot name a voicemail either.
		writeError(w, http.StatusNotFound, "no voicemail with id "+strconv.Quote(id))
		return nil, store.Voicemail{}, false
	case err != nil:
		s.log.Error("reading a voicemail", "id", id, "error", err)
		writeError(w, http.StatusInternalServerError, "voicemail unavailable")
		return nil, store.Voicemail{}, false
	}
	var numberOwner string
	if v.Owner != nil {
		numberOwner, _ = v.Owner(vm.Number)
	}
	if !s.allowed(r, vm.Owner, numberOwner) {
		writeError(w, http.StatusForbidden, "only the owner of "+vm.Number+" may manage its voicemail")
		return nil, store.Voicemail{}, false
	}
	return v, vm, true
}

func (s *Server) getVoicemail(w http.ResponseWriter, r *http.Request) {
	if _, vm, ok := s.voicemailFor(w, r); ok {
		writeJSON(w, http.StatusOK, vm)
	}
}

func (s *Server) voicemailAudio(w http.ResponseWriter, r *http.Request) {
	v, vm, ok := s.voicemailFor(w, r)
	if !ok {
		return
	}
	if vm.State == store.VoicemailRecording {
		writeError(w, http.StatusConflict, "the voicemail is still being recorded")
		return
	}
	s.serveWAV(w, r, v, vm.File, "voicemail-"+vm.ID+".wav", "the voicemail's audio file is missing")
}

func (s *Server) patchVoicemail(w http.ResponseWriter, r *http.Request) {
	_, vm, ok := s.voicemailFor(w, r)
	if !ok {
		return
	}
	patch, err := readVoicemailPatch(w, r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	now := time.Now().UTC()
	updated, err := s.store.UpdateVoicemail(vm.ID, func(rec *store.Voicemail) error {
		switch {
		case !*patch.Heard:
			rec.Heard, rec.HeardAt = false, nil
		case !rec.Heard || rec.HeardAt == nil:
			// Marking an already heard message again keeps when it was
			// first heard.
			at := now
			rec.Heard, rec.HeardAt = true, &at
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "no voicemail with id "+strconv.Quote(vm.ID))
		return
	case err != nil:
		s.log.Error("updating a voicemail", "id", vm.ID, "error", err)
		writeError(w, http.StatusInternalServerError, "voicemail unavailable")
		return
	}
	writeJSON(w, http.StatusOK, updated)
}

// readVoicemailPatch reads the {"heard": true|false} body.
func readVoicemailPatch(w http.ResponseWriter, r *http.Request) (voicemailPatch, error) {
	const shape = `body must be JSON like {"heard": true}`
	var patch voicemailPatch
	if err := readJSON(w, r, maxPatchBody, `{"heard": true}`, &patch, false); err != nil {
		return voicemailPatch{}, err
	}
	if patch.Heard == nil {
		return voicemailPatch{}, errors.New(shape + `: "heard" is missing`)
	}
	return patch, nil
}

func (s *Server) deleteVoicemail(w http.ResponseWriter, r *http.Request) {
	v, vm, ok := s.voicemailFor(w, r)
	if !ok {
		return
	}
	if vm.State == store.VoicemailRecording {
		// The recorder still writes the file and will update the record.
		writeError(w, http.StatusConflict, "the voicemail is still being recorded")
		return
	}
	deleted, err := s.store.DeleteVoicemail(vm.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "no voicemail with id "+strconv.Quote(vm.ID))
		return
	case err != nil:
		s.log.Error("deleting a voicemail", "id", vm.ID, "error", err)
		writeError(w, http.StatusInternalServerError, "voicemail unavailable")
		return
	}
	s.removeDataFile(v, deleted.File, "voicemail")
	s.log.Info("voicemail deleted", "id", vm.ID, "number", vm.Number)
	w.WriteHeader(http.StatusNoContent)
}
