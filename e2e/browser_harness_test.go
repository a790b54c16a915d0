package e2e

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/internal/testaudio"
	"switchboard/media"
)

// Browser tests run headless Chromium and the gateway together in a private
// network namespace that has only loopback: Chromium then offers only
// 127.0.0.1 ICE candidates and nothing can leak off the machine.
// The test re-executes its own test binary inside `unshare -n` with
// browserNetnsEnv set; the copy inside does the real work.
const (
	browserNetnsEnv = "SWITCHBOARD_E2E_BROWSER_NETNS"
	// browserChildTimeout bounds one re-executed browser test.
	browserChildTimeout = 150 * time.Second
	// browserTestTimeout bounds the work inside the namespace (browser and
	// gateway contexts); shorter than the child's own limit so a stuck step
	// fails with a useful message rather than a kill.
	browserTestTimeout = 120 * time.Second
)

// Who signs in and what the browser tests configure (see the browser test
// brief): Alice's browser rings for +15550100 and Jan Kowalski is a contact.
const (
	aliceToken        = "alice-token"
	browserToneFreq   = 440.0 // Hz, the fake microphone
	browserToneDBFS   = -6.0
	browserPageFreqTo = 30.0 // Hz tolerance of the page's FFT peak
)

// browserGatewayOptions is the gateway configuration of every browser test.
func browserGatewayOptions(proxy string) gatewayOptions {
	return gatewayOptions{
		Proxy: proxy,
		Users: `[ { id: alice, name: "Alice Smith", team: support, token: "` + aliceToken + `" } ]`,
		Numbers: fmt.Sprintf("  - { number: %q, name: \"Support line\", trunk: carrier, owner: alice, ringing: browser, ring_timeout: 20s }\n",
			ourNumber),
		Extra: `webrtc: { loopback: true, interfaces: ["lo"] }
contacts:
  - { name: "Jan Kowalski", company: "Acme", phones: ["` + callerNumber + `"], deal: { name: "Acme renewal", amount: 12000, currency: "USD" } }
`,
	}
}

// chromiumPath finds the browser: chromium on PATH, else Debian's location.
func chromiumPath() string {
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	return ""
}

