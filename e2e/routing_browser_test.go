package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	// The test picks working hours in Europe/Warsaw; the embedded zone
	// database makes that work on a host without /usr/share/zoneinfo.
	_ "time/tzdata"

	"switchboard/media"
)

// This file covers per-number routing (issue 5) with real browsers ringing:
// working hours that cover now, a no-answer action that sends the call to a
// team when the owner cannot take it, a team where nobody is available
// (voicemail), and a team ringing in fair rotation. Alice and Bob are both
// in team support; their tabs are headless Chromium pages inside the
// browser tests' network namespace (see browser_harness_test.go).

// bobToken signs Bob's tab in; carolToken is the owner of the rotation
// test's number, who never opens a tab.
const (
	bobToken   = "bob-token"
	carolToken = "carol-token"
)

// rbTeamUsers is gatewayOptions.Users for Alice and Bob, both in team
// support. Alice comes first: her token is the one the API helpers use.
const rbTeamUsers = `[ { id: alice, name: "Alice Smith", team: support, token: "` + aliceToken + `" },` +
	` { id: bob, name: "Bob Jones", team: support, token: "` + bobToken + `" } ]`

// rbOptions is a gateway for the routing browser tests: users (YAML flow
// sequence), +15550100 with the given extra number keys (a YAML flow
// mapping's items, starting with ", "), WebRTC on loopback, and extra
// top-level YAML (teams).
func rbOptions(users, owner, numberKeys, extra string) gatewayOptions {
	return gatewayOptions{
		Users: users,
		Numbers: fmt.Sprintf("  - { number: %q, name: \"Support line\", trunk: carrier, owner: %s, ringing: browser, ring_timeout: 20s%s }\n",
			ourNumber, owner, numberKeys),
		Extra: "webrtc: { loopback: true, interfaces: [\"lo\"] }\n" + extra,
	}
}

// rbDaysAround names today and tomorrow in loc ("tue", "wed"): working hours
// on both days from 00:00 to 24:00 cover now even when the test runs across
// midnight, and still leave five days of the week closed.
func rbDaysAround(now time.Time, loc *time.Location) []string {
	today := now.In(loc)
	var out []string
	for _, d := range []time.Time{today, today.AddDate(0, 0, 1)} {
		out = append(out, strings.ToLower(d.Weekday().String()[:3]))
	}
	return out
}

// rbRoute returns the route trace of call record id (GET /api/calls/{id}).
func (g *gateway) rbRoute(t *testing.T, id string) []string {
	t.Helper()
	var rec struct {
		Route []string `json:"route"`
	}
	if code := g.getJSON(t, "/api/calls/"+url.PathEscape(id), &rec); code != http.StatusOK {
		t.Fatalf("GET /api/calls/%s: status %d", id, code)
	}
	return rec.Route
}

// rbCheckRoute asserts that the trace starts with the call line and holds
// each of want as a whole line, in that order (other lines may come
// between them).
func rbCheckRoute(t *testing.T, route []string, want ...string) {
	t.Helper()
	t.Logf("route:\n  %s", strings.Join(route, "\n  "))
	if first := "call from " + callerNumber + " to " + ourNumber + " (Support line)"; len(route) == 0 || route[0] != first {
		t.Errorf("the route's first line is not %q", first)
	}
	next := 0
	for _, w := range want {
		found := false
		for i := next; i < len(route); i++ {
			if route[i] == w {
				next, found = i+1, true
				break
			}
		}
		if !found {
			t.Errorf("the route lacks the line %q (after line %d)", w, next)
		}
	}
}

// rbWatchIncoming makes the page note any incoming card it ever shows,
// however briefly; rbSawIncoming reads the note.
func rbWatchIncoming(t *testing.T, p *browserPage) {
	t.Helper()
	if ok, err := evalJS[bool](p, `(() => {
		window.__sawIncoming = false;
		const list = document.getElementById('incoming-list');
		new MutationObserver((records) => {
			if (records.some((r) => r.addedNodes.length > 0)) window.__sawIncoming = true;
		}).observe(list, { childList: true, subtree: true });
		return true;
	})()`); err != nil || !ok {
		t.Fatalf("%s: installing the incoming-card observer: %v", p.name, err)
	}
}

// rbSawIncoming reports whether the page showed an incoming card since
// rbWatchIncoming.
func rbSawIncoming(t *testing.T, p *browserPage) bool {
	t.Helper()
	saw, err := evalJS[bool](p, `window.__sawIncoming`)
	if err != nil {
		t.Fatalf("%s: reading the incoming-card observer: %v", p.name, err)
	}
	return saw
}

