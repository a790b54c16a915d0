package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"switchboard/internal/testaudio"
	"switchboard/ivr"
	"switchboard/store"
)

// recordCall stores an inbound call on number started i minutes after
// vmBase and, unless state is "", its recording: a one-second WAV under the
// data directory. It returns the call and the file's bytes.
func (va *voiceAPI) recordCall(t *testing.T, number string, i int, state store.RecordingState) (store.CallRecord, []byte) {
	t.Helper()
	started := vmBase.Add(time.Duration(i) * time.Minute)
	call := store.CallRecord{Direction: store.DirectionInbound, Number: number, Caller: "+48601234567", StartedAt: started}
	if err := va.st.CreateCall(&call); err != nil {
		t.Fatal(err)
	}
	if state == "" {
		return call, nil
	}
	rel := "recordings/" + strings.TrimPrefix(number, "+") + "/" + call.ID + ".wav"
	wav := encodeWAV(testaudio.Sine(440, 8000, 8000, 0.5, nil), 8000)
	p := filepath.Join(va.dataDir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, wav, 0o600); err != nil {
		t.Fatal(err)
	}
	rec := &store.Recording{
		CallID: call.ID, Number: number, File: rel, StartedAt: started.Add(5 * time.Second),
		DurationSeconds: 1, Bytes: int64(len(wav)), Channels: 1, State: state, ConsentPlayed: true,
	}
	if err := va.st.CreateRecording(rec); err != nil {
		t.Fatal(err)
	}
	return call, wav
}

