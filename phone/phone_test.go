package phone

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		raw, region, want string
	}{
		{"+1 555 0100", "US", "+15550100"},
		{"+15550100", "US", "+15550100"},
		{"+15550199", "PL", "+15550199"},
		{"(22) 555 01 00", "PL", "+48225550100"},
		{"(22) 555 01 00", "pl", "+48225550100"},
		{"+48 601 234 567", "US", "+48601234567"},
		{"0015550100", "US", "+15550100"},
		{"0015550100", "PL", "+15550100"},
		{"011 1 555 0100", "US", "+15550100"},
		{"0011 1 555 0100", "AU", "+15550100"},
		{"5550100", "US", "+15550100"},
		{"(650) 253-0000", "US", "+16502530000"},
		{"650.253.0000", "US", "+16502530000"},
		{"0113 496 0000", "GB", "+441134960000"},
		{"  +44 113 496 0000  ", "US", "+441134960000"},
		{"+15550100;phone-context=+1", "US", "+15550100"},
		// Unknown country code: the trunk's number is what the trunk says.
		{"+999 123 456", "US", "+999123456"},
		{"+123", "US", "+123"},
		{"+123456789012345", "US", "+123456789012345"},
	}
	for _, tt := range tests {
		t.Run(tt.raw+"/"+tt.region, func(t *testing.T) {
			got, err := Normalize(tt.raw, tt.region)
			if err != nil {
				t.Fatalf("Normalize(%q, %q) error: %v", tt.raw, tt.region, err)
			}
			if got != tt.want {
				t.Errorf("Normalize(%q, %q) = %q, want %q", tt.raw, tt.region, got, tt.want)
			}
		})
	}
}

func TestNormalizeRejects(t *testing.T) {
	tests := []struct {
		name, raw, region string
	}{
		{"letters", "abc", "US"},
		{"empty", "", "US"},
		{"blank", "   ", "US"},
		{"plus only", "+", "US"},
		{"too short international", "+12", "US"},
		{"too short national", "12", "US"},
		{"too long", "+1234567890123456", "US"},
		{"too long after 00", "00 1234567890123456", "US"},
		{"vanity letters", "1-800-FLOWERS", "US"},
		{"letters mixed in", "555x0100", "US"},
		{"sip uri", "sip:alice@example.com", "US"},
		{"plus in the middle", "1+5550100", "US"},
		{"country code zero", "+0123456", "US"},
		{"impossible national length", "15550100", "US"},
		{"national without known region", "5550100", "XX"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.raw, tt.region)
			if err == nil {
				t.Fatalf("Normalize(%q, %q) = %q, want error", tt.raw, tt.region, got)
			}
			if !errors.Is(err, ErrNotPhoneNumber) {
				t.Errorf("error %v does not wrap ErrNotPhoneNumber", err)
			}
			if !strings.Contains(err.Error(), `"`+tt.raw+`"`) {
				t.Errorf("error %q does not quote the input %q", err, tt.raw)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+48225550100", "+48 22 555 01 00"},
		{"+16502530000", "+1 650-253-0000"},
		{"+441134960000", "+44 113 496 0000"},
		{"not a number", "not a number"},
		{"5550100", "5550100"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Format(tt.in); got != tt.want {
			t.Errorf("Format(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestKnownRegion(t *testing.T) {
	tests := []struct {
		region string
		want   bool
	}{
		{"US", true},
		{"pl", true},
		{"GB", true},
		{"XX", false},
		{"USA", false},
		{"", false},
		{"U", false},
	}
	for _, tt := range tests {
		if got := KnownRegion(tt.region); got != tt.want {
			t.Errorf("KnownRegion(%q) = %v, want %v", tt.region, got, tt.want)
		}
	}
}