// skipOrFail skips the test, or fails it on CI (CI=true), where a missing
// prerequisite means the machine was set up wrongly.
func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// insideBrowserNetns reports whether the test runs inside its network
// namespace and should do its work. Outside, it re-executes the test there,
// streams the copy's output into t.Log, fails when the copy fails, and
// returns false.
func insideBrowserNetns(t *testing.T) bool {
	t.Helper()
	if chromiumPath() == "" {
		skipOrFail(t, "chromium not found (run scripts/install-test-deps.sh)")
	}
	if os.Getenv(browserNetnsEnv) == "1" {
		// The point of the namespace: loopback is the only way out.
		ifaces, err := net.Interfaces()
		if err != nil {
			t.Fatalf("listing network interfaces: %v", err)
		}
		for _, ifc := range ifaces {
			if ifc.Flags&net.FlagLoopback == 0 {
				t.Fatalf("the network namespace has interface %s besides loopback", ifc.Name)
			}
		}
		return true
	}
	requireTools(t, "unshare", "ip")
	if out, err := exec.Command("unshare", "-n", "true").CombinedOutput(); err != nil {
		skipOrFail(t, fmt.Sprintf("cannot make a network namespace (unshare -n needs root): %v %s", err, strings.TrimSpace(string(out))))
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("finding the test binary: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), browserChildTimeout)
	defer cancel()
	// unshare execs sh, which brings loopback up and execs the test binary:
	// the test process is the namespace's first process, and the group
	// leader we kill if it overruns (the gateway and Chromium are its
	// children and die with the group).
	cmd := exec.CommandContext(ctx, "unshare", "-n", "sh", "-c", `ip link set lo up && exec "$0" "$@"`,
		exe, "-test.run", "^"+regexp.QuoteMeta(t.Name())+"$", "-test.v", "-test.count=1",
		"-test.timeout="+browserChildTimeout.String())
	cmd.Env = append(os.Environ(), browserNetnsEnv+"=1", gatewayBinEnv+"="+gatewayBin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the test inside a network namespace: %v", err)
	}
	skipped := ""
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		t.Log("netns| " + line)
		if strings.Contains(line, "--- SKIP: "+t.Name()) {
			skipped = line
		}
	}
	err = cmd.Wait()
	switch {
	case ctx.Err() != nil:
		t.Fatalf("the test inside the network namespace did not finish within %s; killed", browserChildTimeout)
	case err != nil:
		t.Fatalf("the test inside the network namespace failed: %v", err)
	case skipped != "":
		t.Skip("skipped inside the network namespace: " + skipped)
	}
	return false
}

// writeToneWAV writes seconds of a sine at freq Hz and dbfs as a 48 kHz mono
// 16-bit PCM WAV file: Chromium's fake microphone plays it in a loop. A whole
// number of periods per file keeps the loop free of clicks.
func writeToneWAV(path string, freq, dbfs float64, seconds int) error {
	const rate = 48000
	samples := testaudio.Sine(freq, rate, rate*seconds, testaudio.AmplitudeForDBFS(dbfs), nil)
	data := make([]byte, 44+2*len(samples))
	le := binary.LittleEndian
	copy(data[0:], "RIFF")
	le.PutUint32(data[4:], uint32(36+2*len(samples)))
	copy(data[8:], "WAVEfmt ")
	le.PutUint32(data[16:], 16)     // fmt chunk size
	le.PutUint16(data[20:], 1)      // PCM
	le.PutUint16(data[22:], 1)      // mono
	le.PutUint32(data[24:], rate)   // sample rate
	le.PutUint32(data[28:], rate*2) // byte rate
	le.PutUint16(data[32:], 2)      // block align
	le.PutUint16(data[34:], 16)     // bits per sample
	copy(data[36:], "data")
	le.PutUint32(data[40:], uint32(2*len(samples)))
	for i, s := range samples {
		le.PutUint16(data[44+2*i:], uint16(s))
	}
	return os.WriteFile(path, data, 0o644)
}

// browser is one headless Chromium for a test.
type browser struct {
	t    *testing.T
	root context.Context // the first tab, which only keeps the browser up
	out  *syncBuffer     // Chromium's stdout and stderr
}

// startBrowser starts Chromium with a fake microphone playing a 440 Hz tone
// and the flags WebRTC on loopback needs (../shared/TESTING.md). It is
// closed by test cleanup.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	dir := t.TempDir()
	wav := filepath.Join(dir, "tone.wav")
	if err := writeToneWAV(wav, browserToneFreq, browserToneDBFS, 2); err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, out: &syncBuffer{}}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath()),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-audio-capture", wav),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("disable-features", "WebRtcHideLocalIpsWithMdns"),
		// A fixed locale makes the page's number formatting ("$12,000") known.
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1200, 900),
		chromedp.CombinedOutput(b.out),
	}
	base, cancelBase := context.WithTimeout(context.Background(), browserTestTimeout)
	alloc, cancelAlloc := chromedp.NewExecAllocator(base, opts...)
	root, cancelRoot := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelRoot()
		cancelAlloc() // waits for Chromium to exit
		cancelBase()
		if t.Failed() {
			t.Logf("chromium output (tail, D-Bus complaints left out):\n%s", tail(b.output(), 40))
		}
	})
	// The first action on a context starts the browser and binds its life
	// to that context, so it runs on root itself (bounded by base).
	if err := chromedp.Do(root, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v\n%s", err, tail(b.output(), 40))
	}
	b.root = root
	return b
}

// output is Chromium's output without its complaints about a missing D-Bus,
// which a container never has.
func (b *browser) output() string {
	var keep []string
	for _, line := range strings.Split(b.out.String(), "\n") {
		if !strings.Contains(line, "dbus") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

// browserPage is one tab of the softphone page.
type browserPage struct {
	t       *testing.T
	name    string
	ctx     context.Context
	console *syncBuffer
}

// newPage opens a tab (its own sessionStorage, so its own sign-in) and
// records its console. On failure its console and a screenshot are kept.
func (b *browser) newPage(name string) *browserPage {
	t := b.t
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.root)
	p := &browserPage{t: t, name: name, ctx: ctx, console: &syncBuffer{}}
	// As with the browser, the tab lives as long as the context of its first
	// action: that is ctx itself, bounded by the browser's deadline.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		cancel()
		t.Fatalf("%s: opening a tab: %v", name, err)
	}
	consoleDone := make(chan struct{})
	go func() {
		defer close(consoleDone)
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			fmt.Fprintf(p.console, "%s %s\n", time.Now().Format("15:04:05.000"), m.String())
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			p.keepEvidence()
		}
		cancel()
		<-consoleDone
	})
	return p
}

