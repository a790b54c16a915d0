package phone

import (
	"net/url"
	"strings"
)

// Candidates returns the E.164 numbers that the user part of a SIP
// Request-URI (or a tel: URI) may denote, most likely first and without
// duplicates, for matching a dialled number against the numbers we own.
// Trunks disagree on how to send +15550100: "+15550100", "15550100",
// "0015550100", "01115550100" or national "5550100" all occur. Unreadable
// input yields nil; Candidates never panics.
func Candidates(raw, defaultRegion string) []string {
	// RFC 3261 §19.1.2: a user part may be percent-escaped ("%2B1555...").
	if strings.IndexByte(raw, '%') >= 0 {
		if u, err := url.PathUnescape(raw); err == nil {
			raw = u
		}
	}
	n, err := split(raw)
	if err != nil || n.digits == "" {
		return nil
	}
	var out []string
	add := func(e string) {
		if !isE164(e) {
			return
		}
		for _, have := range out {
			if have == e {
				return
			}
		}
		out = append(out, e)
	}
	if n.plus {
		// A global number means exactly what it says (RFC 3966 §5.1.4).
		if e, err := Normalize("+"+n.digits, defaultRegion); err == nil {
			add(e)
		}
		return out
	}
	// RFC 3966 §5.1.5: a local number whose phone-context is a global number
	// prefix ("+1", "+1-555") is that prefix followed by the local digits.
	if ctx, ok := strings.CutPrefix(n.context, "+"); ok {
		if c, err := split("+" + ctx); err == nil && c.digits != "" {
			add("+" + c.digits + n.digits)
		}
	}
	// The trunk's national or IDD-prefixed form, read in our region.
	if e, err := Normalize(n.digits, defaultRegion); err == nil {
		add(e)
	}
	// Many trunks send E.164 without the "+".
	add("+" + n.digits)
	return out
}

// isE164 reports whether s is "+" followed by 3..15 digits, the first not 0
// (ITU-T E.164 §6: country codes start with 1-9).
func isE164(s string) bool {
	d, ok := strings.CutPrefix(s, "+")
	if !ok || len(d) < minDigits || len(d) > maxDigits || d[0] == '0' {
		return false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
	}
	return true
}
