package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"switchboard/internal/testaudio"
	"switchboard/ivr"
	"switchboard/store"
)

var vmBase = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// leaveVoicemail stores a voicemail left on number i minutes after vmBase,
// with a one-second WAV file under the data directory, and returns it.
func (va *voiceAPI) leaveVoicemail(t *testing.T, number, owner string, i int, state store.VoicemailState, heard bool) store.Voicemail {
	t.Helper()
	started := vmBase.Add(time.Duration(i) * time.Minute)
	id := store.NewID(started)
	rel := "voicemail/" + strings.TrimPrefix(number, "+") + "/" + id + ".wav"
	wav := encodeWAV(testaudio.Sine(440, 8000, 8000, 0.5, nil), 8000)
	p := filepath.Join(va.dataDir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, wav, 0o600); err != nil {
		t.Fatal(err)
	}
	vm := &store.Voicemail{
		ID: id, CallID: "call-" + id, Number: number, Owner: owner, Caller: "+48601234567",
		Greeting: string(store.GreetingInHours), File: rel, StartedAt: started,
		DurationSeconds: 1, Bytes: int64(len(wav)), State: state, Heard: heard,
	}
	if state != store.VoicemailRecording {
		vm.EndReason = "hangup"
	}
	if heard {
		at := started.Add(time.Hour)
		vm.HeardAt = &at
	}
	if err := va.st.CreateVoicemail(vm); err != nil {
		t.Fatal(err)
	}
	return *vm
}

func TestListVoicemailsPagesNewestFirst(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil)
	var ids []string
	for i, tc := range []struct {
		state store.VoicemailState
		heard bool
	}{
		{store.VoicemailComplete, true},
		{store.VoicemailComplete, false},
		{store.VoicemailInterrupted, false},
		{store.VoicemailComplete, true},
		{store.VoicemailRecording, false}, // not yet news: not counted as unheard
	} {
		ids = append(ids, va.leaveVoicemail(t, aliceNumber, "alice", i, tc.state, tc.heard).ID)
	}
	va.leaveVoicemail(t, bobNumber, "bob", 10, store.VoicemailComplete, false)

	list := func(query string) voicemailList {
		t.Helper()
		rec := send(va.srv, http.MethodGet, "/api/numbers/%2B15550100/voicemails"+query, aliceAuth, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET voicemails%s = %d %s", query, rec.Code, rec.Body)
		}
		var l voicemailList
		if err := json.Unmarshal(rec.Body.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	idsOf := func(l voicemailList) string {
		var s []string
		for _, vm := range l.Voicemails {
			s = append(s, vm.ID)
		}
		return strings.Join(s, ",")
	}
	p1 := list("?limit=2")
	if idsOf(p1) != ids[4]+","+ids[3] || p1.Next == "" || p1.Unheard != 2 {
		t.Fatalf("page 1 = %s next %q unheard %d; want %s,%s with a cursor and 2 unheard", idsOf(p1), p1.Next, p1.Unheard, ids[4], ids[3])
	}
	p2 := list("?limit=2&before=" + p1.Next)
	if idsOf(p2) != ids[2]+","+ids[1] || p2.Next == "" || p2.Unheard != 2 {
		t.Fatalf("page 2 = %s next %q unheard %d", idsOf(p2), p2.Next, p2.Unheard)
	}
	p3 := list("?limit=2&before=" + p2.Next)
	if idsOf(p3) != ids[0] || p3.Next != "" {
		t.Fatalf("page 3 = %s next %q; want only %s and no cursor", idsOf(p3), p3.Next, ids[0])
	}
	if all := list(""); len(all.Voicemails) != 5 || all.Voicemails[0].Caller != "+48601234567" {
		t.Errorf("default page = %+v", all)
	}

	rec := send(va.srv, http.MethodGet, "/api/numbers/%2B15550111/voicemails", bobAuth, nil)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"unheard": 1`) || strings.Contains(rec.Body.String(), ids[0]) {
		t.Errorf("bob's list = %d %s, want only his one unheard message", rec.Code, rec.Body)
	}
}

func TestListVoicemailsErrors(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil)
	rec := send(va.srv, http.MethodGet, "/api/numbers/%2B15550100/voicemails", aliceAuth, nil)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"voicemails": []`) || !strings.Contains(rec.Body.String(), `"unheard": 0`) {
		t.Errorf("empty list = %d %s, want [] and unheard 0", rec.Code, rec.Body)
	}
	for _, tc := range []struct {
		path     string
		auth     string
		status   int
		errorHas string
	}{
		{"/api/numbers/%2B15550100/voicemails?limit=0", aliceAuth, http.StatusBadRequest, "limit"},
		{"/api/numbers/%2B15550100/voicemails?limit=x", aliceAuth, http.StatusBadRequest, "limit"},
		{"/api/numbers/%2B15550100/voicemails?before=%2F..", aliceAuth, http.StatusBadRequest, "before"},
		{"/api/numbers/%2B15550100/voicemails", bobAuth, http.StatusForbidden, "only the owner of +15550100"},
		{"/api/numbers/%2B15550100/voicemails", "", http.StatusUnauthorized, "sign in"},
		{"/api/numbers/%2B15550199/voicemails", adminAuth, http.StatusNotFound, "no number"},
	} {
		rec := send(va.srv, http.MethodGet, tc.path, tc.auth, nil)
		if rec.Code != tc.status || !strings.Contains(errorOf(t, rec), tc.errorHas) {
			t.Errorf("GET %s = %d %s, want %d mentioning %q", tc.path, rec.Code, rec.Body, tc.status, tc.errorHas)
		}
	}
}

