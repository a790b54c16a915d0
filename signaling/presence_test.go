package signaling

import "testing"

func TestPresenceReasons(t *testing.T) {
	r := newRig(t, nil)
	if ok, why := r.srv.Presence("alice"); ok || why != "no tab open" {
		t.Fatalf("before sign-in: %v, %q; want false, \"no tab open\"", ok, why)
	}
	tab := r.signIn(t, "tok-alice")
	if ok, why := r.srv.Presence("alice"); ok || why != "away" {
		t.Fatalf("signed in (a first tab starts away): %v, %q; want false, \"away\"", ok, why)
	}
	tab.request(map[string]any{"type": "presence", "status": "available"}, "ok")
	tab.expect("presence")
	if ok, why := r.srv.Presence("alice"); !ok || why != "" {
		t.Fatalf("available: %v, %q; want true", ok, why)
	}
}