// audioURL fetches call id's recording as auth and returns its audio_url.
func (va *voiceAPI) audioURL(t *testing.T, id, auth string) string {
	t.Helper()
	rec := send(va.srv, http.MethodGet, "/api/calls/"+id+"/recording", auth, nil)
	var got struct {
		CallID   string `json:"call_id"`
		State    string `json:"state"`
		AudioURL string `json:"audio_url"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &got) != nil || got.CallID != id {
		t.Fatalf("GET recording of %s = %d %s", id, rec.Code, rec.Body)
	}
	return got.AudioURL
}

// tamperSig returns link with one character of its signature changed.
func tamperSig(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	sig := []byte(q.Get("sig"))
	if len(sig) < 4 {
		t.Fatalf("link %q has no signature", link)
	}
	if sig[3] == 'A' {
		sig[3] = 'B'
	} else {
		sig[3] = 'A'
	}
	q.Set("sig", string(sig))
	u.RawQuery = q.Encode()
	return u.String()
}

func TestRecordingPlaybackLinkServesAudio(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil)
	call, wav := va.recordCall(t, aliceNumber, 0, store.RecordingComplete)
	link := va.audioURL(t, call.ID, aliceAuth)
	if want := "/api/calls/" + call.ID + "/recording/audio?expires="; !strings.HasPrefix(link, want) || !strings.Contains(link, "&sig=") {
		t.Fatalf("audio_url %q, want %s…&sig=…", link, want)
	}
	if strings.Contains(link, "tok-alice") {
		t.Fatalf("audio_url %q carries the bearer token", link)
	}

	rec := send(va.srv, http.MethodGet, link, "", nil)
	if rec.Code != http.StatusOK || rec.Body.String() != string(wav) || rec.Header().Get("Content-Type") != "audio/wav" {
		t.Fatalf("GET audio_url without Authorization = %d %q, %d bytes; want 200 audio/wav with the %d-byte file",
			rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len(), len(wav))
	}
	if ar := rec.Header().Get("Accept-Ranges"); ar != "bytes" {
		t.Errorf("Accept-Ranges %q, want bytes", ar)
	}

	// A player seeks with range requests carrying the same link.
	for _, tc := range []struct {
		rng        string
		from, to   int // the bytes expected, to exclusive
		contentRng string
	}{
		{"bytes=0-3", 0, 4, fmt.Sprintf("bytes 0-3/%d", len(wav))},
		{"bytes=44-1043", 44, 1044, fmt.Sprintf("bytes 44-1043/%d", len(wav))},
		{"bytes=-100", len(wav) - 100, len(wav), fmt.Sprintf("bytes %d-%d/%d", len(wav)-100, len(wav)-1, len(wav))},
	} {
		rec := send(va.srv, http.MethodGet, link, "", nil, "Range", tc.rng)
		if rec.Code != http.StatusPartialContent || rec.Body.String() != string(wav[tc.from:tc.to]) ||
			rec.Header().Get("Content-Range") != tc.contentRng {
			t.Errorf("Range %s with the link = %d, Content-Range %q, %d bytes; want 206, %q, bytes %d..%d of the file",
				tc.rng, rec.Code, rec.Header().Get("Content-Range"), rec.Body.Len(), tc.contentRng, tc.from, tc.to)
		}
	}
	if head := wav[:4]; string(head) != "RIFF" {
		t.Fatalf("fixture is not a WAV: %q", head)
	}

	// The bearer token works as before, and the link changes nothing for
	// whom it does not work.
	for _, tc := range []struct {
		auth   string
		status int
	}{{aliceAuth, http.StatusOK}, {adminAuth, http.StatusOK}, {bobAuth, http.StatusForbidden}} {
		path := "/api/calls/" + call.ID + "/recording/audio"
		if rec := send(va.srv, http.MethodGet, path, tc.auth, nil); rec.Code != tc.status {
			t.Errorf("GET %s as %q = %d, want %d", path, tc.auth, rec.Code, tc.status)
		}
	}
}

func TestRecordingPlaybackLinkRefused(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil)
	now := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	va.srv.links.now = fixedClock(&now)
	aliceCall, _ := va.recordCall(t, aliceNumber, 0, store.RecordingComplete)
	aliceOther, _ := va.recordCall(t, aliceNumber, 1, store.RecordingComplete)
	bobCall, _ := va.recordCall(t, bobNumber, 2, store.RecordingComplete)
	link := va.audioURL(t, aliceCall.ID, aliceAuth)
	bobLink := va.audioURL(t, bobCall.ID, bobAuth)
	audioPath := func(id string) string { return "/api/calls/" + id + "/recording/audio" }
	query := link[strings.Index(link, "?"):]

	for _, tc := range []struct {
		name     string
		path     string
		auth     string
		later    time.Duration // how long after issue the request is made
		status   int
		errorHas string
	}{
		{"tampered signature", tamperSig(t, link), "", 0, http.StatusForbidden, "not valid"},
		{"another call of the same owner", audioPath(aliceOther.ID) + query, "", 0, http.StatusForbidden, "not valid"},
		{"bob's link on alice's call", audioPath(aliceCall.ID) + bobLink[strings.Index(bobLink, "?"):], "", 0, http.StatusForbidden, "not valid"},
		{"expired", link, "", 15 * time.Minute, http.StatusForbidden, "the playback link has expired"},
		{"expired with a range", link, "", time.Hour, http.StatusForbidden, "the playback link has expired"},
		{"signature only", audioPath(aliceCall.ID) + "?sig=" + url.QueryEscape(link[strings.Index(link, "sig=")+4:]), "", 0, http.StatusForbidden, "not valid"},
		{"no auth and no link", audioPath(aliceCall.ID), "", 0, http.StatusUnauthorized, "sign in"},
		// The link alone decides: a bad one is refused even beside a token.
		{"owner's token with a bad link", tamperSig(t, link), aliceAuth, 0, http.StatusForbidden, "not valid"},
		// Only the audio takes a link.
		{"link on the metadata", "/api/calls/" + aliceCall.ID + "/recording" + query, "", 0, http.StatusUnauthorized, "sign in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			saved := now
			now = now.Add(tc.later)
			defer func() { now = saved }()
			rec := send(va.srv, http.MethodGet, tc.path, tc.auth, nil, "Range", "bytes=0-3")
			if rec.Code != tc.status || !strings.Contains(errorOf(t, rec), tc.errorHas) {
				t.Errorf("GET %s = %d %s, want %d mentioning %q", tc.path, rec.Code, rec.Body, tc.status, tc.errorHas)
			}
		})
	}

	// Still fine a second before it expires.
	now = now.Add(15*time.Minute - time.Second)
	if rec := send(va.srv, http.MethodGet, link, "", nil); rec.Code != http.StatusOK {
		t.Errorf("GET audio_url 14:59 after issue = %d %s, want 200", rec.Code, rec.Body)
	}

	// A valid link to a recording deleted since: 404, as with a token.
	if rec := send(va.srv, http.MethodDelete, "/api/calls/"+aliceCall.ID+"/recording", aliceAuth, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("DELETE recording = %d %s", rec.Code, rec.Body)
	}
	if rec := send(va.srv, http.MethodGet, link, "", nil); rec.Code != http.StatusNotFound {
		t.Errorf("GET audio_url of a deleted recording = %d %s, want 404", rec.Code, rec.Body)
	}
}

// TestRecordingPlaybackLinkDiesWithServer: a link from one Server (one
// gateway run) is refused by the next, which has a new key.
func TestRecordingPlaybackLinkDiesWithServer(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil)
	call, _ := va.recordCall(t, aliceNumber, 0, store.RecordingComplete)
	link := va.audioURL(t, call.ID, aliceAuth)
	restarted := New(va.st, nil, nil)
	restarted.SetVoice(*va.srv.voice)
	if rec := send(restarted, http.MethodGet, link, "", nil); rec.Code != http.StatusForbidden {
		t.Errorf("an earlier run's link = %d %s, want 403", rec.Code, rec.Body)
	}
	if rec := send(va.srv, http.MethodGet, link, "", nil); rec.Code != http.StatusOK {
		t.Errorf("the link on its own server = %d, want 200", rec.Code)
	}
}

// listedRecordings lists calls as auth and returns, by call id, the raw
// "recording" member of each item ("" when the item has none).
func listedRecordings(t *testing.T, h http.Handler, auth string) map[string]string {
	t.Helper()
	rec := send(h, http.MethodGet, "/api/calls?limit=500", auth, nil)
	var list struct {
		Calls []map[string]json.RawMessage `json:"calls"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &list) != nil {
		t.Fatalf("GET /api/calls as %q = %d %s", auth, rec.Code, rec.Body)
	}
	out := map[string]string{}
	for _, c := range list.Calls {
		var id string
		if err := json.Unmarshal(c["id"], &id); err != nil {
			t.Fatalf("call without an id: %v", c)
		}
		var compact strings.Builder
		if r, ok := c["recording"]; ok {
			var v any
			if err := json.Unmarshal(r, &v); err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(v)
			compact.Write(b)
		}
		out[id] = compact.String()
	}
	return out
}

