package phone

import (
	"slices"
	"strings"
	"testing"
)

func TestCandidates(t *testing.T) {
	tests := []struct {
		raw, region string
		want        []string
	}{
		{"+15550100", "US", []string{"+15550100"}},
		{"15550100", "US", []string{"+15550100"}},
		{"0015550100", "US", []string{"+15550100"}},
		{"01115550100", "US", []string{"+15550100"}},
		{"5550100", "US", []string{"+15550100", "+5550100"}},
		{"16502530000", "US", []string{"+16502530000"}},
		{"6502530000", "US", []string{"+16502530000", "+6502530000"}},
		{"48225550100", "PL", []string{"+48225550100"}},
		{"225550100", "PL", []string{"+48225550100", "+225550100"}},
		{"0015550100", "PL", []string{"+15550100"}},
		{"+1-555-0100", "US", []string{"+15550100"}},
		{"(555) 0100", "US", []string{"+15550100", "+5550100"}},
		{"%2B15550100", "US", []string{"+15550100"}},
		{"5550100;phone-context=+1", "PL", []string{"+15550100", "+485550100", "+5550100"}},
		{"0100;phone-context=+1-555", "US", []string{"+15550100"}},
		{"5550100;phone-context=example.com", "US", []string{"+15550100", "+5550100"}},
		{"5550100;npdi;rn=+15550000", "US", []string{"+15550100", "+5550100"}},
		{"+15550100;npdi", "US", []string{"+15550100"}},
		{"alice", "US", nil},
		{"", "US", nil},
		{"*97", "US", nil},
		{"+", "US", nil},
		{"12", "US", nil},
		{"%zz", "US", nil},
		{"1234567890123456789", "US", nil},
	}
	for _, tt := range tests {
		t.Run(tt.raw+"/"+tt.region, func(t *testing.T) {
			got := Candidates(tt.raw, tt.region)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Candidates(%q, %q) = %q, want %q", tt.raw, tt.region, got, tt.want)
			}
		})
	}
}

// FuzzCandidates checks that no user part, however odd, panics Candidates
// or makes it return something that is not a deduplicated E.164 list.
func FuzzCandidates(f *testing.F) {
	seeds := []string{
		"+15550100", "15550100", "0015550100", "01115550100", "5550100",
		"5550100;phone-context=+1", "0100;phone-context=+1-555", ";phone-context=",
		"+", "", "%", "%2B", "%2B15550100", ";;;", "+;", "0000000000000000000000",
		"(((", "+1 (555) 01-00", "alice", "\x00", "\xff\xfe", "++1", "00", "011",
		"0011 1 555 0100", "+99999999999999999999",
	}
	for _, s := range seeds {
		f.Add(s, "US")
		f.Add(s, "PL")
	}
	f.Add("5550100", "")
	f.Add("5550100", "ZZZ")
	f.Fuzz(func(t *testing.T, raw, region string) {
		got := Candidates(raw, region)
		seen := make(map[string]bool, len(got))
		for _, e := range got {
			if !isE164(e) {
				t.Fatalf("Candidates(%q, %q) returned non-E.164 %q", raw, region, e)
			}
			if seen[e] {
				t.Fatalf("Candidates(%q, %q) returned %q twice: %q", raw, region, e, got)
			}
			seen[e] = true
		}
	})
}

// FuzzNormalize checks that Normalize never panics and only ever returns
// E.164 or an error naming the input.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"+1 555 0100", "(22) 555 01 00", "abc", "", "0015550100", "+0", "00", "+12345678901234567"} {
		f.Add(s, "US")
		f.Add(s, "PL")
	}
	f.Fuzz(func(t *testing.T, raw, region string) {
		got, err := Normalize(raw, region)
		if err != nil {
			if got != "" {
				t.Fatalf("Normalize(%q, %q) returned %q with error %v", raw, region, got, err)
			}
			if !strings.Contains(err.Error(), "is not a phone number") {
				t.Fatalf("Normalize(%q, %q) error %q lacks the sentinel text", raw, region, err)
			}
			return
		}
		if !isE164(got) {
			t.Fatalf("Normalize(%q, %q) = %q, not E.164", raw, region, got)
		}
	})
}
