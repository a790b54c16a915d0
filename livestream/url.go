package livestream

import (
	"fmt"
	"net/url"
	"strings"
)

// ParseURL checks a configured stream URL and returns it parsed. It accepts
// only an absolute ws:// or wss:// URL with a host (RFC 6455 §3), without a
// fragment (§3: fragment identifiers are meaningless in a WebSocket URI) and
// without user information (the WebSocket client refuses it; put a token in
// the query instead). Every error wraps ErrConfig and says what is wrong.
func ParseURL(s string) (*url.URL, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: stream URL is empty", ErrConfig)
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%w: stream URL %q: %w", ErrConfig, s, err)
	}
	// url.Parse lower-cases the scheme, so "WSS://" passes too.
	switch u.Scheme {
	case "ws", "wss":
	case "":
		return nil, fmt.Errorf("%w: stream URL %q is not absolute: want ws://host/... or wss://host/...", ErrConfig, s)
	default:
		return nil, fmt.Errorf("%w: stream URL %q has scheme %q, want ws or wss", ErrConfig, s, u.Scheme)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%w: stream URL %q has no host", ErrConfig, s)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: stream URL %q has user information, which WebSocket URIs do not allow", ErrConfig, s)
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return nil, fmt.Errorf("%w: stream URL %q has a fragment, which WebSocket URIs do not allow", ErrConfig, s)
	}
	return u, nil
}

// logURL is u without its query: a query often carries the consumer's
// access token, which must not reach the logs.
func logURL(u *url.URL) string {
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}
