package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBadConfigExitStatus: a configuration the operator must fix stops the
// gateway at once with exit status 2 and a message naming the key.
func TestBadConfigExitStatus(t *testing.T) {
	const good = `sip: { listen: "127.0.0.1:5999" }
rtp: { address: "127.0.0.1", ports: "30000-30099", timeout: 30s }
http: { listen: "127.0.0.1:5998" }
data_dir: "DATA"
trunks:
  - name: carrier
    inbound: { allow: ["127.0.0.1/32"] }
    outbound: { proxy: "sip:127.0.0.1:5997" }
numbers:
  - { number: "+15550100", trunk: carrier, ringing: forward, forward_to: "+15550199" }
`
	tests := []struct {
		name     string
		from, to string // edit of the good file
		wantKey  string // must appear in stderr
	}{
		{"unknown key", `sip: { listen`, `sip: { colour: red, listen`, "colour"},
		{"bad allow entry", `"127.0.0.1/32"`, `"127.0.0.300/32"`, "trunks[0].inbound.allow"},
		{"rtp timeout too short", `timeout: 30s`, `timeout: 100ms`, "rtp.timeout"},
		{"number on a missing trunk", `trunk: carrier,`, `trunk: nosuch,`, "numbers[0].trunk"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if !strings.Contains(good, tc.from) {
				t.Fatalf("the good config has no %q", tc.from)
			}
			cfg := strings.Replace(good, tc.from, tc.to, 1)
			cfg = strings.Replace(cfg, "DATA", filepath.Join(dir, "data"), 1)
			path := filepath.Join(dir, "bad.yaml")
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, gatewayBin, "-config", path).CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("exit: %v, want status 2; output:\n%s", err, out)
			}
			if !strings.Contains(string(out), tc.wantKey) || !strings.Contains(string(out), "bad.yaml:") {
				t.Errorf("output does not name %q at a line of bad.yaml:\n%s", tc.wantKey, out)
			}
		})
	}
}