// keepEvidence logs the page's state and console and saves a screenshot.
func (p *browserPage) keepEvidence() {
	p.t.Logf("%s: %s", p.name, p.snapshot())
	p.t.Logf("%s console:\n%s", p.name, tail(p.console.String(), 60))
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(p.t.Name() + "-" + p.name)
	path := filepath.Join(os.TempDir(), "switchboard-e2e-"+name+".png")
	if os.WriteFile(path, png, 0o644) == nil {
		p.t.Logf("%s screenshot: %s", p.name, path)
	}
}

// do runs actions within a deadline and fails the test when they fail.
func (p *browserPage) do(within time.Duration, what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, within)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %s: %v\n%s", p.name, what, err, p.snapshot())
	}
}

// evalJS evaluates a JavaScript expression in the page.
func evalJS[T any](p *browserPage, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr))
}

// snapshot describes what the page shows, for failure messages.
func (p *browserPage) snapshot() string {
	s, err := evalJS[string](p, `JSON.stringify({
		state: window.switchboard && window.switchboard.state,
		connection: window.switchboard && window.switchboard.connection,
		presence: window.switchboard && window.switchboard.presence,
		callId: window.switchboard && window.switchboard.callId,
		pc: window.switchboard && window.switchboard.pc ? window.switchboard.pc.connectionState : null,
		notice: document.getElementById('notice').hidden ? '' : document.getElementById('notice').textContent,
		incomingCards: document.querySelectorAll('#incoming-list [role=dialog]').length,
		signinError: document.getElementById('signin-error').textContent,
	})`)
	if err != nil {
		return "page state unavailable: " + err.Error()
	}
	return "page state " + s
}

// waitJS polls a boolean JavaScript expression until it is true.
func (p *browserPage) waitJS(what, expr string, within time.Duration) {
	p.t.Helper()
	var last error
	err := waitFor(p.ctx, within, func() bool {
		ok, err := evalJS[bool](p, expr)
		last = err
		return err == nil && ok
	})
	if err != nil {
		p.t.Fatalf("%s: %s: not within %s (last evaluation error: %v)\n%s", p.name, what, within, last, p.snapshot())
	}
}

// state is window.switchboard.state: "idle", "incoming", "answered", ...
func (p *browserPage) state() string {
	s, err := evalJS[string](p, `window.switchboard.state`)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return s
}

// byRole selects the elements a screen reader would announce with role and
// accessible name (Chromium's accessibility tree), skipping hidden ones:
// the page is driven the way its users perceive it.
func byRole(role, name string) chromedp.QueryOption {
	return chromedp.ByFunc(func(ctx context.Context, t *chromedp.Target, n *chromedp.Node) ([]cdp.NodeID, error) {
		res, err := cdp.Call(ctx, t, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{
			NodeID: n.NodeID, AccessibleName: name, Role: role,
		})
		if err != nil {
			return nil, err
		}
		var backend []cdp.BackendNodeID
		for _, ax := range res.Nodes {
			if !ax.Ignored && ax.BackendDOMNodeID != 0 {
				backend = append(backend, ax.BackendDOMNodeID)
			}
		}
		if len(backend) == 0 {
			return nil, nil
		}
		pushed, err := cdp.Call(ctx, t, dom.PushNodesByBackendIDsToFrontend, dom.PushNodesByBackendIDsToFrontendParams{BackendNodeIDs: backend})
		if err != nil {
			return nil, err
		}
		return pushed.NodeIDs, nil
	})
}

// roleLabel names a role query in error messages.
func roleLabel(role, name string) chromedp.Search {
	return chromedp.Search(fmt.Sprintf("%s %q", role, name))
}

// click clicks the visible element with role and accessible name.
func (p *browserPage) click(role, name string) {
	p.t.Helper()
	p.do(10*time.Second, fmt.Sprintf("click %s %q", role, name),
		chromedp.Click(roleLabel(role, name), byRole(role, name), chromedp.RetryInterval(50*time.Millisecond)))
}

// typeInto types text into the field with role and accessible name.
func (p *browserPage) typeInto(role, name, text string) {
	p.t.Helper()
	p.do(10*time.Second, fmt.Sprintf("type into %s %q", role, name),
		chromedp.SendKeys(roleLabel(role, name), text, byRole(role, name), chromedp.RetryInterval(50*time.Millisecond)))
}