func TestListCallsShowsRecordings(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil)
	done, _ := va.recordCall(t, aliceNumber, 0, store.RecordingComplete)
	plain, _ := va.recordCall(t, aliceNumber, 1, "")
	live, _ := va.recordCall(t, aliceNumber, 2, store.RecordingActive)
	bobs, _ := va.recordCall(t, bobNumber, 3, store.RecordingInterrupted)

	const complete = `{"duration_seconds":1,"state":"complete"}`
	for _, tc := range []struct {
		auth string
		want map[string]string
	}{
		{aliceAuth, map[string]string{
			done.ID: complete, plain.ID: "", live.ID: `{"duration_seconds":1,"state":"recording"}`,
			bobs.ID: "", // not hers to hear: the page would offer a button that fails
		}},
		{bobAuth, map[string]string{
			done.ID: "", plain.ID: "", live.ID: "", bobs.ID: `{"duration_seconds":1,"state":"interrupted"}`,
		}},
	} {
		got := listedRecordings(t, va.srv, tc.auth)
		for id, want := range tc.want {
			if g, ok := got[id]; !ok || g != want {
				t.Errorf("as %q, call %s lists recording %q (listed: %t), want %q", tc.auth, id, g, ok, want)
			}
		}
	}
}

// TestListCallsWithoutVoice: a server whose recording endpoints are off
// (no SetVoice) lists calls without recordings rather than failing.
func TestListCallsWithoutVoice(t *testing.T) {
	srv, st := newTestAPI(t, nil)
	call := store.CallRecord{Direction: store.DirectionInbound, Number: aliceNumber, Caller: "+48601234567", StartedAt: vmBase}
	if err := st.CreateCall(&call); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateRecording(&store.Recording{CallID: call.ID, Number: aliceNumber, File: "recordings/x.wav",
		StartedAt: vmBase, State: store.RecordingComplete}); err != nil {
		t.Fatal(err)
	}
	got := listedRecordings(t, srv, "")
	if r, ok := got[call.ID]; !ok || r != "" {
		t.Errorf("call %s listed %t with recording %q, want listed without one", call.ID, ok, r)
	}
	rec := send(srv, http.MethodGet, "/api/calls/"+call.ID+"/recording/audio", "", nil)
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("audio with voice off = %d, want 503", rec.Code)
	}
}
