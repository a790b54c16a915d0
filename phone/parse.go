package phone

import (
	"errors"
	"fmt"
	"strings"
)

// number is a phone number string taken apart: whether it had a leading
// "+", its digits, and its RFC 3966 phone-context parameter if present.
type number struct {
	plus    bool
	digits  string
	context string
}

var errLetters = errors.New("it contains letters")

// split strips visual separators and RFC 3966 parameters from raw. It accepts
// only digits, one leading "+", and the separators people and trunks use:
// RFC 3966 §3 visual-separator ("-", ".", "(", ")") plus spaces and "/".
// Letters are refused rather than mapped to keypad digits: a vanity number in
// a config file or a SIP user part like "alice" is a mistake, not a number.
func split(raw string) (number, error) {
	var n number
	s := strings.TrimSpace(raw)
	// RFC 3966 §3: parameters (";phone-context=", ";npdi", ";isub=", ";ext=",
	// ";rn=") follow the number; only phone-context changes what it means.
	if i := strings.IndexByte(s, ';'); i >= 0 {
		for _, p := range strings.Split(s[i+1:], ";") {
			k, v, _ := strings.Cut(p, "=")
			if strings.EqualFold(strings.TrimSpace(k), "phone-context") {
				n.context = strings.TrimSpace(v)
			}
		}
		s = strings.TrimSpace(s[:i])
	}
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		n.plus = true
		s = rest
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '\t' || r == '-' || r == '.' || r == '(' || r == ')' || r == '/':
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			return number{}, errLetters
		default:
			return number{}, fmt.Errorf("it contains %q", r)
		}
	}
	n.digits = b.String()
	return n, nil
}
