package e2e

// End-to-end test of playing a call recording from the softphone page: the
// recent calls list offers "Play recording" for a recorded call, and the
// page's <audio> element loads, seeks and plays the WAV through the
// short-lived playback link of GET /api/calls/{id}/recording (an <audio>
// element cannot send the bearer token).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"switchboard/media"
)

// playbackInfo is GET /api/calls/{id}/recording with the playback link.
type playbackInfo struct {
	recordingInfo
	AudioURL string `json:"audio_url"`
}

// audioExchange is one request for recording audio the page made, as
// Chromium's network log saw it.
type audioExchange struct {
	URL     string
	Range   string // the request's Range header
	Auth    bool   // the request carried Authorization
	Status  int64  // 0 until the response arrived
	Type    string // Chromium's resource type ("Media" for the player)
	Session string // the request id
}

// audioLog collects the page's requests for recording audio.
type audioLog struct {
	mu   sync.Mutex
	byID map[string]*audioExchange
	ids  []string
}

// watchAudioRequests records every request of the page whose URL holds
// /recording/audio, with its response status.
func watchAudioRequests(t *testing.T, p *browserPage) *audioLog {
	t.Helper()
	l := &audioLog{byID: map[string]*audioExchange{}}
	err := chromedp.Listen(p.ctx, func(ev any) {
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			if e.Request == nil || !strings.Contains(e.Request.URL, "/recording/audio") {
				return
			}
			x := &audioExchange{URL: e.Request.URL, Session: string(e.RequestID)}
			for k, v := range e.Request.Headers {
				switch strings.ToLower(k) {
				case "range":
					x.Range = fmt.Sprint(v)
				case "authorization":
					x.Auth = true
				}
			}
			l.mu.Lock()
			l.byID[x.Session] = x
			l.ids = append(l.ids, x.Session)
			l.mu.Unlock()
		case *network.EventResponseReceived:
			if e.Response == nil {
				return
			}
			l.mu.Lock()
			if x, ok := l.byID[string(e.RequestID)]; ok {
				x.Status = e.Response.Status
				x.Type = string(e.Type)
			}
			l.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("listening to the page's network events: %v", err)
	}
	return l
}

// all returns the exchanges so far, in request order.
func (l *audioLog) all() []audioExchange {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]audioExchange, 0, len(l.ids))
	for _, id := range l.ids {
		out = append(out, *l.byID[id])
	}
	return out
}

// plainGet fetches base+path with no credentials at all, as anyone holding
// the link could, and returns the status and up to 64 KiB of the body.
func plainGet(t *testing.T, base, path string) (int, []byte) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	res, err := client.Get(base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", path, err)
	}
	return res.StatusCode, body
}

