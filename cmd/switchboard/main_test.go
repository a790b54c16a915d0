package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "switchboard-cmd")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "switchboard")
	if out, err := exec.Command("go", "build", "-race", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) int {
	t.Helper()
	// SIP wants the same port free on UDP and TCP.
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "switchboard.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func validConfig(t *testing.T, dataDir string) (cfg string, httpAddr string) {
	sipPort, httpPort := freePort(t), freePort(t)
	httpAddr = fmt.Sprintf("127.0.0.1:%d", httpPort)
	return fmt.Sprintf(`sip: { listen: "127.0.0.1:%d" }
rtp: { address: "127.0.0.1", ports: "41000-41099" }
http: { listen: "%s" }
data_dir: %q
drain_timeout: 2s
trunks:
  - name: carrier
    inbound: { allow: ["127.0.0.1/32"] }
    outbound: { proxy: "sip:127.0.0.1:5999" }
users:
  - { id: alice, token: "alice-secret" }
numbers:
  - { number: "+15550100", trunk: carrier, forward_to: "+15550199" }
`, sipPort, httpAddr, dataDir), httpAddr
}

// TestConfigErrorsExit2 checks that a bad configuration stops the start with
// exit status 2 and a message naming the file, line and key.
func TestConfigErrorsExit2(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"bad forward target", "numbers:\n  - { number: \"+15550100\", trunk: carrier, forward_to: \"abc\" }\ntrunks:\n  - name: carrier\n    outbound: { proxy: \"sip:127.0.0.1\" }\n",
			[]string{`:2: numbers[0].forward_to: "abc" is not a phone number`}},
		{"unknown key", "sip:\n  lisen: \"127.0.0.1:5060\"\n", []string{":2: sip.lisen: unknown key"}},
		{"bad port range", "rtp:\n  ports: \"20001-20999\"\n", []string{":2: rtp.ports"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.body)
			cmd := exec.Command(binary, "-config", path)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("exit = %v, want status 2; stderr:\n%s", err, stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), filepath.Base(path)+w) {
					t.Errorf("stderr does not name %q:\n%s", w, stderr.String())
				}
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		cmd := exec.Command(binary, "-config", filepath.Join(t.TempDir(), "nope.yaml"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), "nope.yaml") {
			t.Fatalf("exit = %v; stderr:\n%s", err, stderr.String())
		}
	})
}

