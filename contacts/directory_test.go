package contacts

import (
	"fmt"
	"reflect"
	"sync"
	"testing"

	"switchboard/config"
	"switchboard/store"
)

func testContacts() []Contact {
	return []Contact{
		{
			Name: "Jan Kowalski", Company: "Acme", Owner: "alice",
			Phones: []string{"+48601234567", "+48225550100"},
			Deal:   &store.Deal{Name: "Acme renewal", Amount: 12000, Currency: "USD"},
		},
		{Name: "Ewa Nowak", Company: "Acme", Phones: []string{"+48225550101"}},
		{Name: "Bob", Phones: []string{"+15550100199"}, Deal: &store.Deal{Name: "Pilot", Amount: 99.5, Currency: "USD"}},
	}
}

func TestLookup(t *testing.T) {
	d := New(testContacts())
	jan := store.CallerID{Name: "Jan Kowalski", Company: "Acme", Deal: &store.Deal{Name: "Acme renewal", Amount: 12000, Currency: "USD"}}
	tests := []struct {
		name   string
		number string
		want   store.CallerID
		ok     bool
	}{
		{"first phone", "+48601234567", jan, true},
		{"second phone of the same contact", "+48225550100", jan, true},
		{"contact without deal", "+48225550101", store.CallerID{Name: "Ewa Nowak", Company: "Acme"}, true},
		{"contact without company", "+15550100199", store.CallerID{Name: "Bob", Deal: &store.Deal{Name: "Pilot", Amount: 99.5, Currency: "USD"}}, true},
		{"unknown number", "+48601234568", store.CallerID{}, false},
		{"prefix of a known number", "+4860123456", store.CallerID{}, false},
		{"known number extended", "+486012345670", store.CallerID{}, false},
		{"not E.164: no plus", "48601234567", store.CallerID{}, false},
		{"not E.164: spaces", "+48 601 234 567", store.CallerID{}, false},
		{"not E.164: too long", "+4860123456789012", store.CallerID{}, false},
		{"empty", "", store.CallerID{}, false},
		{"plus only", "+", store.CallerID{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := d.Lookup(tt.number)
			if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Lookup(%q) = %+v, %t; want %+v, %t", tt.number, got, ok, tt.want, tt.ok)
			}
		})
	}
	if d.Len() != 3 {
		t.Errorf("Len = %d, want 3", d.Len())
	}
}

func TestOwner(t *testing.T) {
	d := New(testContacts())
	tests := []struct {
		number, want string
		ok           bool
	}{
		{"+48225550100", "alice", true},
		{"+48225550101", "", true},
		{"+48000000000", "", false},
	}
	for _, tt := range tests {
		if got, ok := d.Owner(tt.number); got != tt.want || ok != tt.ok {
			t.Errorf("Owner(%q) = %q, %t; want %q, %t", tt.number, got, ok, tt.want, tt.ok)
		}
	}
}

func TestKeyKeepsNumbersApart(t *testing.T) {
	// Numbers that would collide if only their digit values were kept.
	numbers := []string{"+1", "+01", "+001", "+123", "+0123", "+999999999999999", "+099999999999999", "+100000000000000"}
	seen := map[uint64]string{}
	for _, n := range numbers {
		k, ok := key(n)
		if !ok {
			t.Fatalf("key(%q) not ok", n)
		}
		if other, dup := seen[k]; dup {
			t.Errorf("key(%q) == key(%q) = %#x", n, other, k)
		}
		seen[k] = n
	}
	for _, bad := range []string{"", "+", "1", "+12a", "+1234567890123456", "++1", "+-1"} {
		if _, ok := key(bad); ok {
			t.Errorf("key(%q) ok, want rejected", bad)
		}
	}
}

func TestNewSkipsBadAndDuplicatePhones(t *testing.T) {
	d := New([]Contact{
		{Name: "First", Phones: []string{"+15550100", "555 0101", "+15550102", "+15550102"}},
		{Name: "Second", Phones: []string{"+15550100", "+15550103"}},
	})
	tests := []struct {
		number, name string
		ok           bool
	}{
		{"+15550100", "First", true}, // listed twice: the first contact keeps it
		{"+15550102", "First", true},
		{"+15550103", "Second", true},
		{"+15550101", "", false}, // "555 0101" was not E.164
	}
	for _, tt := range tests {
		got, ok := d.Lookup(tt.number)
		if ok != tt.ok || got.Name != tt.name {
			t.Errorf("Lookup(%q) = %q, %t; want %q, %t", tt.number, got.Name, ok, tt.name, tt.ok)
		}
	}
}