func TestGetVoicemailAndAudio(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil)
	vm := va.leaveVoicemail(t, aliceNumber, "alice", 0, store.VoicemailComplete, false)
	onDisk, err := os.ReadFile(filepath.Join(va.dataDir, filepath.FromSlash(vm.File)))
	if err != nil {
		t.Fatal(err)
	}

	rec := send(va.srv, http.MethodGet, "/api/voicemails/"+vm.ID, aliceAuth, nil)
	var got store.Voicemail
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &got) != nil || got.ID != vm.ID || got.File != vm.File {
		t.Fatalf("GET voicemail = %d %s", rec.Code, rec.Body)
	}

	audio := "/api/voicemails/" + vm.ID + "/audio"
	rec = send(va.srv, http.MethodGet, audio, aliceAuth, nil)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "audio/wav" || rec.Body.String() != string(onDisk) {
		t.Fatalf("GET audio = %d %q %d bytes, want 200 audio/wav with the %d-byte file",
			rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len(), len(onDisk))
	}
	if cd := rec.Header().Get("Content-Disposition"); !strings.Contains(cd, vm.ID+".wav") {
		t.Errorf("Content-Disposition = %q", cd)
	}

	for _, tc := range []struct {
		rng          string
		status       int
		contentRange string
		body         string
	}{
		{"bytes=0-43", http.StatusPartialContent, fmt.Sprintf("bytes 0-43/%d", len(onDisk)), string(onDisk[:44])},
		{"bytes=44-47", http.StatusPartialContent, fmt.Sprintf("bytes 44-47/%d", len(onDisk)), string(onDisk[44:48])},
		{"bytes=-2", http.StatusPartialContent, fmt.Sprintf("bytes %d-%d/%d", len(onDisk)-2, len(onDisk)-1, len(onDisk)), string(onDisk[len(onDisk)-2:])},
		{fmt.Sprintf("bytes=%d-", len(onDisk)+10), http.StatusRequestedRangeNotSatisfiable, fmt.Sprintf("bytes */%d", len(onDisk)), ""},
	} {
		rec := send(va.srv, http.MethodGet, audio, aliceAuth, nil, "Range", tc.rng)
		if rec.Code != tc.status || rec.Header().Get("Content-Range") != tc.contentRange {
			t.Errorf("Range %s = %d Content-Range %q, want %d %q", tc.rng, rec.Code, rec.Header().Get("Content-Range"), tc.status, tc.contentRange)
			continue
		}
		if tc.status == http.StatusPartialContent && rec.Body.String() != tc.body {
			t.Errorf("Range %s body = %q, want %q", tc.rng, rec.Body.String(), tc.body)
		}
	}
	rec = send(va.srv, http.MethodGet, audio, aliceAuth, nil, "Range", "bytes=0-43")
	if !strings.HasPrefix(rec.Body.String(), "RIFF") || rec.Body.Len() != 44 {
		t.Errorf("the first 44 bytes are %q", rec.Body.String())
	}

	if err := os.Remove(filepath.Join(va.dataDir, filepath.FromSlash(vm.File))); err != nil {
		t.Fatal(err)
	}
	rec = send(va.srv, http.MethodGet, audio, aliceAuth, nil)
	if rec.Code != http.StatusGone || !strings.Contains(errorOf(t, rec), "missing") {
		t.Errorf("GET audio with the file gone = %d %s, want 410", rec.Code, rec.Body)
	}
}