// rbTalk checks audio both ways on an answered call between the Go caller
// and page (the caller's 1 kHz reaches the page, the page's 440 Hz
// microphone reaches the caller), then the caller hangs up and the page
// goes idle.
func rbTalk(ctx context.Context, t *testing.T, res callResult, callerRTP *rtpPeer, page *browserPage) {
	t.Helper()
	answer, err := parseAudioSDP(res.dlg.InviteResponse.Body())
	if err != nil {
		t.Fatalf("gateway's answer: %v\n%s", err, res.dlg.InviteResponse.Body())
	}
	stop := callerRTP.playTone(ctx, t, answer.Addr, media.PayloadPCMU, sipToneFreq, sipToneDBFS)
	defer stop()
	page.waitJS("the call is answered", `window.switchboard.state === "answered"`, 10*time.Second)
	readings := page.waitPageTone(sipToneFreq, browserPageFreqTo, 10*time.Second)
	t.Logf("%s hears the caller's tone: analyser peaks %v Hz", page.name, readings)
	heard := waitHeardTone(t, callerRTP, browserToneFreq, minBrowserDBFS, 10*time.Second)
	t.Logf("the caller hears %s: %.0f Hz, %.1f dBFS", page.name, heard.Freq, heard.Level)

	byeCtx, byeCancel := context.WithTimeout(ctx, 10*time.Second)
	defer byeCancel()
	if err := res.dlg.Bye(byeCtx); err != nil {
		t.Errorf("caller's BYE: %v", err)
	}
	page.waitJS("the page is idle after the caller hung up", `window.switchboard.state === "idle"`, 10*time.Second)
}

// TestRoutingInHoursRingsBrowser: working hours cover now, so the number
// rings its owner's available tab (the after-hours action, hangup, would
// have refused the call); Alice answers, audio flows both ways, and the
// call record's route says why Alice was rung.
func TestRoutingInHoursRingsBrowser(t *testing.T) {
	if !insideBrowserNetns(t) {
		return
	}
	loc, err := time.LoadLocation("Europe/Warsaw")
	if err != nil {
		t.Fatal(err)
	}
	days := rbDaysAround(time.Now(), loc)
	hours := fmt.Sprintf(`, working_hours: { timezone: "Europe/Warsaw", hours: [ { days: [%s], from: "00:00", to: "24:00" } ] }, after_hours: hangup`,
		strings.Join(days, ", "))
	g, page, ctx, callerRTP, done := ringAvailableTab(t, rbOptions(rbTeamUsers, "alice", hours, ""))

	page.waitJS("the call rings in Alice's tab", `window.switchboard.state === "incoming"`, 10*time.Second)
	page.click("button", "Answer")
	res := awaitCall(t, done, 15*time.Second)
	if res.err != nil {
		t.Fatalf("the call was not answered (final response %d): %v\n%s", finalStatus(res.err), res.err, page.snapshot())
	}
	rbTalk(ctx, t, res, callerRTP, page)

	rec := g.endedBrowserCall(t, 10*time.Second)
	checkRecord(t, rec.callRecord, callRecord{
		Direction: "inbound", Number: ourNumber, Caller: callerNumber, Callee: "user:alice", Trunk: "carrier",
		Outcome: "answered", HangupCause: "normal_clearing", HangupSide: "caller",
	})
	if !rec.hasLegKind("webrtc") {
		t.Errorf("call record has no webrtc leg: %+v", rec.Legs)
	}
	route := g.rbRoute(t, rec.ID)
	rbCheckRoute(t, route, "ring alice's browser for 20s")
	inHours := false
	for _, line := range route {
		if strings.Contains(line, " Europe/Warsaw is within ") && strings.HasSuffix(line, " -> in hours: ring browser") {
			inHours = true
		}
	}
	if !inHours {
		t.Errorf("the route has no line saying the call came within the hours (%v 00:00-24:00 Europe/Warsaw) and rings the browser", days)
	}
}