// choose picks value in the select with role and accessible name, as a
// user's pick would (the change event fires), and checks it took.
func (p *browserPage) choose(role, name, value string) {
	p.t.Helper()
	p.do(10*time.Second, fmt.Sprintf("choose %q in %s %q", value, role, name),
		chromedp.QueryAfter(roleLabel(role, name), func(ctx context.Context, t *chromedp.Target, nodes []*chromedp.Node) (chromedp.Void, error) {
			if len(nodes) == 0 {
				return chromedp.Void{}, errors.New("no such element")
			}
			obj, err := cdp.Call(ctx, t, dom.ResolveNode, dom.ResolveNodeParams{NodeID: nodes[0].NodeID})
			if err != nil {
				return chromedp.Void{}, err
			}
			defer func() {
				_, _ = cdp.Call(ctx, t, runtime.ReleaseObject, runtime.ReleaseObjectParams{ObjectID: obj.Object.ObjectID})
			}()
			return chromedp.CallFunctionOn[chromedp.Void](`function(v) {
				if (![...this.options].some((o) => o.value === v)) throw new Error('no option ' + v);
				this.value = v;
				if (this.value !== v) throw new Error('the pick did not take');
				this.dispatchEvent(new Event('change', { bubbles: true }));
			}`, func(p *runtime.CallFunctionOnParams) { p.ObjectID = obj.Object.ObjectID }, value)(ctx, t)
		}, byRole(role, name), chromedp.NodeVisible, chromedp.RetryInterval(50*time.Millisecond)))
}

// text returns the rendered text of the element with role and accessible name.
func (p *browserPage) text(role, name string, within time.Duration) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, within)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(roleLabel(role, name), byRole(role, name),
		chromedp.NodeVisible, chromedp.RetryInterval(50*time.Millisecond)))
	if err != nil {
		p.t.Fatalf("%s: reading %s %q: %v\n%s", p.name, role, name, err, p.snapshot())
	}
	return s
}

// signIn opens the softphone at base, signs in with token and waits until
// the page is connected and idle.
func (p *browserPage) signIn(base, token string) {
	p.t.Helper()
	p.do(15*time.Second, "open the softphone", chromedp.Navigate(base+"/"))
	p.typeInto("textbox", "Token", token)
	p.click("button", "Sign in")
	p.waitJS("signed in, connected and idle",
		`window.switchboard.connection === "online" && window.switchboard.state === "idle"`, 10*time.Second)
}

// setAvailable clicks "Set available" and waits for the gateway to confirm.
func (p *browserPage) setAvailable() {
	p.t.Helper()
	p.click("button", "Set available")
	p.waitJS("presence available", `window.switchboard.presence === "available"`, 10*time.Second)
}

// waitPageTone polls the page's analyser until its strongest frequency is
// within tol of freq on three polls in a row (a steady tone, not a passing
// coincidence), and returns the readings.
func (p *browserPage) waitPageTone(freq, tol float64, within time.Duration) []float64 {
	p.t.Helper()
	var seen []float64
	inARow := 0
	err := waitFor(p.ctx, within, func() bool {
		f, err := evalJS[float64](p, `window.switchboard.dominantFrequency()`)
		if err != nil {
			inARow = 0
			return false
		}
		seen = append(seen, f)
		if math.Abs(f-freq) <= tol {
			inARow++
		} else {
			inARow = 0
		}
		return inARow >= 3
	})
	if err != nil {
		p.t.Fatalf("%s: the page never heard %.0f Hz ± %.0f steadily within %s; its analyser read %v\n%s",
			p.name, freq, tol, within, lastN(seen, 20), p.snapshot())
	}
	return lastN(seen, 3)
}

// lastN returns the last n readings of v (all of them when fewer).
func lastN(v []float64, n int) []float64 {
	if len(v) > n {
		return v[len(v)-n:]
	}
	return v
}

// heardTone is a measurement of the newest second of audio an RTP peer got.
type heardTone struct {
	Freq  float64 // dominant frequency, Hz
	Level float64 // level of the expected frequency, dBFS
}

// waitHeardTone polls the audio p received until its newest second has freq
// (±20 Hz) as the dominant frequency at minDBFS or louder.
func waitHeardTone(t *testing.T, p *rtpPeer, freq, minDBFS float64, within time.Duration) heardTone {
	t.Helper()
	var last heardTone
	n := 0
	err := waitFor(context.Background(), within, func() bool {
		samples, _ := p.received()
		n = len(samples)
		if n < media.ClockRate {
			return false
		}
		mid := samples[n-media.ClockRate:]
		last = heardTone{
			Freq:  testaudio.DominantFrequency(mid, media.ClockRate, 200, 3400, 10),
			Level: testaudio.ToneLevelDBFS(mid, media.ClockRate, freq),
		}
		return math.Abs(last.Freq-freq) <= 20 && last.Level >= minDBFS
	})
	if err != nil {
		_, byType := p.received()
		t.Fatalf("the SIP side never heard %.0f Hz at %.0f dBFS or more within %s: %d samples, packets by payload type %v, last second: %.0f Hz, %.1f dBFS at %.0f Hz",
			freq, minDBFS, within, n, byType, last.Freq, last.Level, freq)
	}
	return last
}

