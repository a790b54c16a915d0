package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"gopkg.in/yaml.v3"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// gatewayBin is the switchboard binary TestMain built for this run.
var gatewayBin string

// gatewayBinEnv names the environment variable that hands an already built
// gateway binary to a re-executed test binary.
const gatewayBinEnv = "SWITCHBOARD_E2E_GATEWAY_BIN"

// TestMain builds the gateway once for every test in the package: each test
// then starts as many fresh processes as it needs in milliseconds.
func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "switchboard-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// A test re-executed inside a network namespace (see browser_harness_test.go)
	// reuses the binary its parent built instead of building it again.
	if bin := os.Getenv(gatewayBinEnv); bin != "" {
		gatewayBin = bin
		return m.Run()
	}
	gatewayBin = filepath.Join(dir, "switchboard")
	args := []string{"build", "-o", gatewayBin}
	if os.Getenv("SWITCHBOARD_E2E_RACE") == "1" {
		args = append(args, "-race")
	}
	args = append(args, "../cmd/switchboard")
	build := exec.Command("go", args...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building the gateway failed:", err)
		return 1
	}
	return m.Run()
}

// requireTools skips the test when a peer program is missing, or fails it on
// CI (CI=true), where a missing tool means the machine was set up wrongly.
func requireTools(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			msg := fmt.Sprintf("%s not found on PATH (run scripts/install-test-deps.sh)", name)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
}

// Port allocation. Ports come from 20000-32767: below Linux's ephemeral range,
// so the kernel does not hand one of ours to an outgoing socket meanwhile.
// Each candidate is bound (UDP and TCP, on the wildcard address, which
// conflicts with any specific loopback binding) and released; ports handed
// out once are never reused within the run.
const (
	portLow  = 20000
	portHigh = 32767
)

var (
	portMu    sync.Mutex
	portTaken = map[int]bool{}
)

// freePorts returns the first of n consecutive free ports, starting on an
// even number (RTP uses the even port of a pair, RFC 3550 §11).
func freePorts(t *testing.T, n int) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for range 500 {
		base := portLow + 2*rand.IntN((portHigh-portLow-n)/2)
		ok := true
		for p := base; p < base+n && ok; p++ {
			ok = !portTaken[p] && portBindable(p)
		}
		if !ok {
			continue
		}
		for p := base; p < base+n; p++ {
			portTaken[p] = true
		}
		return base
	}
	t.Fatalf("no block of %d free ports found in %d-%d", n, portLow, portHigh)
	return 0
}

// freePort returns one free port.
func freePort(t *testing.T) int { t.Helper(); return freePorts(t, 1) }