// TestRoutingOwnerAwayRingsTeammate: Alice owns the number and is signed in
// but away; the no-answer action team:support skips her and rings Bob's
// tab at once (Alice's tab never shows the call); Bob answers and talks,
// and the record says Bob took the call and why Alice was skipped.
func TestRoutingOwnerAwayRingsTeammate(t *testing.T) {
	if !insideBrowserNetns(t) {
		return
	}
	g := startGateway(t, rbOptions(rbTeamUsers, "alice", ", no_answer: team:support", ""))
	b := startBrowser(t)
	alice := b.newPage("alice")
	bob := b.newPage("bob")
	alice.signIn(g.httpBase, aliceToken)
	alice.waitJS("Alice starts away", `window.switchboard.presence === "away"`, 5*time.Second)
	rbWatchIncoming(t, alice)
	bob.signIn(g.httpBase, bobToken)
	bob.setAvailable()

	// The plan for a call now, as the owner's simulator shows it: Bob only.
	sim := g.api(t, http.MethodPost, "/api/numbers/"+url.PathEscape(ourNumber)+"/simulate",
		[]byte(`{"caller": "`+callerNumber+`"}`), http.Header{"Content-Type": {"application/json"}})
	var plan struct {
		Steps []struct {
			Kind    string `json:"kind"`
			Targets []struct {
				Kind string `json:"kind"`
				User string `json:"user"`
			} `json:"targets"`
		} `json:"steps"`
	}
	if sim.Status != http.StatusOK || json.Unmarshal(sim.Body, &plan) != nil {
		t.Fatalf("simulate: %d %s", sim.Status, sim.Body)
	}
	if len(plan.Steps) == 0 || plan.Steps[0].Kind != "ring" || len(plan.Steps[0].Targets) != 1 ||
		plan.Steps[0].Targets[0].Kind != "browser" || plan.Steps[0].Targets[0].User != "bob" {
		t.Errorf("simulate: the first step is not ringing Bob's browser alone: %s", sim.Body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	callerRTP := newRTPPeer(t)
	done := placeCall(ctx, newGoCaller(t), g.sipAddr, audioSDP(callerRTP.port(), media.PayloadPCMU))
	bob.waitJS("the call rings in Bob's tab", `window.switchboard.state === "incoming"`, 10*time.Second)
	card := bob.text("dialog", "Incoming call", 5*time.Second)
	if !strings.Contains(card, "Support line") {
		t.Errorf("Bob's incoming card does not name the number called (Support line): %q", card)
	}
	bob.click("button", "Answer")
	res := awaitCall(t, done, 15*time.Second)
	if res.err != nil {
		t.Fatalf("the call was not answered (final response %d): %v\n%s", finalStatus(res.err), res.err, bob.snapshot())
	}
	rbTalk(ctx, t, res, callerRTP, bob)

	if rbSawIncoming(t, alice) {
		t.Errorf("Alice's tab showed an incoming card while she was away\n%s", alice.snapshot())
	}
	if s := alice.state(); s != "idle" {
		t.Errorf("Alice's tab is %q, want idle", s)
	}
	rec := g.endedBrowserCall(t, 10*time.Second)
	checkRecord(t, rec.callRecord, callRecord{
		Direction: "inbound", Number: ourNumber, Caller: callerNumber, Callee: "user:bob", Trunk: "carrier",
		Outcome: "answered", HangupCause: "normal_clearing", HangupSide: "caller",
	})
	if l, ok := rec.leg("callee"); !ok || l.Kind != "webrtc" || l.Peer != "user:bob" {
		t.Errorf("call record's callee leg %+v (found %v), want a webrtc leg to user:bob; legs %+v", l, ok, rec.Legs)
	}
	rbCheckRoute(t, g.rbRoute(t, rec.ID),
		"owner alice is away: not rung",
		"nobody to ring -> no-answer action team:support",
		"team support: alice is away: skipped",
		"team support (all at once): ring bob's browser for 20s")
}

// TestRoutingTeamNobodyAvailableGoesToVoicemail: the owner Alice is away
// and Bob has no tab open, so team:support has nobody to ring and the call
// goes to voicemail at once: the caller hears the spoken greeting and the
// beep and leaves a message; no tab ever shows the call, and the route
// says why each member was skipped.
func TestRoutingTeamNobodyAvailableGoesToVoicemail(t *testing.T) {
	if !insideBrowserNetns(t) {
		return
	}
	requireTools(t, "espeak-ng")
	g := startGateway(t, rbOptions(rbTeamUsers, "alice",
		`, no_answer: team:support, voicemail: { enabled: true, silence_timeout: 2s, in_hours: { tts: "Please leave a message." } }`, ""))
	alice := startBrowser(t).newPage("alice")
	alice.signIn(g.httpBase, aliceToken)
	alice.waitJS("Alice starts away", `window.switchboard.presence === "away"`, 5*time.Second)
	rbWatchIncoming(t, alice)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	started := time.Now()
	c := dialVoicemail(ctx, t, g)
	// Nobody rings, so no 20 s team timeout runs before voicemail answers.
	if took := time.Since(started); took > 5*time.Second {
		t.Errorf("voicemail answered after %s; with nobody to ring it should answer at once", took)
	}
	const message = 1500 * time.Millisecond
	c.leaveMessage(ctx, t, message, alice.snapshot)

	rec := g.waitEndedCall(t, 10*time.Second)
	want := wantVoicemailRecord("voicemail")
	want.HangupSide = "caller"
	checkRecord(t, rec, want)
	if id := g.callVoicemailID(t, rec.ID); id == "" {
		t.Errorf("call record has no voicemail_id")
	}
	if rbSawIncoming(t, alice) {
		t.Errorf("Alice's tab showed an incoming card while she was away\n%s", alice.snapshot())
	}
	rbCheckRoute(t, g.rbRoute(t, rec.ID),
		"owner alice is away: not rung",
		"nobody to ring -> no-answer action team:support",
		"team support: alice is away: skipped",
		"team support: bob has no tab open: skipped",
		"nobody in team support can take the call -> voicemail",
		"take a voicemail with the in_hours greeting")
	for _, err := range c.peer.sendProblems() {
		t.Errorf("caller: %v", err)
	}
}

// TestRoutingTeamRotation: team support rings in rotation, 2 s a member;
// the number's owner Carol has no tab, so every call goes to the team.
// Alice and Bob are both available. The first call rings Alice alone, then
// after 2 s Bob alone, who answers; the next call starts with Bob (fair
// rotation: the one after the previous call's first), then Alice, who
// answers.
func TestRoutingTeamRotation(t *testing.T) {
	if !insideBrowserNetns(t) {
		return
	}
	const memberTimeout = 2 * time.Second
	users := `[ { id: carol, name: "Carol White", token: "` + carolToken + `" },` + strings.TrimPrefix(rbTeamUsers, "[")
	g := startGateway(t, rbOptions(users, "carol", ", no_answer: team:support",
		"teams: [ { name: support, ring: rotation, member_timeout: 2s } ]\n"))
	b := startBrowser(t)
	pages := map[string]*browserPage{"alice": b.newPage("alice"), "bob": b.newPage("bob")}
	pages["alice"].signIn(g.httpBase, aliceToken)
	pages["alice"].setAvailable()
	pages["bob"].signIn(g.httpBase, bobToken)
	pages["bob"].setAvailable()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for i, order := range [][2]string{{"alice", "bob"}, {"bob", "alice"}} {
		first, second := pages[order[0]], pages[order[1]]
		callerRTP := newRTPPeer(t)
		done := placeCall(ctx, newGoCaller(t), g.sipAddr, audioSDP(callerRTP.port(), media.PayloadPCMU))

		first.waitJS("call "+fmt.Sprint(i+1)+" rings here first", `window.switchboard.state === "incoming"`, 10*time.Second)
		firstRang := time.Now()
		if s := second.state(); s != "idle" {
			t.Errorf("call %d: %s's tab is %q while %s's rings first, want idle", i+1, order[1], s, order[0])
		}
		second.waitJS("call "+fmt.Sprint(i+1)+" rings here after the first member's turn",
			`window.switchboard.state === "incoming"`, memberTimeout+5*time.Second)
		turn := time.Since(firstRang)
		t.Logf("call %d: %s rang %s after %s", i+1, order[1], turn.Round(time.Millisecond), order[0])
		if turn < memberTimeout-300*time.Millisecond || turn > memberTimeout+1500*time.Millisecond {
			t.Errorf("call %d: %s's tab rang %s after %s's, want about the member timeout of %s",
				i+1, order[1], turn, order[0], memberTimeout)
		}
		first.waitJS("the first member's tab stops ringing when its turn is over",
			`window.switchboard.state === "idle" && document.querySelectorAll('#incoming-list [role=dialog]').length === 0`,
			5*time.Second)

		second.click("button", "Answer")
		res := awaitCall(t, done, 15*time.Second)
		if res.err != nil {
			t.Fatalf("call %d was not answered (final response %d): %v\n%s", i+1, finalStatus(res.err), res.err, second.snapshot())
		}
		rbTalk(ctx, t, res, callerRTP, second)
		// Routing asks who is available when the next call arrives: the
		// member who talked must be back from "in a call" first.
		second.waitJS("available again after the call", `window.switchboard.presence === "available"`, 10*time.Second)
	}

	calls := g.waitCalls(t, 2, 10*time.Second) // newest first
	for i, order := range [][2]string{{"alice", "bob"}, {"bob", "alice"}} {
		first, second := order[0], order[1]
		rec := g.call(t, calls[len(calls)-1-i].ID)
		t.Logf("call %d record: %s", i+1, rec)
		checkRecord(t, rec, callRecord{
			Direction: "inbound", Number: ourNumber, Caller: callerNumber, Callee: "user:" + second, Trunk: "carrier",
			Outcome: "answered", HangupCause: "normal_clearing", HangupSide: "caller",
		})
		rbCheckRoute(t, g.rbRoute(t, rec.ID),
			"owner carol has no tab open: not rung",
			"nobody to ring -> no-answer action team:support",
			"team support (rotation 1 of 2): ring "+first+"'s browser for 2s",
			"team support (rotation 2 of 2): ring "+second+"'s browser for 2s")
	}
}
