package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sippOptions describes one SIPp instance. SIPp runs in its own temp dir (its
// trace files land there) with its own SIP, media and control ports.
type sippOptions struct {
	// Scenario is a file in testdata/, or "builtin:NAME" for one of SIPp's
	// embedded scenarios (dumped with sipp -sd NAME).
	Scenario string
	// Replace substitutes strings in the scenario file before SIPp reads it.
	Replace map[string]string
	// Remote is host:port to call (UAC); empty for a UAS.
	Remote string
	// LocalIP is -i (default 127.0.0.1).
	LocalIP string
	// Service is -s: the Request-URI user, i.e. the dialled number.
	Service string
	// RTPEcho turns on -rtp_echo (the UAS sends every RTP packet back).
	RTPEcho bool
	// Timeout is SIPp's global -timeout (default 30s); reaching it is an error.
	Timeout time.Duration
}

// sipp is one running SIPp process.
type sipp struct {
	name      string
	dir       string
	sipPort   int
	mediaPort int
	cmd       *exec.Cmd
	out       *syncBuffer
	exited    chan struct{}
	waitErr   error
}

// startSIPp starts SIPp for exactly one call (-m 1). A UAS is started before
// anything calls it, and startSIPp returns once its SIP socket is bound.
func startSIPp(t *testing.T, name string, o sippOptions) *sipp {
	t.Helper()
	requireTools(t, "sipp")
	if o.LocalIP == "" {
		o.LocalIP = "127.0.0.1"
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	p := &sipp{
		name:      name,
		dir:       t.TempDir(),
		sipPort:   freePort(t),
		mediaPort: freePorts(t, 4), // RTP, RTCP, and the +2 pair SIPp binds for video
		out:       &syncBuffer{},
		exited:    make(chan struct{}),
	}
	// uac_pcap plays pcap/*.pcap relative to the working directory.
	if err := os.Symlink("/usr/share/sip-tester", filepath.Join(p.dir, "pcap")); err != nil {
		t.Fatal(err)
	}
	scenario := writeScenario(t, p.dir, o.Scenario, o.Replace)
	args := []string{
		"-sf", scenario,
		"-i", o.LocalIP,
		"-p", strconv.Itoa(p.sipPort),
		"-mp", strconv.Itoa(p.mediaPort),
		"-cp", strconv.Itoa(freePort(t)),
		"-m", "1",
		"-timeout", fmt.Sprintf("%ds", int(o.Timeout.Seconds())),
		"-timeout_error",
		"-nostdin",
		"-trace_err",
		"-trace_msg",
	}
	if o.Service != "" {
		args = append(args, "-s", o.Service)
	}
	if o.RTPEcho {
		args = append(args, "-rtp_echo")
	}
	if o.Remote != "" {
		args = append([]string{o.Remote}, args...)
	}
	p.cmd = exec.Command("sipp", args...)
	p.cmd.Dir = p.dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting sipp %s: %v", name, err)
	}
	t.Logf("sipp %s: sipp %s", name, strings.Join(args, " "))
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			p.dump(t)
		}
	})
	if o.Remote == "" {
		p.waitBound(t)
	}
	return p
}

// writeScenario puts the scenario into dir and returns its file name.
func writeScenario(t *testing.T, dir, scenario string, replace map[string]string) string {
	t.Helper()
	var data []byte
	var err error
	name := scenario
	if builtin, ok := strings.CutPrefix(scenario, "builtin:"); ok {
		name = builtin + ".xml"
		// sipp -sd prints the scenario and exits with 99 ("no calls").
		data, _ = exec.Command("sipp", "-sd", builtin).Output()
		if !bytes.Contains(data, []byte("<scenario")) {
			err = fmt.Errorf("sipp -sd %s printed no scenario", builtin)
		}
	} else {
		data, err = os.ReadFile(filepath.Join("testdata", scenario))
	}
	if err != nil {
		t.Fatalf("scenario %s: %v", scenario, err)
	}
	text := string(data)
	for from, to := range replace {
		if !strings.Contains(text, from) {
			t.Fatalf("scenario %s has no %q to replace", scenario, from)
		}
		text = strings.ReplaceAll(text, from, to)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

// waitBound waits until SIPp's SIP socket shows up in /proc/net/udp: only
// then may the gateway send it an INVITE.
func (p *sipp) waitBound(t *testing.T) {
	t.Helper()
	err := waitFor(context.Background(), 10*time.Second, func() bool {
		select {
		case <-p.exited:
			return true
		default:
		}
		return udpPortBound(p.sipPort)
	})
	select {
	case <-p.exited:
		t.Fatalf("sipp %s exited at start-up: %v\n%s", p.name, p.waitErr, tail(p.out.String(), 30))
	default:
	}
	if err != nil {
		t.Fatalf("sipp %s did not bind UDP port %d", p.name, p.sipPort)
	}
}

// udpPortBound reports whether any socket is bound to UDP port on this host.
func udpPortBound(port int) bool {
	want := fmt.Sprintf(":%04X ", port)
	for _, f := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			// "  sl  local_address rem_address ..." : local_address is field 2.
			fields := strings.Fields(sc.Text())
			if len(fields) > 1 && strings.HasSuffix(fields[1]+" ", want) {
				fh.Close()
				return true
			}
		}
		fh.Close()
	}
	return false
}

// wait waits for SIPp to exit and returns its exit status (0: every call
// succeeded). SIPp's own -timeout normally ends it first; within is a
// backstop after which it is killed and the test fails.
func (p *sipp) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(within):
		_ = p.cmd.Process.Kill()
		<-p.exited
		t.Fatalf("sipp %s still running after %s; killed", p.name, within)
	}
	if p.waitErr == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(p.waitErr, &ee) {
		return ee.ExitCode()
	}
	t.Fatalf("sipp %s: %v", p.name, p.waitErr)
	return -1
}

// messages returns SIPp's -trace_msg log: every SIP message it sent and got.
func (p *sipp) messages() string {
	files, _ := filepath.Glob(filepath.Join(p.dir, "*_messages.log"))
	var b strings.Builder
	for _, f := range files {
		data, _ := os.ReadFile(f)
		b.Write(data)
	}
	return b.String()
}

// dump shows SIPp's screen, errors and message trace in the test log.
func (p *sipp) dump(t *testing.T) {
	t.Helper()
	t.Logf("sipp %s screen:\n%s", p.name, tail(p.out.String(), 40))
	if files, _ := filepath.Glob(filepath.Join(p.dir, "*_errors.log")); len(files) > 0 {
		for _, f := range files {
			data, _ := os.ReadFile(f)
			t.Logf("sipp %s errors:\n%s", p.name, tail(string(data), 30))
		}
	}
	t.Logf("sipp %s messages:\n%s", p.name, tail(p.messages(), 150))
}

// expectSuccess waits for p and reports an error unless it exited with 0.
func (p *sipp) expectSuccess(t *testing.T, within time.Duration) {
	t.Helper()
	if code := p.wait(t, within); code != 0 {
		t.Errorf("sipp %s exited with %d, want 0 (every step of its scenario done)", p.name, code)
	}
}