// browserCallRecord is a call record with the caller ID match the browser
// issue added.
type browserCallRecord struct {
	callRecord
	CallerID *struct {
		Name    string `json:"name"`
		Company string `json:"company"`
		Deal    *struct {
			Name     string  `json:"name"`
			Amount   float64 `json:"amount"`
			Currency string  `json:"currency"`
		} `json:"deal"`
	} `json:"caller_id"`
}

// endedBrowserCall waits for the one call of the test to end and returns its
// record with the caller ID.
func (g *gateway) endedBrowserCall(t *testing.T, within time.Duration) browserCallRecord {
	t.Helper()
	rec := g.waitEndedCall(t, within)
	var full browserCallRecord
	if code := g.getJSON(t, "/api/calls/"+rec.ID, &full); code != 200 {
		t.Fatalf("GET /api/calls/%s: status %d", rec.ID, code)
	}
	return full
}

// hasLegKind reports whether the record has a leg of kind.
func (r browserCallRecord) hasLegKind(kind string) bool {
	for _, l := range r.Legs {
		if l.Kind == kind {
			return true
		}
	}
	return false
}

// ringAvailableTab is how an inbound browser test starts: a gateway with
// opts, Alice's tab signed in and available, and a Go caller (sending PCMU
// from callerRTP) whose INVITE is on its way; done reports the call.
func ringAvailableTab(t *testing.T, opts gatewayOptions) (g *gateway, page *browserPage, ctx context.Context, callerRTP *rtpPeer, done <-chan callResult) {
	t.Helper()
	g = startGateway(t, opts)
	page = startBrowser(t).newPage("tab")
	page.signIn(g.httpBase, aliceToken)
	page.setAvailable()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	callerRTP = newRTPPeer(t)
	done = placeCall(ctx, newGoCaller(t), g.sipAddr, audioSDP(callerRTP.port(), media.PayloadPCMU))
	return g, page, ctx, callerRTP, done
}

// placeCall runs a goCaller's call in the background: the INVITE is only
// answered once someone clicks in the browser.
func placeCall(ctx context.Context, c *goCaller, gatewayAddr string, sdpBody []byte) <-chan callResult {
	done := make(chan callResult, 1)
	go func() {
		dlg, err := c.call(ctx, gatewayAddr, ourNumber, sdpBody)
		done <- callResult{dlg, err}
	}()
	return done
}

// callResult is how a background call ended up: answered, or the error
// (with the final response, see finalStatus).
type callResult struct {
	dlg *sipgo.DialogClientSession
	err error
}

// finalStatus is the final SIP status code behind a failed call, or 0.
func finalStatus(err error) int {
	var resp *sipgo.ErrDialogResponse
	if errors.As(err, &resp) && resp.Res != nil {
		return resp.Res.StatusCode
	}
	var val sipgo.ErrDialogResponse
	if errors.As(err, &val) && val.Res != nil {
		return val.Res.StatusCode
	}
	return 0
}

// awaitCall waits for a background call's outcome.
func awaitCall(t *testing.T, done <-chan callResult, within time.Duration) callResult {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(within):
		t.Fatalf("the SIP call had no final response within %s", within)
		return callResult{}
	}
}

// inviteSeen is what a callee noted about an INVITE.
type inviteSeen struct {
	FromUser, ToUser, RequestUser string
}

// invitesLog collects the INVITEs a callee received.
type invitesLog struct {
	mu   sync.Mutex
	seen []inviteSeen
}

func (l *invitesLog) add(req *sip.Request) {
	var s inviteSeen
	if f := req.From(); f != nil {
		s.FromUser = f.Address.User
	}
	if to := req.To(); to != nil {
		s.ToUser = to.Address.User
	}
	s.RequestUser = req.Recipient.User
	l.mu.Lock()
	l.seen = append(l.seen, s)
	l.mu.Unlock()
}

func (l *invitesLog) all() []inviteSeen {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]inviteSeen(nil), l.seen...)
}

// newRecordingCallee is a toneCallee (see goua_test.go) that also notes the
// From, To and Request-URI users of every INVITE it gets.
func newRecordingCallee(t *testing.T, answerPT uint8, freq, dbfs float64) (*toneCallee, *invitesLog) {
	t.Helper()
	log := &invitesLog{}
	return newToneCalleeSeeing(t, answerPT, freq, dbfs, log.add), log
}