func TestVoicemailStillRecording(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil)
	vm := va.leaveVoicemail(t, aliceNumber, "alice", 0, store.VoicemailRecording, false)
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		path := "/api/voicemails/" + vm.ID
		if method == http.MethodGet {
			path += "/audio"
		}
		rec := send(va.srv, method, path, aliceAuth, nil)
		if rec.Code != http.StatusConflict || !strings.Contains(errorOf(t, rec), "still being recorded") {
			t.Errorf("%s %s while recording = %d %s, want 409", method, path, rec.Code, rec.Body)
		}
	}
	if _, err := va.st.GetVoicemail(vm.ID); err != nil {
		t.Errorf("the recording voicemail is gone: %v", err)
	}
}

func TestPatchVoicemailHeard(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil)
	vm := va.leaveVoicemail(t, aliceNumber, "alice", 0, store.VoicemailComplete, false)
	path := "/api/voicemails/" + vm.ID
	patch := func(body string) (int, store.Voicemail) {
		t.Helper()
		rec := send(va.srv, http.MethodPatch, path, aliceAuth, strings.NewReader(body))
		var got store.Voicemail
		if rec.Code == http.StatusOK {
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
		}
		return rec.Code, got
	}
	unheard := func() int {
		t.Helper()
		n, err := va.st.CountUnheard(aliceNumber)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	before := time.Now().Add(-time.Second)
	status, got := patch(`{"heard": true}`)
	if status != http.StatusOK || !got.Heard || got.HeardAt == nil || got.HeardAt.Before(before) || unheard() != 0 {
		t.Fatalf("mark heard = %d %+v, unheard %d", status, got, unheard())
	}
	first := *got.HeardAt
	if status, again := patch(`{"heard": true}`); status != http.StatusOK || again.HeardAt == nil || !again.HeardAt.Equal(first) {
		t.Errorf("marking heard again = %d %+v, want heard_at kept at %s", status, again, first)
	}
	if status, got := patch(`{"heard": false}`); status != http.StatusOK || got.Heard || got.HeardAt != nil || unheard() != 1 {
		t.Errorf("mark unheard = %d %+v, unheard %d", status, got, unheard())
	}
	if stored, err := va.st.GetVoicemail(vm.ID); err != nil || stored.Heard || stored.HeardAt != nil {
		t.Errorf("stored = %+v, %v; want unheard", stored, err)
	}

	for _, body := range []string{
		`{"heard": true, "deleted": true}`,
		`{}`,
		`{"heard": "yes"}`,
		`heard=true`,
		`{"heard": true} {"heard": false}`,
		`{"heard": true}` + strings.Repeat(" ", maxPatchBody),
	} {
		rec := send(va.srv, http.MethodPatch, path, aliceAuth, strings.NewReader(body))
		if rec.Code != http.StatusBadRequest || !strings.Contains(errorOf(t, rec), `{"heard": true}`) {
			t.Errorf("PATCH %.40q = %d %s, want 400 showing the body's shape", body, rec.Code, rec.Body)
		}
	}
	if unheard() != 1 {
		t.Error("a rejected PATCH changed the voicemail")
	}
}

