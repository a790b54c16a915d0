package api

import (
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fixedClock returns a clock reading *at, so a test can move it.
func fixedClock(at *time.Time) func() time.Time { return func() time.Time { return *at } }

// linkQuery splits an audio URL made by audioURL into its path and query.
func linkQuery(t *testing.T, link string) (string, url.Values) {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatalf("audio URL %q: %v", link, err)
	}
	return u.Path, u.Query()
}

func TestPlayLinkShape(t *testing.T) {
	now := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	l := newPlayLinks()
	l.now = fixedClock(&now)
	path, q := linkQuery(t, l.audioURL("18e9fdf74e6da1d45f49643a"))
	if path != "/api/calls/18e9fdf74e6da1d45f49643a/recording/audio" {
		t.Errorf("path %q", path)
	}
	if got, want := q.Get("expires"), strconv.FormatInt(now.Add(15*time.Minute).Unix(), 10); got != want {
		t.Errorf("expires %q, want %q (15 minutes on)", got, want)
	}
	sig, err := base64.RawURLEncoding.DecodeString(q.Get("sig"))
	if err != nil || len(sig) != 32 {
		t.Errorf("sig %q is not 32 bytes of unpadded base64url (HMAC-SHA256): %v", q.Get("sig"), err)
	}
	if len(q) != 2 {
		t.Errorf("query %v, want only expires and sig", q)
	}
	if len(l.key) != 32 {
		t.Errorf("key of %d bytes, want 32", len(l.key))
	}
	if other := newPlayLinks(); string(other.key) == string(l.key) {
		t.Errorf("two signers share a key")
	}
}

func TestPlayLinkCheck(t *testing.T) {
	const id, otherID = "18e9fdf74e6da1d45f49643a", "18e9fdf74e6da1d45f49643b"
	issued := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	now := issued
	l := newPlayLinks()
	l.now = fixedClock(&now)
	_, good := linkQuery(t, l.audioURL(id))
	stranger := newPlayLinks() // another process: another key
	stranger.now = l.now
	_, foreign := linkQuery(t, stranger.audioURL(id))

	// with returns good with key set to v (deleted when v is "").
	with := func(key, v string) url.Values {
		q := url.Values{}
		for k, vs := range good {
			q[k] = append([]string(nil), vs...)
		}
		if v == "" {
			q.Del(key)
		} else {
			q.Set(key, v)
		}
		return q
	}
	sig := good.Get("sig")
	// One character changed inside the signature (not the last, whose low
	// bits are padding a lenient decoder ignores).
	flipped := []byte(sig)
	if flipped[3] == 'A' {
		flipped[3] = 'B'
	} else {
		flipped[3] = 'A'
	}
	expires, _ := strconv.ParseInt(good.Get("expires"), 10, 64)
	twice := with("sig", sig)
	twice.Add("sig", sig)

	for _, tc := range []struct {
		name string
		id   string
		q    url.Values
		at   time.Time
		want error
	}{
		{"just issued", id, good, issued, nil},
		{"a second before expiry", id, good, issued.Add(15*time.Minute - time.Second), nil},
		{"at expiry", id, good, issued.Add(15 * time.Minute), errLinkExpired},
		{"long expired", id, good, issued.Add(24 * time.Hour), errLinkExpired},
		{"another call", otherID, good, issued, errLinkInvalid},
		{"tampered sig", id, with("sig", string(flipped)), issued, errLinkInvalid},
		{"truncated sig", id, with("sig", sig[:len(sig)-2]), issued, errLinkInvalid},
		{"sig not base64url", id, with("sig", sig[:10]+"+/"+sig[12:]), issued, errLinkInvalid},
		{"extended expiry", id, with("expires", strconv.FormatInt(expires+3600, 10)), issued, errLinkInvalid},
		{"expired link pushed on", id, with("expires", strconv.FormatInt(expires+3600, 10)), issued.Add(time.Hour), errLinkInvalid},
		{"expires not a number", id, with("expires", "soon"), issued, errLinkInvalid},
		{"no sig", id, with("sig", ""), issued, errLinkInvalid},
		{"no expires", id, with("expires", ""), issued, errLinkInvalid},
		{"two sigs", id, twice, issued, errLinkInvalid},
		{"another server's link", id, foreign, issued, errLinkInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now = tc.at
			if err := l.check(tc.id, tc.q); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("check(%s, %v) at +%s = %v, want %v", tc.id, tc.q, tc.at.Sub(issued), err, tc.want)
			}
		})
	}
}

// TestPlayLinkIDsCannotShiftIntoExpiry: a call id ending in digits and a
// shorter id whose missing digits move into expires sign different bytes.
func TestPlayLinkIDsCannotShiftIntoExpiry(t *testing.T) {
	now := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	l := newPlayLinks()
	l.now = fixedClock(&now)
	_, q := linkQuery(t, l.audioURL("call-1"))
	shifted := url.Values{"sig": q["sig"], "expires": {"1" + q.Get("expires")}}
	if err := l.check("call-", shifted); !errors.Is(err, errLinkInvalid) {
		t.Errorf("call-1's link, its id's last digit moved into expires, checks as %v for call-, want errLinkInvalid", err)
	}
}

func TestHasPlayLink(t *testing.T) {
	for q, want := range map[string]bool{
		"":                     false,
		"download=1":           false,
		"sig=abc":              true,
		"expires=1":            true,
		"expires=1&sig=abc":    true,
		"expires=&sig=":        true,
		"Sig=abc&EXPIRES=1234": false, // query keys are case-sensitive
	} {
		v, err := url.ParseQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		if got := hasPlayLink(v); got != want {
			t.Errorf("hasPlayLink(%q) = %t, want %t", q, got, want)
		}
	}
	if strings.Contains(newPlayLinks().audioURL("a.b_c-1"), "%") {
		t.Errorf("a call id of the store's alphabet was escaped")
	}
}
