// Package contacts is the caller ID directory: it matches an E.164 number
// to the contact who owns it, so a ringing browser and the call record can
// say who is calling. The directory is built once and then only read; it is
// sized for a CRM's worth of contacts (a million and more), so lookups are a
// hash index and the per-contact memory is kept small.
package contacts

import (
	"log/slog"
	"math"
	"strings"

	"switchboard/config"
	"switchboard/store"
)

// Contact is one entry to index: a person or company with one or more phone
// numbers.
type Contact struct {
	Name    string
	Company string
	Owner   string      // user ID of the account owner; empty for none.
	Phones  []string    // E.164 ("+48601234567"); anything else is skipped.
	Deal    *store.Deal // open deal; nil for none.
}

// Directory maps phone numbers to contacts. It is immutable once New returns
// it, so any number of goroutines may call its methods at the same time. A
// nil *Directory is an empty directory.
type Directory struct {
	// text holds every name, company, owner, deal name and currency back
	// to back; entries refer to it by offset. One string instead of a few
	// million small ones saves a 16-byte header and an allocation per
	// field, and Lookup hands out substrings of it without allocating.
	text    string
	entries []entry
	deals   []store.Deal
	// index maps a phone number's key (see key) to its entry. A numeric
	// key is 8 bytes where the E.164 string would cost a 16-byte header
	// plus its bytes, and it hashes faster.
	index phoneIndex
}

// span is a piece of Directory.text.
type span struct{ off, n uint32 }

// entry is one contact, 28 bytes.
type entry struct {
	name, company, owner span
	deal                 int32 // index into Directory.deals; noDeal for none.
}

const noDeal = -1

// maxDigits is the longest number E.164 §6.1 allows (country code
// included); 10^15 < 2^50, so the digits always fit in the low 50 bits of a
// key with the digit count above them.
const (
	maxDigits  = 15
	digitsBits = 50
)

// key packs an E.164 number into an integer: its digits as a number, with
// the digit count in the bits above so that "+0123" and "+123" (which
// E.164 never produces, but a caller might pass) stay distinct. ok is false
// for anything that is not "+" and 1 to 15 digits.
func key(e164 string) (k uint64, ok bool) {
	if len(e164) < 2 || len(e164) > 1+maxDigits || e164[0] != '+' {
		return 0, false
	}
	for i := 1; i < len(e164); i++ {
		c := e164[i] - '0'
		if c > 9 {
			return 0, false
		}
		k = k*10 + uint64(c)
	}
	return k | uint64(len(e164)-1)<<digitsBits, true
}

// New builds a directory of cs. A phone number that is not E.164 is skipped,
// and a number listed for more than one contact belongs to the first; both
// are configuration mistakes that config validation rejects, so New only
// logs a summary rather than failing a caller that cannot fix them. New
// copies what it keeps: cs may be discarded afterwards.
//
// New panics beyond 2^31-1 contacts or 4 GiB of contact text, limits no
// configuration or CRM import comes near.
func New(cs []Contact) *Directory {
	phones, deals := 0, 0
	for i := range cs {
		phones += len(cs[i].Phones)
		if cs[i].Deal != nil {
			deals++
		}
	}
	if len(cs) > math.MaxInt32 {
		panic("contacts: more than 2^31-1 contacts")
	}
	d := &Directory{
		entries: make([]entry, len(cs)),
		deals:   make([]store.Deal, 0, deals),
		index:   newPhoneIndex(phones),
	}
	ar := newArena(cs)
	var skipped, duplicates int
	for i := range cs {
		c := &cs[i]
		e := entry{
			name:    ar.add(c.Name),
			company: ar.intern(c.Company),
			owner:   ar.intern(c.Owner),
			deal:    noDeal,
		}
		if c.Deal != nil {
			e.deal = int32(len(d.deals))
			// The deal's strings are filled in by ar.finish, once the
			// arena's text is final.
			d.deals = append(d.deals, store.Deal{Amount: c.Deal.Amount})
			ar.pendingDeal(e.deal, c.Deal.Name, c.Deal.Currency)
		}
		d.entries[i] = e
		for _, p := range c.Phones {
			k, ok := key(p)
			if !ok {
				skipped++
				continue
			}
			// The same number twice on one contact is harmless; on two
			// contacts caller ID would be a guess, and the first wins.
			if first, ok := d.index.insert(k, uint32(i)); !ok && first != uint32(i) {
				duplicates++
			}
		}
	}
	d.text = ar.finish(d.deals)
	if skipped > 0 || duplicates > 0 {
		slog.Warn("contacts: phone numbers left out of the caller ID directory",
			"not_e164", skipped, "on_two_contacts", duplicates)
	}
	return d
}

