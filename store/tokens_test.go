package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"os"
	"testing"
	"time"
)

var tokenEpoch = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func TestIssueAndLookupToken(t *testing.T) {
	s, _ := openTemp(t)
	// A store that never issued a token has no bucket yet; lookups must
	// simply fail.
	if u, ok := s.LookupToken("anything", tokenEpoch); ok {
		t.Fatalf("LookupToken on an empty store = %q, true", u)
	}
	tok, rec, err := s.IssueToken("alice", time.Hour, tokenEpoch.In(time.FixedZone("CET", 3600)))
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) != 32 {
		t.Fatalf("token %q is not 32 bytes of unpadded base64url (%d bytes, %v)", tok, len(raw), err)
	}
	want := IssuedToken{User: "alice", CreatedAt: tokenEpoch, ExpiresAt: tokenEpoch.Add(time.Hour)}
	if rec != want || rec.CreatedAt.Location() != time.UTC {
		t.Errorf("record = %+v, want %+v in UTC", rec, want)
	}
	tok2, _, err := s.IssueToken("alice", time.Hour, tokenEpoch)
	if err != nil {
		t.Fatal(err)
	}
	if tok2 == tok {
		t.Fatal("two issued tokens are equal")
	}

	tests := []struct {
		name     string
		token    string
		at       time.Time
		wantUser string
		wantOK   bool
	}{
		{"fresh", tok, tokenEpoch, "alice", true},
		{"second token", tok2, tokenEpoch.Add(30 * time.Minute), "alice", true},
		{"last instant", tok, tokenEpoch.Add(time.Hour - time.Nanosecond), "alice", true},
		{"at expiry", tok, tokenEpoch.Add(time.Hour), "", false},
		{"long after", tok, tokenEpoch.Add(48 * time.Hour), "", false},
		{"unknown", "not-a-token", tokenEpoch, "", false},
		{"empty", "", tokenEpoch, "", false},
		{"prefix", tok[:len(tok)-1], tokenEpoch, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, ok := s.LookupToken(tt.token, tt.at)
			if u != tt.wantUser || ok != tt.wantOK {
				t.Errorf("LookupToken = %q, %v; want %q, %v", u, ok, tt.wantUser, tt.wantOK)
			}
		})
	}
}

func TestIssueTokenRejectsBadArguments(t *testing.T) {
	s, _ := openTemp(t)
	for _, tc := range []struct {
		name string
		user string
		ttl  time.Duration
	}{
		{"empty user", "", time.Hour},
		{"zero ttl", "alice", 0},
		{"negative ttl", "alice", -time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, _, err := s.IssueToken(tc.user, tc.ttl, tokenEpoch)
			if !errors.Is(err, ErrInvalid) || tok != "" {
				t.Errorf("IssueToken = %q, %v; want ErrInvalid and no token", tok, err)
			}
		})
	}
	if _, err := s.RevokeTokens(""); !errors.Is(err, ErrInvalid) {
		t.Errorf("RevokeTokens(\"\") = %v, want ErrInvalid", err)
	}
}

func TestRevokeTokens(t *testing.T) {
	s, _ := openTemp(t)
	if n, err := s.RevokeTokens("alice"); err != nil || n != 0 {
		t.Fatalf("RevokeTokens before any issue = %d, %v; want 0, nil", n, err)
	}
	var alice []string
	for range 3 {
		tok, _, err := s.IssueToken("alice", time.Hour, tokenEpoch)
		if err != nil {
			t.Fatal(err)
		}
		alice = append(alice, tok)
	}
	bob, _, err := s.IssueToken("bob", time.Hour, tokenEpoch)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.RevokeTokens("alice")
	if err != nil || n != 3 {
		t.Fatalf("RevokeTokens(alice) = %d, %v; want 3, nil", n, err)
	}
	for _, tok := range alice {
		if _, ok := s.LookupToken(tok, tokenEpoch); ok {
			t.Error("a revoked token still signs in")
		}
	}
	if u, ok := s.LookupToken(bob, tokenEpoch); !ok || u != "bob" {
		t.Errorf("bob's token after revoking alice's = %q, %v; want bob, true", u, ok)
	}
	if n, err := s.RevokeTokens("alice"); err != nil || n != 0 {
		t.Errorf("second RevokeTokens(alice) = %d, %v; want 0, nil", n, err)
	}
}

func TestIssueTokenDropsExpiredTokens(t *testing.T) {
	s, _ := openTemp(t)
	if _, _, err := s.IssueToken("alice", time.Minute, tokenEpoch); err != nil {
		t.Fatal(err)
	}
	// Issuing after the first one expired removes it, which RevokeTokens'
	// count (it counts every stored token of the user) makes visible.
	if _, _, err := s.IssueToken("alice", time.Hour, tokenEpoch.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.RevokeTokens("alice"); err != nil || n != 1 {
		t.Errorf("RevokeTokens = %d, %v; want 1 (the expired token dropped), nil", n, err)
	}
}

func TestTokenNotStoredInClear(t *testing.T) {
	s, path := openTemp(t)
	tok, _, err := s.IssueToken("alice", time.Hour, tokenEpoch)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	if bytes.Contains(data, []byte(tok)) || bytes.Contains(data, raw) {
		t.Error("the database file contains the token in clear")
	}
	// The digest must be there, or the scan above proves nothing.
	sum := sha256.Sum256([]byte(tok))
	if !bytes.Contains(data, sum[:]) {
		t.Error("the database file does not contain the token's SHA-256 digest")
	}

	// And the digest is enough to sign in after a reopen.
	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if u, ok := s2.LookupToken(tok, tokenEpoch); !ok || u != "alice" {
		t.Errorf("LookupToken after reopen = %q, %v; want alice, true", u, ok)
	}
}

func TestTokensOnClosedStore(t *testing.T) {
	s, _ := openTemp(t)
	tok, _, err := s.IssueToken("alice", time.Hour, tokenEpoch)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.IssueToken("alice", time.Hour, tokenEpoch); !errors.Is(err, ErrClosed) {
		t.Errorf("IssueToken after Close = %v, want ErrClosed", err)
	}
	if _, ok := s.LookupToken(tok, tokenEpoch); ok {
		t.Error("LookupToken after Close succeeded")
	}
	if _, err := s.RevokeTokens("alice"); !errors.Is(err, ErrClosed) {
		t.Errorf("RevokeTokens after Close = %v, want ErrClosed", err)
	}
}
