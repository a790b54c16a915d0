package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// contactsDoc is a valid file with contacts; the invalid cases below break
// one thing each.
const contactsDoc = `default_region: PL
users:
  - id: alice
contacts:
  - name: "Jan Kowalski"
    company: "Acme"
    phones: ["+48 601 234 567", "(22) 555 01 00"]
    owner: alice
    deal: { name: "Acme renewal", amount: 12000, currency: "usd" }
  - name: Ewa
    phones:
      - 0048 22 555 01 01
      - +1 (555) 010-0199
    deal: { name: Pilot, amount: 99.5, currency: PLN }
  - name: Bez Firmy
    phones: [601234568]
    deal: ~
`

func TestContactsParse(t *testing.T) {
	cfg, err := Parse([]byte(contactsDoc), "test.yaml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := []Contact{
		{
			Name: "Jan Kowalski", Company: "Acme", Phones: []string{"+48601234567", "+48225550100"}, Owner: "alice",
			Deal: &Deal{Name: "Acme renewal", Amount: 12000, Currency: "USD"},
		},
		{Name: "Ewa", Phones: []string{"+48225550101", "+15550100199"}, Deal: &Deal{Name: "Pilot", Amount: 99.5, Currency: "PLN"}},
		{Name: "Bez Firmy", Phones: []string{"+48601234568"}},
	}
	if !reflect.DeepEqual(cfg.Contacts, want) {
		t.Errorf("Contacts =\n%s\nwant\n%s", dumpContacts(cfg.Contacts), dumpContacts(want))
	}
}

func TestContactsAbsentIsEmpty(t *testing.T) {
	cfg, err := Parse([]byte("contacts: []\n"), "test.yaml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(cfg.Contacts) != 0 {
		t.Errorf("Contacts = %v, want none", cfg.Contacts)
	}
}