// TestStartAndDrain starts the gateway, waits until /healthz is green, sends
// SIGTERM and expects a clean exit 0 with the database on disk.
func TestStartAndDrain(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	cfg, httpAddr := validConfig(t, dataDir)
	path := writeConfig(t, cfg)
	cmd := exec.Command(binary, "-config", path)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	healthy := false
	for !healthy {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+httpAddr+"/healthz", nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			healthy = res.StatusCode == http.StatusOK
		}
		select {
		case err := <-done:
			t.Fatalf("gateway exited early: %v\n%s", err, logs.String())
		case <-ctx.Done():
			cmd.Process.Kill()
			t.Fatalf("/healthz never became 200\n%s", logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	// The call log wants a user's token; health stays open.
	for _, tc := range []struct {
		path, token string
		status      int
	}{
		{"/api/calls", "", http.StatusUnauthorized},
		{"/api/calls", "wrong", http.StatusUnauthorized},
		{"/api/calls", "alice-secret", http.StatusOK},
		{"/", "", http.StatusOK},
	} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+httpAddr+tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.status {
			t.Errorf("GET %s with token %q = %d, want %d", tc.path, tc.token, res.StatusCode, tc.status)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM = %v\n%s", err, logs.String())
		}
	case <-ctx.Done():
		cmd.Process.Kill()
		t.Fatalf("gateway did not stop after SIGTERM\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "stopped cleanly") {
		t.Errorf("no clean-stop log line:\n%s", logs.String())
	}
	if _, err := os.Stat(filepath.Join(dataDir, "switchboard.db")); err != nil {
		t.Errorf("database not created under data_dir: %v", err)
	}
}

// TestRuntimeFailureExit1: a listen address already taken is a runtime
// failure (exit 1), not a configuration error.
func TestRuntimeFailureExit1(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	cfg, httpAddr := validConfig(t, dataDir)
	l, err := net.Listen("tcp", httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cmd := exec.Command(binary, "-config", writeConfig(t, cfg))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "http.listen") {
		t.Fatalf("exit = %v, want status 1 naming http.listen; stderr:\n%s", err, stderr.String())
	}
}

// startGateway runs the binary on cfg until the test ends and returns once
// /healthz answers 200.
func startGateway(t *testing.T, cfg, httpAddr string) {
	t.Helper()
	cmd := exec.Command(binary, "-config", writeConfig(t, cfg))
	var logs syncBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.After(20 * time.Second)
	for {
		res, err := http.Get("http://" + httpAddr + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-done:
			t.Fatalf("gateway exited early: %v\n%s", err, logs.String())
		case <-deadline:
			t.Fatalf("/healthz never became 200\n%s", logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine of exec.Cmd
// and the test reading it.
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

// TestIssuedTokenOpensAPI issues a token over HTTP with http.admin_token and
// uses it on /api/calls, then revokes it.
func TestIssuedTokenOpensAPI(t *testing.T) {
	const admin = "admin-secret-0123456789"
	cfg, httpAddr := validConfig(t, filepath.Join(t.TempDir(), "data"))
	cfg = strings.Replace(cfg, `http: { listen: "`+httpAddr+`" }`, `http: { listen: "`+httpAddr+`", admin_token: "`+admin+`" }`, 1)
	if !strings.Contains(cfg, admin) {
		t.Fatal("admin_token not placed in the configuration")
	}
	startGateway(t, cfg, httpAddr)
	base := "http://" + httpAddr

	call := func(method, path, token, body string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out bytes.Buffer
		if _, err := out.ReadFrom(res.Body); err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, out.Bytes()
	}

	if code, body := call(http.MethodPost, "/api/users/alice/tokens", "alice-secret", ""); code != http.StatusUnauthorized {
		t.Errorf("issue with a user token = %d %s, want 401", code, body)
	}
	if code, body := call(http.MethodPost, "/api/users/nobody/tokens", admin, ""); code != http.StatusNotFound {
		t.Errorf("issue for an unknown user = %d %s, want 404", code, body)
	}
	code, body := call(http.MethodPost, "/api/users/alice/tokens", admin, `{"ttl":"1h"}`)
	if code != http.StatusCreated {
		t.Fatalf("issue = %d %s, want 201", code, body)
	}
	var issued struct {
		Token     string    `json:"token"`
		User      string    `json:"user"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal(body, &issued); err != nil || issued.Token == "" || issued.User != "alice" {
		t.Fatalf("issue reply %s (%v)", body, err)
	}
	if left := time.Until(issued.ExpiresAt); left <= 0 || left > time.Hour {
		t.Errorf("token expires in %s, want within the hour asked for", left)
	}
	for _, tc := range []struct {
		token  string
		status int
	}{
		{issued.Token, http.StatusOK},
		{"alice-secret", http.StatusOK},
		{issued.Token + "x", http.StatusUnauthorized},
		{admin, http.StatusUnauthorized}, // the admin token is not a user's
	} {
		if code, body := call(http.MethodGet, "/api/calls", tc.token, ""); code != tc.status {
			t.Errorf("GET /api/calls with %q = %d %s, want %d", tc.token, code, body, tc.status)
		}
	}
	if code, body := call(http.MethodDelete, "/api/users/alice/tokens", admin, ""); code != http.StatusOK || !bytes.Contains(body, []byte(`"revoked": 1`)) {
		t.Errorf("revoke = %d %s, want 200 revoked 1", code, body)
	}
	if code, _ := call(http.MethodGet, "/api/calls", issued.Token, ""); code != http.StatusUnauthorized {
		t.Errorf("GET /api/calls with a revoked token = %d, want 401", code)
	}
}
