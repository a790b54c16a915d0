// Package phone turns the many ways people and SIP trunks write a telephone
// number into E.164 ("+15550100"), the one form Switchboard stores and compares.
package phone

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ErrNotPhoneNumber is returned (wrapped, with the offending input in the
// message) when a string cannot be read as a telephone number.
var ErrNotPhoneNumber = errors.New("not a phone number")

// E.164 §6.1: at most 15 digits including the country code. Three is the
// shortest number anyone dials in practice (emergency and service codes).
const (
	minDigits = 3
	maxDigits = 15
)

// Normalize returns the E.164 form ("+15550100") of raw, reading numbers
// without a leading "+" as dialled from defaultRegion (an ISO 3166-1 alpha-2
// code such as "US"). It understands visual separators (spaces, "-", ".",
// "(", ")", "/"), the region's own international call prefix ("011" in the
// US, "00" in most of the world) and "00" as an international prefix
// everywhere. Numbers are accepted when their length is possible for their
// country, including local-only and reserved test numbers such as +15550100;
// validity against the numbering plan is deliberately not required. Failures
// wrap ErrNotPhoneNumber.
func Normalize(raw, defaultRegion string) (string, error) {
	n, err := split(raw)
	if err != nil {
		return "", notPhone(raw, err.Error())
	}
	if n.digits == "" {
		return "", notPhone(raw, "it has no digits")
	}
	if n.plus {
		return normalizeInternational(raw, n.digits)
	}
	return normalizeDialled(raw, n.digits, strings.ToUpper(defaultRegion))
}

// normalizeInternational handles "+digits". A trunk's number is what the
// trunk says it is, so when phonenumbers does not know the country code or
// finds the length impossible, any 3..15 digit string after "+" is still
// accepted as long as it does not start with 0 (no country code does).
func normalizeInternational(raw, digits string) (string, error) {
	if len(digits) < minDigits {
		return "", notPhone(raw, fmt.Sprintf("it has fewer than %d digits", minDigits))
	}
	if len(digits) > maxDigits {
		return "", notPhone(raw, fmt.Sprintf("it has more than %d digits (E.164 limit)", maxDigits))
	}
	if pn, err := phonenumbers.Parse("+"+digits, ""); err == nil && possible(pn) {
		if out, err := e164(raw, pn); err == nil {
			return out, nil
		}
	}
	if digits[0] == '0' {
		return "", notPhone(raw, "a country code cannot start with 0")
	}
	return "+" + digits, nil
}

// normalizeDialled handles a number without "+": national, or prefixed with
// an international call prefix.
func normalizeDialled(raw, digits, region string) (string, error) {
	if len(digits) < minDigits {
		return "", notPhone(raw, fmt.Sprintf("it has fewer than %d digits", minDigits))
	}
	pn, err := phonenumbers.ParseAndKeepRawInput(digits, region)
	// The region's own IDD (e.g. "0011" in AU) wins over the generic "00"
	// rule below, because it is what a caller in that region actually dials.
	if err == nil && pn.GetCountryCodeSource() != phonenumbers.PhoneNumber_FROM_DEFAULT_COUNTRY && possible(pn) {
		return e164(raw, pn)
	}
	// "00" is the ITU-recommended international prefix (ITU-T E.164 Annex
	// and most of the world); no national number begins with it, so trunks
	// that send "00<cc><number>" mean an international number even when our
	// default region (the US, say) uses a different IDD.
	if strings.HasPrefix(digits, "00") {
		return normalizeInternational(raw, digits[2:])
	}
	if err != nil {
		return "", notPhone(raw, err.Error())
	}
	if !possible(pn) {
		return "", notPhone(raw, fmt.Sprintf("its length is not possible in %s", phonenumbers.GetRegionCodeForNumber(pn)))
	}
	return e164(raw, pn)
}

// e164 formats pn and checks the result really is E.164: phonenumbers'
// per-country length check does not enforce the 15-digit limit, and for
// degenerate input (an all-zero national number) its formatter echoes the
// raw input instead of "+<cc><nsn>".
func e164(raw string, pn *phonenumbers.PhoneNumber) (string, error) {
	out := phonenumbers.Format(pn, phonenumbers.E164)
	if !isE164(out) {
		return "", notPhone(raw, fmt.Sprintf("it is not %d to %d digits after a country code", minDigits, maxDigits))
	}
	return out, nil
}

// possible reports whether the number's length fits its country, counting
// numbers that are only diallable locally (7-digit NANP numbers such as the
// reserved +1 555 01XX test range) as possible.
func possible(pn *phonenumbers.PhoneNumber) bool {
	switch phonenumbers.IsPossibleNumberWithReason(pn) {
	case phonenumbers.IS_POSSIBLE, phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		return true
	default:
		return false
	}
}

func notPhone(raw, why string) error {
	return fmt.Errorf("phone: %q is %w: %s", raw, ErrNotPhoneNumber, why)
}

// Format returns e164 in international format for display ("+48 22 555 01 00").
// Input that phonenumbers cannot parse is returned unchanged, so Format is safe
// to call on anything that came out of a store or a SIP header.
func Format(e164 string) string {
	if !strings.HasPrefix(e164, "+") {
		return e164
	}
	pn, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return e164
	}
	return phonenumbers.Format(pn, phonenumbers.INTERNATIONAL)
}

// KnownRegion reports whether region (case-insensitive, e.g. "US", "pl") is an
// ISO 3166-1 alpha-2 region the numbering metadata covers, i.e. one that
// Normalize can use as its default region.
func KnownRegion(region string) bool {
	if len(region) != 2 {
		return false
	}
	return phonenumbers.GetSupportedRegions()[strings.ToUpper(region)]
}
