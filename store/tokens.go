package store

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// tokenBytes is how much randomness an issued token carries: 256 bits, so
// guessing one is hopeless and no two tokens collide in practice.
const tokenBytes = 32

// bucketTokens maps SHA-256(token) -> JSON-encoded IssuedToken. Only the
// digest is stored, so a copy of the database file (a backup, a stolen disk)
// does not hand out working sign-in secrets. A plain unsalted hash is enough
// because the tokens are 256-bit random values, not guessable passwords.
var bucketTokens = []byte("tokens")

// IssuedToken is what the store keeps about a sign-in token it issued. The
// token itself is never kept.
type IssuedToken struct {
	// User is the ID of the user the token signs in.
	User string `json:"user"`
	// CreatedAt is when the token was issued (UTC).
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is the first instant the token no longer works (UTC).
	ExpiresAt time.Time `json:"expires_at"`
}

// expired reports whether the token no longer works at now.
func (t *IssuedToken) expired(now time.Time) bool { return !now.Before(t.ExpiresAt) }

// tokenKey is the bucket key of token.
func tokenKey(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// IssueToken creates a new sign-in token for user that works from now until
// now+ttl and returns it (32 random bytes, base64url without padding)
// together with its stored record. The token is shown only here: the store
// keeps its SHA-256 digest. Expired tokens of every user are dropped in the
// same transaction, so the bucket does not grow with dead entries. An empty
// user or a ttl <= 0 yields ErrInvalid.
func (s *Store) IssueToken(user string, ttl time.Duration, now time.Time) (string, IssuedToken, error) {
	if user == "" {
		return "", IssuedToken{}, fmt.Errorf("store: issue token: empty user: %w", ErrInvalid)
	}
	if ttl <= 0 {
		return "", IssuedToken{}, fmt.Errorf("store: issue token for %s: ttl %s is not positive: %w", user, ttl, ErrInvalid)
	}
	if err := s.acquire(); err != nil {
		return "", IssuedToken{}, err
	}
	defer s.mu.RUnlock()

	raw := make([]byte, tokenBytes)
	// crypto/rand.Read never returns an error on supported platforms; it
	// crashes the program instead of handing out a weak token.
	_, _ = rand.Read(raw)
	token := base64.RawURLEncoding.EncodeToString(raw)
	now = now.UTC()
	rec := IssuedToken{User: user, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	val, err := json.Marshal(&rec)
	if err != nil {
		return "", IssuedToken{}, fmt.Errorf("store: issue token for %s: encode: %w", user, err)
	}
	key := tokenKey(token)

	// Batch may run this more than once; it only writes fixed values and
	// deletes entries that are expired either way, so a re-run is harmless.
	err = s.db.Batch(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketTokens)
		if err != nil {
			return fmt.Errorf("create bucket %s: %w", bucketTokens, err)
		}
		if err := deleteTokens(b, func(t *IssuedToken) bool { return t.expired(now) }); err != nil {
			return err
		}
		return b.Put(key, val)
	})
	if err != nil {
		return "", IssuedToken{}, fmt.Errorf("store: issue token for %s: %w", user, err)
	}
	return token, rec, nil
}

// LookupToken returns the user an issued token signs in, if the token is
// known and has not expired at now. It answers false for anything else,
// including a closed store, because callers only ever need a yes or no to
// let someone in. The lookup is by digest, so its timing says nothing about
// how close a guess was to a real token.
func (s *Store) LookupToken(token string, now time.Time) (string, bool) {
	if token == "" {
		return "", false
	}
	if err := s.acquire(); err != nil {
		return "", false
	}
	defer s.mu.RUnlock()
	var rec IssuedToken
	found := false
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		if b == nil {
			return nil // nothing issued yet
		}
		v := b.Get(tokenKey(token))
		if v == nil {
			return nil
		}
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("decode token record: %w", err)
		}
		found = true
		return nil
	})
	if err != nil || !found || rec.User == "" || rec.expired(now) {
		return "", false
	}
	return rec.User, true
}

// RevokeTokens deletes every token issued to user, expired or not, and
// returns how many there were. Tokens already in use elsewhere stop working
// at their next lookup.
func (s *Store) RevokeTokens(user string) (int, error) {
	if user == "" {
		return 0, fmt.Errorf("store: revoke tokens: empty user: %w", ErrInvalid)
	}
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	var n int
	err := s.db.Batch(func(tx *bolt.Tx) error {
		n = 0 // Batch may re-run this function
		b := tx.Bucket(bucketTokens)
		if b == nil {
			return nil
		}
		return deleteTokens(b, func(t *IssuedToken) bool {
			if t.User == user {
				n++
				return true
			}
			return false
		})
	})
	if err != nil {
		return 0, fmt.Errorf("store: revoke tokens of %s: %w", user, err)
	}
	return n, nil
}

// deleteTokens removes every entry of b for which drop is true. Entries
// that do not decode are removed too: they could never sign anyone in.
func deleteTokens(b *bolt.Bucket, drop func(*IssuedToken) bool) error {
	// Keys are collected first because bbolt cursors must not be used
	// across deletes in the same bucket.
	var doomed [][]byte
	err := b.ForEach(func(k, v []byte) error {
		var t IssuedToken
		if json.Unmarshal(v, &t) != nil || drop(&t) {
			doomed = append(doomed, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("scan tokens: %w", err)
	}
	for _, k := range doomed {
		if err := b.Delete(k); err != nil {
			return fmt.Errorf("delete token: %w", err)
		}
	}
	return nil
}