func TestDeleteVoicemail(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil)
	vm := va.leaveVoicemail(t, aliceNumber, "alice", 0, store.VoicemailComplete, false)
	keep := va.leaveVoicemail(t, aliceNumber, "alice", 1, store.VoicemailComplete, false)
	rec := send(va.srv, http.MethodDelete, "/api/voicemails/"+vm.ID, aliceAuth, nil)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s, want 204", rec.Code, rec.Body)
	}
	if _, err := va.st.GetVoicemail(vm.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("record after DELETE: %v, want not found", err)
	}
	if files := filesUnder(t, va.dataDir); len(files) != 1 || files[0] != keep.File {
		t.Errorf("data directory holds %v, want only %s", files, keep.File)
	}
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		if rec := send(va.srv, method, "/api/voicemails/"+vm.ID, aliceAuth, nil); rec.Code != http.StatusNotFound {
			t.Errorf("%s after DELETE = %d, want 404", method, rec.Code)
		}
	}

	// A message whose file is already gone is still deleted.
	if err := os.Remove(filepath.Join(va.dataDir, filepath.FromSlash(keep.File))); err != nil {
		t.Fatal(err)
	}
	if rec := send(va.srv, http.MethodDelete, "/api/voicemails/"+keep.ID, aliceAuth, nil); rec.Code != http.StatusNoContent {
		t.Errorf("DELETE with the file gone = %d %s, want 204", rec.Code, rec.Body)
	}
	if _, err := va.st.GetVoicemail(keep.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("record after DELETE: %v, want not found", err)
	}
}

func TestVoicemailAuthorization(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil)
	alices := va.leaveVoicemail(t, aliceNumber, "alice", 0, store.VoicemailComplete, false)
	// Left for carol while she owned the number that bob owns now: both
	// may manage it.
	carols := va.leaveVoicemail(t, bobNumber, "carol", 1, store.VoicemailComplete, false)
	carolAuth := "Bearer tok-carol"
	va.srv.RequireAuth(func(token string) (string, bool) {
		user, ok := map[string]string{"tok-alice": "alice", "tok-bob": "bob", "tok-carol": "carol"}[token]
		return user, ok
	})

	tests := []struct {
		auth   string
		vm     store.Voicemail
		status int
	}{
		{"", alices, http.StatusUnauthorized},
		{bobAuth, alices, http.StatusForbidden},
		{carolAuth, alices, http.StatusForbidden},
		{aliceAuth, alices, http.StatusOK},
		{adminAuth, alices, http.StatusOK},
		{aliceAuth, carols, http.StatusForbidden},
		{bobAuth, carols, http.StatusOK},
		{carolAuth, carols, http.StatusOK},
	}
	for _, tt := range tests {
		for _, req := range []struct{ method, suffix, body string }{
			{http.MethodGet, "", ""},
			{http.MethodGet, "/audio", ""},
			{http.MethodPatch, "", `{"heard": false}`},
		} {
			rec := send(va.srv, req.method, "/api/voicemails/"+tt.vm.ID+req.suffix, tt.auth, strings.NewReader(req.body))
			if rec.Code != tt.status {
				t.Errorf("%s %s%s as %q = %d %s, want %d", req.method, tt.vm.Owner, req.suffix, tt.auth, rec.Code, rec.Body, tt.status)
			}
		}
	}
	if rec := send(va.srv, http.MethodDelete, "/api/voicemails/"+alices.ID, bobAuth, nil); rec.Code != http.StatusForbidden {
		t.Errorf("bob deleting alice's voicemail = %d, want 403", rec.Code)
	}
	if _, err := va.st.GetVoicemail(alices.ID); err != nil {
		t.Errorf("a refused DELETE removed the voicemail: %v", err)
	}
	if rec := send(va.srv, http.MethodDelete, "/api/voicemails/"+alices.ID, adminAuth, nil); rec.Code != http.StatusNoContent {
		t.Errorf("admin deleting alice's voicemail = %d, want 204", rec.Code)
	}
}