// Lookup returns the contact whose phone number is e164 ("+48601234567").
// It does not allocate. The returned Deal points into the directory and is
// shared by every lookup of that contact: read it, do not modify it.
func (d *Directory) Lookup(e164 string) (store.CallerID, bool) {
	e, ok := d.find(e164)
	if !ok {
		return store.CallerID{}, false
	}
	id := store.CallerID{Name: d.str(e.name), Company: d.str(e.company)}
	if e.deal != noDeal {
		id.Deal = &d.deals[e.deal]
	}
	return id, true
}

// Owner returns the user ID of the owner of the contact whose phone number
// is e164; ok is false when no contact has that number. The owner is empty
// for a contact without one.
func (d *Directory) Owner(e164 string) (owner string, ok bool) {
	e, ok := d.find(e164)
	if !ok {
		return "", false
	}
	return d.str(e.owner), true
}

// Len returns the number of contacts in the directory.
func (d *Directory) Len() int {
	if d == nil {
		return 0
	}
	return len(d.entries)
}

func (d *Directory) find(e164 string) (*entry, bool) {
	if d == nil {
		return nil, false
	}
	k, ok := key(e164)
	if !ok {
		return nil, false
	}
	i, ok := d.index.get(k)
	if !ok {
		return nil, false
	}
	return &d.entries[i], true
}

func (d *Directory) str(s span) string {
	return d.text[s.off : s.off+s.n]
}

// FromConfig converts the contacts of a loaded configuration, whose phone
// numbers config has already normalised to E.164, for New.
func FromConfig(cs []config.Contact) []Contact {
	out := make([]Contact, len(cs))
	for i, c := range cs {
		out[i] = Contact{Name: c.Name, Company: c.Company, Owner: c.Owner, Phones: c.Phones}
		if c.Deal != nil {
			out[i].Deal = &store.Deal{Name: c.Deal.Name, Amount: c.Deal.Amount, Currency: c.Deal.Currency}
		}
	}
	return out
}

// arena lays strings out in one buffer. Values repeated across contacts
// (companies, owners, currencies) are stored once.
type arena struct {
	b        strings.Builder
	interned map[string]span
	deals    []dealText
}

type dealText struct {
	deal           int32
	name, currency span
}

// newArena sizes the buffer for the worst case (nothing repeats), so the
// builder never copies while growing; finish trims the excess.
func newArena(cs []Contact) *arena {
	total := 0
	for i := range cs {
		c := &cs[i]
		total += len(c.Name) + len(c.Company) + len(c.Owner)
		if c.Deal != nil {
			total += len(c.Deal.Name) + len(c.Deal.Currency)
		}
	}
	if uint64(total) > math.MaxUint32 {
		panic("contacts: more than 4 GiB of contact text")
	}
	a := &arena{interned: make(map[string]span)}
	a.b.Grow(total)
	return a
}

func (a *arena) add(s string) span {
	sp := span{off: uint32(a.b.Len()), n: uint32(len(s))}
	a.b.WriteString(s)
	return sp
}

func (a *arena) intern(s string) span {
	if s == "" {
		return span{}
	}
	if sp, ok := a.interned[s]; ok {
		return sp
	}
	sp := a.add(s)
	// Key the map by the arena's copy, not s, so it does not keep the
	// caller's string alive while building.
	a.interned[a.b.String()[sp.off:sp.off+sp.n]] = sp
	return sp
}

func (a *arena) pendingDeal(deal int32, name, currency string) {
	a.deals = append(a.deals, dealText{deal: deal, name: a.add(name), currency: a.intern(currency)})
}

// finish returns the text and points each deal's strings into it. The
// builder was sized for the worst case; when interning saved a lot, the
// text is copied into an exactly sized string so the slack is released.
func (a *arena) finish(deals []store.Deal) string {
	text := a.b.String()
	if a.b.Cap()-a.b.Len() > a.b.Len()/8 {
		text = strings.Clone(text)
	}
	for _, dt := range a.deals {
		deals[dt.deal].Name = text[dt.name.off : dt.name.off+dt.name.n]
		deals[dt.deal].Currency = text[dt.currency.off : dt.currency.off+dt.currency.n]
	}
	return text
}