func portBindable(p int) bool {
	addr := ":" + strconv.Itoa(p)
	u, err := net.ListenPacket("udp4", addr)
	if err != nil {
		return false
	}
	u.Close()
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// syncBuffer is a bytes.Buffer safe for a process writing while a test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d earlier lines)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// gatewayOptions shapes the generated configuration; zero values take defaults.
type gatewayOptions struct {
	// Allow is the carrier trunk's inbound allow list (default 127.0.0.1/32).
	Allow []string
	// Proxy is host:port of the trunk's outbound proxy: the forward target.
	// Without one, a port nobody listens on is used.
	Proxy string
	// RingTimeout of +15550100 (default 5s).
	RingTimeout time.Duration
	// RTPTimeout is rtp.timeout (default 30s).
	RTPTimeout time.Duration
	// DrainTimeout is drain_timeout (default 5s).
	DrainTimeout time.Duration
	// DataDir is data_dir (default a fresh temporary directory); pass one
	// again to restart on the same database.
	DataDir string
	// Users replaces the users list, as a YAML flow sequence (default one
	// user alice with token "t").
	Users string
	// Numbers replaces the entries of the numbers list, as YAML block
	// sequence items indented by two spaces (default +15550100 forwarding
	// to +15550199 with RingTimeout).
	Numbers string
	// Extra is YAML appended to the configuration verbatim (top-level keys
	// such as webrtc or contacts).
	Extra string
}

// Numbers of every test: the one we own, where it forwards to, and who
// calls it (the From user of the SIPp caller scenarios and the Go caller).
const (
	ourNumber     = "+15550100"
	forwardNumber = "+15550199"
	callerNumber  = "+15557654321"
)

// gateway is one running switchboard process.
type gateway struct {
	cmd      *exec.Cmd
	log      *syncBuffer
	sipPort  int
	sipAddr  string // 127.0.0.1:port, UDP and TCP
	httpBase string // http://127.0.0.1:port
	apiToken string // a user's token: /api/ wants it as a bearer token
	rtpMin   int
	rtpMax   int
	dataDir  string
	exited   chan struct{}
	waitErr  error

	signalled atomic.Bool // SIGTERM sent
	waited    atomic.Bool // exit awaited and checked
	stopOnce  sync.Once
}

// startGateway writes a configuration, starts the gateway, waits until
// /healthz answers 200 and registers a cleanup that stops it (asserting a
// clean exit) and shows its log when the test failed.
func startGateway(t *testing.T, o gatewayOptions) *gateway {
	t.Helper()
	if len(o.Allow) == 0 {
		o.Allow = []string{"127.0.0.1/32"}
	}
	if o.Proxy == "" {
		o.Proxy = "127.0.0.1:" + strconv.Itoa(freePort(t))
	}
	if o.RingTimeout == 0 {
		o.RingTimeout = 5 * time.Second
	}
	if o.RTPTimeout == 0 {
		o.RTPTimeout = 30 * time.Second
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = 5 * time.Second
	}
	dir := t.TempDir()
	g := &gateway{
		log:     &syncBuffer{},
		sipPort: freePort(t),
		dataDir: filepath.Join(dir, "data"),
		exited:  make(chan struct{}),
	}
	if o.DataDir != "" {
		g.dataDir = o.DataDir
	}
	g.sipAddr = "127.0.0.1:" + strconv.Itoa(g.sipPort)
	httpPort := freePort(t)
	g.httpBase = "http://127.0.0.1:" + strconv.Itoa(httpPort)
	const rtpPorts = 40
	g.rtpMin = freePorts(t, rtpPorts)
	g.rtpMax = g.rtpMin + rtpPorts - 1

	if o.Users == "" {
		o.Users = `[ { id: alice, name: "Alice", token: "t" } ]`
	}
	var users []struct{ Token string }
	if err := yaml.Unmarshal([]byte(o.Users), &users); err != nil {
		t.Fatalf("gatewayOptions.Users is not YAML: %v", err)
	}
	for _, u := range users {
		if u.Token != "" {
			g.apiToken = u.Token
			break
		}
	}
	if o.Numbers == "" {
		o.Numbers = fmt.Sprintf("  - { number: %q, trunk: carrier, owner: alice, ringing: forward, forward_to: %q, ring_timeout: %s }\n",
			ourNumber, forwardNumber, o.RingTimeout)
	}
	quoted := make([]string, len(o.Allow))
	for i, a := range o.Allow {
		quoted[i] = strconv.Quote(a)
	}
	cfg := fmt.Sprintf(`sip: { listen: %q, max_message_size: 8192 }
rtp: { address: "127.0.0.1", ports: "%d-%d", timeout: %s }
http: { listen: "127.0.0.1:%d" }
data_dir: %q
default_region: "US"
drain_timeout: %s
trunks:
  - name: carrier
    inbound: { allow: [%s] }
    outbound: { proxy: "sip:%s" }
users: %s
numbers:
%s%s`, g.sipAddr, g.rtpMin, g.rtpMax, o.RTPTimeout, httpPort, g.dataDir, o.DrainTimeout,
		strings.Join(quoted, ", "), o.Proxy, o.Users, o.Numbers, o.Extra)
	cfgPath := filepath.Join(dir, "switchboard.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	g.cmd = exec.Command(gatewayBin, "-config", cfgPath, "-log-level", "debug")
	g.cmd.Stdout, g.cmd.Stderr = g.log, g.log
	if err := g.cmd.Start(); err != nil {
		t.Fatalf("starting gateway: %v", err)
	}
	go func() {
		g.waitErr = g.cmd.Wait()
		close(g.exited)
	}()
	t.Cleanup(func() {
		g.stop(t)
		if t.Failed() {
			g.dumpLog(t)
		}
	})
	g.waitHealthy(t, 15*time.Second)
	return g
}

// waitHealthy polls /healthz until it answers 200, the process dies, or the
// deadline passes.
func (g *gateway) waitHealthy(t *testing.T, within time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	var last string
	died := false
	err := waitFor(context.Background(), within, func() bool {
		select {
		case <-g.exited:
			died = true
			return true
		default:
		}
		res, err := client.Get(g.httpBase + "/healthz")
		if err != nil {
			last = err.Error()
			return false
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		last = fmt.Sprintf("%d %s", res.StatusCode, body)
		return res.StatusCode == http.StatusOK
	})
	switch {
	case died:
		t.Fatalf("gateway exited during start-up (%v); log:\n%s", g.waitErr, tail(g.log.String(), 60))
	case err != nil:
		t.Fatalf("gateway not healthy within %s (last: %s); log:\n%s", within, last, tail(g.log.String(), 60))
	}
}

// terminate sends SIGTERM, the operator's way to stop the gateway: it
// starts draining. Use waitExit to see it finish.
func (g *gateway) terminate(t *testing.T) {
	t.Helper()
	select {
	case <-g.exited:
		t.Errorf("gateway had already exited before SIGTERM: %v", g.waitErr)
		return
	default:
	}
	g.signalled.Store(true)
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
}

// waitExit waits for the gateway to exit after terminate and asserts status
// 0 and a log free of panics and data races. It kills the process when it
// does not exit within the given time.
func (g *gateway) waitExit(t *testing.T, within time.Duration) {
	t.Helper()
	g.waited.Store(true)
	select {
	case <-g.exited:
	case <-time.After(within):
		_ = g.cmd.Process.Kill()
		<-g.exited
		t.Errorf("gateway did not exit within %s of SIGTERM; killed", within)
		return
	}
	if g.waitErr != nil {
		t.Errorf("gateway exit after SIGTERM: %v (want status 0)", g.waitErr)
	}
	log := g.log.String()
	for _, bad := range []string{"panic", "DATA RACE"} {
		if strings.Contains(log, bad) {
			t.Errorf("gateway log contains %q", bad)
		}
	}
}

// crash kills the gateway with SIGKILL, as a power cut or OOM kill would:
// no drain, no clean close of the database.
func (g *gateway) crash(t *testing.T) {
	t.Helper()
	g.waited.Store(true)
	if err := g.cmd.Process.Kill(); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	<-g.exited
}

// stop terminates the gateway unless that was done already and waits for
// a clean exit, unless a test did so itself. Later calls do nothing.
func (g *gateway) stop(t *testing.T) {
	t.Helper()
	g.stopOnce.Do(func() {
		if g.waited.Load() {
			return // a test already waited and checked the exit
		}
		if !g.signalled.Load() {
			g.terminate(t)
		}
		g.waitExit(t, 20*time.Second)
	})
}

// dumpLog shows the end of the gateway log in the test output and keeps the
// whole log in a file that outlives the test's temp dir.
func (g *gateway) dumpLog(t *testing.T) {
	t.Helper()
	log := g.log.String()
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	path := filepath.Join(os.TempDir(), "switchboard-e2e-"+name+".log")
	if err := os.WriteFile(path, []byte(log), 0o644); err == nil {
		t.Logf("full gateway log: %s", path)
	}
	t.Logf("gateway log (tail):\n%s", tail(log, 150))
}

// logLines returns the gateway log lines that contain every one of subs.
func (g *gateway) logLines(subs ...string) []string {
	var out []string
	for _, line := range strings.Split(g.log.String(), "\n") {
		match := true
		for _, s := range subs {
			if !strings.Contains(line, s) {
				match = false
				break
			}
		}
		if match && line != "" {
			out = append(out, line)
		}
	}
	return out
}

// errTimeout is what waitFor reports when its condition never held.
var errTimeout = errors.New("condition not met before the deadline")

// waitFor polls cond every 50 ms until it returns true or within passes.
// It is how tests await a state only observable by asking (an HTTP
// resource, a counter): a bounded loop with a short interval.
func waitFor(ctx context.Context, within time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return errTimeout
		case <-tick.C:
		}
	}
}