func TestContactsInvalid(t *testing.T) {
	base := "default_region: PL\nusers:\n  - id: alice\ncontacts:\n"
	tests := []struct {
		name string
		doc  string // appended to base; the first contact starts on line 5
		line int
		path string
		msg  string
	}{
		{"name missing", "  - phones: [\"+48601234567\"]\n", 5, "contacts[0].name", "is required"},
		{"name blank", "  - name: \"  \"\n    phones: [\"+48601234567\"]\n", 5, "contacts[0].name", "must not be blank"},
		{"name not a string", "  - name: [a]\n    phones: [\"+48601234567\"]\n", 5, "contacts[0].name", "expected a string, got a list"},
		{"phones missing", "  - name: A\n", 5, "contacts[0].phones", "needs at least one phone number"},
		{"phones empty", "  - name: A\n    phones: []\n", 6, "contacts[0].phones", "needs at least one phone number"},
		{"phones not a list", "  - name: A\n    phones: \"+48601234567\"\n", 6, "contacts[0].phones", "expected a list"},
		{"phone not a number", "  - name: A\n    phones:\n      - \"+48601234567\"\n      - \"12\"\n", 8, "contacts[0].phones[1]", `"12" is not a phone number`},
		{"phone empty", "  - name: A\n    phones: [\"\"]\n", 6, "contacts[0].phones[0]", "must not be empty"},
		{"phone null", "  - name: A\n    phones:\n      - ~\n", 7, "contacts[0].phones[0]", "must not be empty"},
		{"phone a mapping", "  - name: A\n    phones:\n      - {n: 1}\n", 7, "contacts[0].phones[0]", "expected a phone number, got a mapping"},
		{"phone twice in one contact", "  - name: A\n    phones:\n      - \"+48601234567\"\n      - \"601 234 567\"\n", 8, "contacts[0].phones[1]", "+48601234567 is listed twice (also contacts[0].phones[0])"},
		{
			"phone on two contacts",
			"  - name: Jan\n    phones: [\"+48601234567\"]\n  - name: Ewa\n    phones:\n      - \"+48 22 555 01 00\"\n      - \"(0048) 601-234-567\"\n",
			10, "contacts[1].phones[1]", `+48601234567 is also a phone of contacts[0].phones[0] ("Jan")`,
		},
		{"owner unknown", "  - name: A\n    phones: [\"+48601234567\"]\n    owner: bob\n", 7, "contacts[0].owner", `no user has id "bob"`},
		{"unknown key", "  - name: A\n    phones: [\"+48601234567\"]\n    email: a@b\n", 7, "contacts[0].email", "unknown key"},
		{"deal not a mapping", "  - name: A\n    phones: [\"+48601234567\"]\n    deal: big\n", 7, "contacts[0].deal", "expected a mapping"},
		{"deal name missing", "  - name: A\n    phones: [\"+48601234567\"]\n    deal: {amount: 1, currency: USD}\n", 7, "contacts[0].deal.name", "is required"},
		{"deal currency missing", "  - name: A\n    phones: [\"+48601234567\"]\n    deal: {name: D, amount: 1}\n", 7, "contacts[0].deal.currency", "is required"},
		{"deal currency bad", "  - name: A\n    phones: [\"+48601234567\"]\n    deal: {name: D, currency: dollars}\n", 7, "contacts[0].deal.currency", `"dollars" is not an ISO 4217 currency code`},
		{"deal amount negative", "  - name: A\n    phones: [\"+48601234567\"]\n    deal: {name: D, amount: -5, currency: USD}\n", 7, "contacts[0].deal.amount", "-5 must not be negative"},
		{"deal amount text", "  - name: A\n    phones: [\"+48601234567\"]\n    deal: {name: D, amount: \"12000\", currency: USD}\n", 7, "contacts[0].deal.amount", `"12000" is not a number`},
		{"deal amount infinite", "  - name: A\n    phones: [\"+48601234567\"]\n    deal: {name: D, amount: .inf, currency: USD}\n", 7, "contacts[0].deal.amount", `".inf" is not a number`},
		{"deal unknown key", "  - name: A\n    phones: [\"+48601234567\"]\n    deal: {name: D, value: 3, currency: USD}\n", 7, "contacts[0].deal.value", "unknown key"},
		{"contact not a mapping", "  - Jan\n", 5, "contacts[0]", `expected a mapping (key: value lines), got "Jan"`},
		{"contacts not a list", "  name: Jan\n", 5, "contacts", "expected a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(base+tt.doc), "test.yaml")
			if err == nil {
				t.Fatalf("Parse succeeded (%s), want an error", dumpContacts(cfg.Contacts))
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			want := fmt.Sprintf("test.yaml:%d: %s: ", tt.line, tt.path)
			var match, others []string
			for _, l := range strings.Split(err.Error(), "\n")[1:] {
				if strings.HasPrefix(l, want) && strings.Contains(l, tt.msg) {
					match = append(match, l)
				} else {
					others = append(others, l)
				}
			}
			if len(match) != 1 {
				t.Errorf("want one line starting %q containing %q:\n%v", want, tt.msg, err)
			}
			// Each case breaks one thing; a second problem would mean a
			// follow-on error piled on top of the real one.
			if len(others) != 0 {
				t.Errorf("unexpected extra problems: %q", others)
			}
		})
	}
}

// TestContactPhoneExactMessage pins the message format the issue asks for.
func TestContactPhoneExactMessage(t *testing.T) {
	doc := "contacts:\n  - name: A\n    phones: [\"+15550100\", \"12\"]\n"
	_, err := Parse([]byte(doc), "test.yaml")
	want := `test.yaml:3: contacts[0].phones[1]: "12" is not a phone number`
	if err == nil || !containsLine(err.Error(), want) {
		t.Errorf("error = %v\nwant a line exactly %q", err, want)
	}
}

func dumpContacts(cs []Contact) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "  %+v", c)
		if c.Deal != nil {
			fmt.Fprintf(&b, " deal=%+v", *c.Deal)
		}
		b.WriteString("\n")
	}
	return b.String()
}
