package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"switchboard/media"
)

// numberSettingsPath is the API path of the default test number's settings.
const numberSettingsPath = "/api/numbers/%2B15550100"

// numberView mirrors GET /api/numbers/{number}.
type numberView struct {
	Number   string          `json:"number"`
	Owner    string          `json:"owner"`
	Settings json.RawMessage `json:"settings"`
}

// setting returns one top-level key of the settings as JSON text.
func (v numberView) setting(t *testing.T, key string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v.Settings, &m); err != nil {
		t.Fatalf("settings are not a JSON object: %s", v.Settings)
	}
	return string(m[key])
}

func (g *gateway) numberSettings(t *testing.T) numberView {
	t.Helper()
	res := g.api(t, http.MethodGet, numberSettingsPath, nil, nil)
	var v numberView
	if res.Status != http.StatusOK || json.Unmarshal(res.Body, &v) != nil {
		t.Fatalf("GET %s = %d %s", numberSettingsPath, res.Status, res.Body)
	}
	return v
}

// callFinal places one call to our number and returns the final failure
// status it got (0 when it was answered, which the test then treats as wrong).
func callFinal(t *testing.T, g *gateway) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rtp := newRTPPeer(t)
	dlg, err := newGoCaller(t).call(ctx, g.sipAddr, ourNumber, audioSDP(rtp.port(), media.PayloadPCMU))
	if err == nil {
		_ = dlg.Bye(ctx)
		t.Fatal("the call was answered; want it refused as closed")
	}
	return err.Error()
}

// TestNumberSettingsAtRuntime changes a number's routing over the API: a
// refused update changes nothing; an accepted one applies to the next call
// and survives a restart (the store keeps it; the file only seeds).
func TestNumberSettingsAtRuntime(t *testing.T) {
	dataDir := t.TempDir()
	g := startGateway(t, gatewayOptions{DataDir: dataDir})
	before := g.numberSettings(t)
	if before.Owner != "alice" || before.setting(t, "forward_to") != `"+15550199"` {
		t.Fatalf("seeded settings = %+v", before)
	}

	// A forward to ourselves would loop: refused, naming the field, nothing saved.
	res := g.api(t, http.MethodPut, numberSettingsPath, []byte(`{"trunk": "carrier", "owner": "alice", "forward_to": "+15550100", "working_hours": {"timezone": "Mars/Olympus"}}`), nil)
	var bad struct {
		Problems []struct{ Field, Message string }
	}
	if res.Status != http.StatusBadRequest || json.Unmarshal(res.Body, &bad) != nil {
		t.Fatalf("looping update = %d %s, want 400", res.Status, res.Body)
	}
	fields := map[string]string{}
	for _, p := range bad.Problems {
		fields[p.Field] = p.Message
	}
	if !strings.Contains(fields["forward_to"], "loop") || !strings.Contains(fields["working_hours.timezone"], "IANA") {
		t.Fatalf("problems = %+v, want forward_to (loop) and working_hours.timezone named", bad.Problems)
	}
	if after := g.numberSettings(t); after.setting(t, "forward_to") != `"+15550199"` || after.setting(t, "working_hours") != "" {
		t.Fatalf("a refused update changed the settings: %s", after.Settings)
	}

	// Closed today and tomorrow (UTC), hanging up after hours.
	today := time.Now().UTC()
	closed := fmt.Sprintf(`{"trunk": "carrier", "owner": "alice", "ringing": "forward", "forward_to": "+15550199",
		"working_hours": {"timezone": "UTC", "closed_dates": [%q, %q]}, "after_hours": "hangup"}`,
		today.Format("2006-01-02"), today.Add(24*time.Hour).Format("2006-01-02"))
	if res := g.api(t, http.MethodPut, numberSettingsPath, []byte(closed), nil); res.Status != http.StatusOK {
		t.Fatalf("update = %d %s", res.Status, res.Body)
	}
	if got := callFinal(t, g); !strings.Contains(got, "480") {
		t.Fatalf("call after the update: %s, want 480 (closed)", got)
	}
	rec := g.waitEndedCall(t, 15*time.Second)
	var route struct {
		Route []string `json:"route"`
	}
	g.getJSON(t, "/api/calls/"+rec.ID, &route)
	if joined := strings.Join(route.Route, "\n"); !strings.Contains(joined, "closed date") || !strings.Contains(joined, "hangup") {
		t.Fatalf("route = %q, want the closed date and the hangup", route.Route)
	}

	// Restart on the same data: the change is still in effect.
	g.stop(t)
	g = startGateway(t, gatewayOptions{DataDir: dataDir})
	if after := g.numberSettings(t); after.setting(t, "after_hours") != `"hangup"` {
		t.Fatalf("after a restart the settings are %s, want the update", after.Settings)
	}
	if got := callFinal(t, g); !strings.Contains(got, "480") {
		t.Fatalf("call after the restart: %s, want 480 (closed)", got)
	}
}