// TestRecordingPlaybackInBrowser: a recorded inbound call of about 2 s of
// talk ends; Alice, the number's owner, signs in to the page and clicks
// "Play recording" in the recent calls list. The <audio> element loads the
// recording's metadata through the playback link (no token in its URL, no
// Authorization on its requests), its duration is the API's, and seeking
// near the end and playing moves its clock on: the player's range requests
// work with the link. The link also works for a plain HTTP client, and
// stops working when its signature is changed.
func TestRecordingPlaybackInBrowser(t *testing.T) {
	if !insideBrowserNetns(t) {
		return
	}
	requireTools(t, "espeak-ng")
	callee := newToneCallee(t, media.PayloadPCMU, recCalleeFreq, recCalleeLevel)
	opts := browserGatewayOptions(callee.addr())
	opts.Numbers = recordedNumber()
	g := startGateway(t, opts)

	// The call: both sides talk for 2 s after the answer, then the caller
	// hangs up; talkRecorded checks the call and its recording.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const talk = 2 * time.Second
	call := talkRecorded(ctx, t, g, callee, talk, nil).Call

	// The recording, closed, as the API describes it.
	var info playbackInfo
	if err := waitFor(ctx, 5*time.Second, func() bool {
		res := g.api(t, http.MethodGet, recordingPath(call.ID), nil, nil)
		info = playbackInfo{}
		return res.Status == http.StatusOK && json.Unmarshal(res.Body, &info) == nil && info.State == "complete"
	}); err != nil {
		t.Fatalf("the recording of call %s was not complete within 5 s: %s", call.ID, info.recordingInfo)
	}
	t.Logf("recording: %s, audio_url %s", info.recordingInfo, info.AudioURL)
	if info.DurationSeconds < talk.Seconds() {
		t.Fatalf("recording of %.3f s, want at least the %s of talk", info.DurationSeconds, talk)
	}
	if !strings.HasPrefix(info.AudioURL, recordingPath(call.ID)+"/audio?") || strings.Contains(info.AudioURL, aliceToken) {
		t.Fatalf("audio_url %q: want %s/audio?… without the token", info.AudioURL, recordingPath(call.ID))
	}
	var list struct {
		Calls []struct {
			ID        string `json:"id"`
			Recording *struct {
				State           string  `json:"state"`
				DurationSeconds float64 `json:"duration_seconds"`
			} `json:"recording"`
		} `json:"calls"`
	}
	if code := g.getJSON(t, "/api/calls?limit=20", &list); code != http.StatusOK {
		t.Fatalf("GET /api/calls: status %d", code)
	}
	if len(list.Calls) != 1 || list.Calls[0].ID != call.ID || list.Calls[0].Recording == nil ||
		list.Calls[0].Recording.State != "complete" || list.Calls[0].Recording.DurationSeconds != info.DurationSeconds {
		t.Errorf("GET /api/calls = %+v, want call %s with recording {complete, %.3f}", list.Calls, call.ID, info.DurationSeconds)
	}

	// The link alone, as any HTTP client: the WAV; with its signature
	// changed: refused.
	status, body := plainGet(t, g.httpBase, info.AudioURL)
	if status != http.StatusOK || len(body) < 44 || string(body[:4]) != "RIFF" || string(body[8:12]) != "WAVE" {
		t.Errorf("GET audio_url without Authorization: %d, %d bytes starting %q; want 200 and a RIFF/WAVE file",
			status, len(body), body[:min(len(body), 12)])
	}
	tampered := tamperLinkSig(t, info.AudioURL)
	if status, body := plainGet(t, g.httpBase, tampered); status != http.StatusForbidden {
		t.Errorf("GET the audio_url with a changed signature: %d %.200s, want 403", status, body)
	}
	if status, _ := plainGet(t, g.httpBase, recordingPath(call.ID)+"/audio"); status != http.StatusUnauthorized {
		t.Errorf("GET the audio without link or token: %d, want 401", status)
	}

	// The page: Alice signs in and plays the recording from her recent calls.
	page := startBrowser(t).newPage("tab")
	audioReqs := watchAudioRequests(t, page)
	page.signIn(g.httpBase, aliceToken)
	page.click("button", "Play recording")
	const audioJS = `document.querySelector('#recents-list audio')`
	page.waitJS("the player has the recording's metadata",
		`(() => { const a = `+audioJS+`; return !!a && a.readyState >= 1 && a.duration > 0; })()`, 10*time.Second)
	duration, err := evalJS[float64](page, audioJS+`.duration`)
	if err != nil {
		t.Fatalf("reading the player's duration: %v", err)
	}
	t.Logf("the page's player: duration %.3f s (API %.3f s)", duration, info.DurationSeconds)
	if math.Abs(duration-info.DurationSeconds) > 0.1 {
		t.Errorf("the player's duration %.3f s, the API's duration_seconds %.3f s: want within 0.1 s", duration, info.DurationSeconds)
	}
	src, err := evalJS[string](page, audioJS+`.src`)
	if err != nil {
		t.Fatalf("reading the player's src: %v", err)
	}
	if u, err := url.Parse(src); err != nil || u.Path != recordingPath(call.ID)+"/audio" ||
		u.Query().Get("sig") == "" || strings.Contains(src, aliceToken) {
		t.Errorf("the player's src %q: want the playback link of call %s, without the token", src, call.ID)
	}
	if n, err := evalJS[int](page, `document.querySelectorAll('#recents-list audio').length`); err != nil || n != 1 {
		t.Errorf("%d players on the page (%v), want 1", n, err)
	}

	// Seek to half a second before the end, play, and watch the clock move
	// from there: the seek took (the clock starts near where it was sent)
	// and the audio after it arrived.
	_, err = evalJS[bool](page, `(() => {
		const a = `+audioJS+`;
		a.pause();
		const from = Math.max(0, a.duration - 0.5);
		const w = { from, seekedAt: -1, max: -1, ended: false, error: '' };
		window.__playback = w;
		a.addEventListener('seeked', () => { if (w.seekedAt < 0) w.seekedAt = a.currentTime; });
		const note = () => { if (w.seekedAt >= 0) w.max = Math.max(w.max, a.currentTime); };
		a.addEventListener('timeupdate', note);
		a.addEventListener('ended', () => { note(); w.ended = true; });
		a.addEventListener('error', () => { w.error = a.error ? a.error.message || String(a.error.code) : 'error'; });
		a.currentTime = from;
		a.play().catch((e) => { w.error = String(e); });
		return true;
	})()`)
	if err != nil {
		t.Fatalf("seeking the player: %v", err)
	}
	page.waitJS("the player plays on from near the end",
		`(() => { const w = window.__playback; return w.error !== '' || (w.seekedAt >= 0 && (w.ended || w.max >= w.seekedAt + 0.2)); })()`,
		10*time.Second)
	played, err := evalJS[string](page, `JSON.stringify(window.__playback)`)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("playback after the seek: %s", played)
	var w struct {
		From, SeekedAt, Max float64
		Ended               bool
		Error               string
	}
	if err := json.Unmarshal([]byte(played), &w); err != nil {
		t.Fatalf("playback state %q: %v", played, err)
	}
	switch {
	case w.Error != "":
		t.Errorf("the player failed after the seek: %s", w.Error)
	case math.Abs(w.SeekedAt-w.From) > 0.05:
		t.Errorf("the seek to %.3f s landed at %.3f s", w.From, w.SeekedAt)
	case w.Max <= w.SeekedAt:
		t.Errorf("the player's clock did not move on from %.3f s (max %.3f, ended %t)", w.SeekedAt, w.Max, w.Ended)
	}

	// What went over the network: the player's requests carried the link,
	// not the token, and were answered with ranges.
	exchanges := audioReqs.all()
	partial := 0
	for _, x := range exchanges {
		t.Logf("page audio request: %s Range %q → %d (%s)", x.URL[strings.Index(x.URL, "/api/"):], x.Range, x.Status, x.Type)
		if x.Auth {
			t.Errorf("the page sent Authorization with its audio request %s", x.URL)
		}
		if !strings.Contains(x.URL, "sig=") {
			t.Errorf("the page requested audio without the playback link: %s", x.URL)
		}
		if x.Status == http.StatusPartialContent {
			partial++
		}
		if x.Status != 0 && x.Status != http.StatusOK && x.Status != http.StatusPartialContent {
			t.Errorf("audio request %s answered %d", x.URL, x.Status)
		}
	}
	if partial == 0 {
		t.Errorf("none of the page's %d audio requests was answered 206 Partial Content", len(exchanges))
	}

	// The page itself can fetch a range with the link and no token.
	fetchCtx, fetchCancel := context.WithTimeout(page.ctx, 10*time.Second)
	defer fetchCancel()
	got, err := chromedp.Run(fetchCtx, chromedp.Evaluate[string](`(async () => {
		const r = await fetch(`+audioJS+`.src, { headers: { Range: 'bytes=0-11' }, cache: 'no-store' });
		const b = new Uint8Array(await r.arrayBuffer());
		return r.status + ' ' + String.fromCharCode(...b.slice(0, 4)) + String.fromCharCode(...b.slice(8, 12)) + ' ' + b.length;
	})()`, chromedp.EvalAwaitPromise))
	if err != nil || got != "206 RIFFWAVE 12" {
		t.Errorf("a ranged fetch of the link from the page: %q (%v), want \"206 RIFFWAVE 12\"", got, err)
	}
	for _, err := range callee.problems() {
		t.Errorf("callee: %v", err)
	}
}

// tamperLinkSig returns the playback link with one character of its
// signature changed (not the last, whose low bits a lenient decoder
// ignores).
func tamperLinkSig(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatalf("audio_url %q: %v", link, err)
	}
	q := u.Query()
	sig := []byte(q.Get("sig"))
	if len(sig) < 8 {
		t.Fatalf("audio_url %q has no signature", link)
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