func TestNewCopiesItsInput(t *testing.T) {
	cs := testContacts()
	d := New(cs)
	cs[0].Deal.Amount = 1
	cs[0].Deal.Name = "changed"
	cs[0].Phones[0] = "+10000000000"
	cs[0].Name = "changed"
	got, ok := d.Lookup("+48601234567")
	if !ok || got.Name != "Jan Kowalski" || got.Deal.Name != "Acme renewal" || got.Deal.Amount != 12000 {
		t.Errorf("Lookup after changing the input = %+v (deal %+v), %t; want the contact as it was", got, got.Deal, ok)
	}
}

func TestEmptyAndNilDirectory(t *testing.T) {
	for name, d := range map[string]*Directory{"nil": nil, "empty": New(nil)} {
		if _, ok := d.Lookup("+48601234567"); ok {
			t.Errorf("%s directory: Lookup found a contact", name)
		}
		if _, ok := d.Owner("+48601234567"); ok {
			t.Errorf("%s directory: Owner found a contact", name)
		}
		if d.Len() != 0 {
			t.Errorf("%s directory: Len = %d", name, d.Len())
		}
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	d := New(testContacts())
	for _, n := range []string{"+48601234567", "+48225550101", "+19999999999", "junk"} {
		if allocs := testing.AllocsPerRun(100, func() { d.Lookup(n) }); allocs != 0 {
			t.Errorf("Lookup(%q) allocates %v times, want 0", n, allocs)
		}
	}
}

// TestConfigFormatsReachDirectory checks the whole path: phones written in
// any common format are normalised by config, so the E.164 number a trunk
// sends finds the contact.
func TestConfigFormatsReachDirectory(t *testing.T) {
	cfg, err := config.Parse([]byte(`default_region: PL
users:
  - id: alice
contacts:
  - name: "Jan Kowalski"
    company: "Acme"
    phones: ["+48 601 234 567", "(22) 555 01 00", "0048-22-555-01-02", "+1 (555) 010-0199"]
    owner: alice
    deal: { name: "Acme renewal", amount: 12000, currency: "usd" }
`), "test.yaml")
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	d := New(FromConfig(cfg.Contacts))
	want := store.CallerID{Name: "Jan Kowalski", Company: "Acme", Deal: &store.Deal{Name: "Acme renewal", Amount: 12000, Currency: "USD"}}
	for _, n := range []string{"+48601234567", "+48225550100", "+48225550102", "+15550100199"} {
		got, ok := d.Lookup(n)
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("Lookup(%q) = %+v, %t; want %+v", n, got, ok, want)
		}
	}
	if owner, _ := d.Owner("+48601234567"); owner != "alice" {
		t.Errorf("Owner = %q, want alice", owner)
	}
}

func TestConcurrentLookups(t *testing.T) {
	const n = 2000
	cs := make([]Contact, n)
	for i := range cs {
		cs[i] = Contact{
			Name:    fmt.Sprintf("Contact %d", i),
			Company: fmt.Sprintf("Company %d", i%7),
			Phones:  []string{fmt.Sprintf("+4860%07d", i), fmt.Sprintf("+1212%07d", i)},
		}
		if i%3 == 0 {
			cs[i].Deal = &store.Deal{Name: fmt.Sprintf("Deal %d", i), Amount: float64(i), Currency: "EUR"}
		}
	}
	d := New(cs)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for j := range 4 * n {
				i := (j*7919 + g*104729) % n
				phone := cs[i].Phones[j%2]
				got, ok := d.Lookup(phone)
				switch {
				case !ok:
					errs <- fmt.Errorf("Lookup(%q) missed", phone)
					return
				case got.Name != cs[i].Name || got.Company != cs[i].Company:
					errs <- fmt.Errorf("Lookup(%q) = %+v, want %s of %s", phone, got, cs[i].Name, cs[i].Company)
					return
				case (got.Deal == nil) != (cs[i].Deal == nil) || got.Deal != nil && *got.Deal != *cs[i].Deal:
					errs <- fmt.Errorf("Lookup(%q) deal = %+v, want %+v", phone, got.Deal, cs[i].Deal)
					return
				}
				if _, ok := d.Lookup(fmt.Sprintf("+4869%07d", i)); ok {
					errs <- fmt.Errorf("Lookup of an unknown number hit")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
