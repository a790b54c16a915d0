package api

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"time"
)

// Playback links let an <audio> element fetch a call recording. The element
// cannot send an Authorization header, and the user's bearer token must not
// appear in a URL (it would end up in logs and history), so the API hands
// out a link of its own instead: scoped to one call's audio, valid for
// playLinkTTL, signed with HMAC-SHA256 (RFC 2104) under a key that lives
// only in this process. A restart makes every link invalid, which only
// means the page asks for a new one.

// playLinkTTL is how long a playback link stays valid.
const playLinkTTL = 15 * time.Minute

// playLinkKeyBytes is the size of the signing key: as long as SHA-256's
// output, as RFC 2104 §3 recommends.
const playLinkKeyBytes = 32

// Why a playback link was refused.
var (
	errLinkInvalid = errors.New("the playback link is not valid for this recording")
	errLinkExpired = errors.New("the playback link has expired")
)

// playLinks signs and checks playback links.
type playLinks struct {
	key []byte
	// now is the clock; tests replace it to expire links.
	now func() time.Time
}

// newPlayLinks makes a signer with a fresh random key.
func newPlayLinks() *playLinks {
	key := make([]byte, playLinkKeyBytes)
	// crypto/rand.Read never fails: it crashes the program when the
	// system's random source is broken.
	_, _ = rand.Read(key)
	return &playLinks{key: key, now: time.Now}
}

// hasPlayLink reports whether the query carries a playback link (or part
// of one): then the link alone decides, whatever else the request sends.
func hasPlayLink(q url.Values) bool { return q.Has("sig") || q.Has("expires") }

// mac is the signature of the link to callID's audio valid until expires
// (Unix seconds). A newline, which no call id contains, separates the two
// so that no other (id, expires) pair signs the same bytes.
func (l *playLinks) mac(callID string, expires int64) []byte {
	m := hmac.New(sha256.New, l.key)
	m.Write([]byte(callID))
	m.Write([]byte{'\n'})
	m.Write([]byte(strconv.FormatInt(expires, 10)))
	return m.Sum(nil)
}

// audioURL returns a path (with query) that serves callID's recording audio
// without other credentials until playLinkTTL from now.
func (l *playLinks) audioURL(callID string) string {
	expires := l.now().Add(playLinkTTL).Unix()
	q := url.Values{
		"expires": {strconv.FormatInt(expires, 10)},
		"sig":     {base64.RawURLEncoding.EncodeToString(l.mac(callID, expires))},
	}
	return "/api/calls/" + url.PathEscape(callID) + "/recording/audio?" + q.Encode()
}

// check verifies that q holds a link to callID's audio that has not
// expired. It returns errLinkInvalid for a malformed link, a wrong
// signature or another call's link, and errLinkExpired for a genuine link
// past its time. The signature is checked first, so only a link this
// server made can learn that it expired.
func (l *playLinks) check(callID string, q url.Values) error {
	if len(q["expires"]) != 1 || len(q["sig"]) != 1 {
		return errLinkInvalid
	}
	expires, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	if err != nil {
		return errLinkInvalid
	}
	sig, err := base64.RawURLEncoding.DecodeString(q.Get("sig"))
	if err != nil {
		return errLinkInvalid
	}
	// hmac.Equal takes the same time wherever the first difference is, so
	// a forger learns nothing from how long a refusal took.
	if !hmac.Equal(sig, l.mac(callID, expires)) {
		return errLinkInvalid
	}
	if l.now().Unix() >= expires {
		return errLinkExpired
	}
	return nil
}
