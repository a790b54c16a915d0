package config

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"switchboard/phone"
)

// Contact is a person or company whose calls are recognised: a ringing
// browser shows the name, company and deal instead of a bare number.
type Contact struct {
	Name    string   // yaml "name": required.
	Company string   // yaml "company"
	Phones  []string // yaml "phones": at least one, any common format as written; E.164 after loading, unique across contacts.
	Owner   string   // yaml "owner": user ID of the account owner, optional.
	Deal    *Deal    // yaml "deal": open sales deal, optional.
}

// Deal is a contact's open sales deal.
type Deal struct {
	Name     string  // yaml "name": required.
	Amount   float64 // yaml "amount": zero or more.
	Currency string  // yaml "currency": ISO 4217 code, upper case after loading ("USD").
}

// currencyRE matches the shape of an ISO 4217 alphabetic code. The list of
// codes changes (currencies come and go), so only the shape is checked.
var currencyRE = regexp.MustCompile(`^[A-Za-z]{3}$`)

func (d *decoder) contact(n *yaml.Node, path string) Contact {
	var c Contact
	d.mapping(n, path, keys{
		"name":    d.str(&c.Name),
		"company": d.str(&c.Company),
		"phones":  d.phoneList(&c.Phones),
		"owner":   d.str(&c.Owner),
		"deal": func(n *yaml.Node, p string) {
			if n = resolve(n); n == nil || isNull(n) {
				return
			}
			var deal Deal
			d.mapping(n, p, keys{
				"name":     d.str(&deal.Name),
				"amount":   d.decimal(&deal.Amount),
				"currency": d.str(&deal.Currency),
			})
			if !d.broken[p] {
				c.Deal = &deal
			}
		},
	})
	return c
}

// phoneList decodes a list of strings keeping one entry per list item (""
// for an item that is null or of the wrong type), so that validation's
// "phones[j]" paths name the item the user wrote.
func (d *decoder) phoneList(dst *[]string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		var out []string
		d.sequence(n, path, func(_ int, item *yaml.Node, p string) {
			v, _ := d.scalar(item, p, "a phone number")
			out = append(out, v)
		})
		*dst = out
	}
}

// decimal decodes a YAML integer or float. Quoted text is refused, as for
// whole numbers, and so are .nan and .inf, which are no amount of money.
func (d *decoder) decimal(dst *float64) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		v, ok := d.scalar(n, path, "a number")
		if !ok {
			return
		}
		var f float64
		var err error
		switch resolve(n).Tag {
		case "!!int":
			var i int64
			i, err = strconv.ParseInt(v, 0, 64)
			f = float64(i)
		case "!!float":
			f, err = strconv.ParseFloat(strings.ReplaceAll(v, "_", ""), 64)
		default:
			err = strconv.ErrSyntax
		}
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.fail(resolve(n).Line, path, "%q is not a number", v)
			return
		}
		*dst = f
	}
}

// validateContacts normalises every contact phone to E.164 and checks that
// no number belongs to two contacts: caller ID must name one person, and a
// lookup index cannot hold two answers for one key.
func (d *decoder) validateContacts(c *Config) {
	type firstUse struct {
		contact int
		path    string
	}
	seen := make(map[string]firstUse)
	for i := range c.Contacts {
		ct := &c.Contacts[i]
		p := fmt.Sprintf("contacts[%d]", i)
		if d.broken[p] {
			continue
		}
		switch {
		case ct.Name == "":
			d.required(p+".name", "")
		case strings.TrimSpace(ct.Name) == "":
			d.failAt(p+".name", "must not be blank")
		}
		if len(ct.Phones) == 0 && !d.broken[p+".phones"] {
			d.failAt(p+".phones", "needs at least one phone number")
		}
		phones := make([]string, 0, len(ct.Phones))
		for j, raw := range ct.Phones {
			pp := fmt.Sprintf("%s.phones[%d]", p, j)
			if d.broken[pp] {
				continue
			}
			if strings.TrimSpace(raw) == "" {
				d.failAt(pp, "must not be empty")
				continue
			}
			e, err := phone.Normalize(raw, c.DefaultRegion)
			if err != nil {
				d.failAt(pp, "%q is not a phone number", raw)
				continue
			}
			switch prev, dup := seen[e]; {
			case !dup:
				seen[e] = firstUse{contact: i, path: pp}
				phones = append(phones, e)
			case prev.contact == i:
				d.failAt(pp, "%s is listed twice (also %s)", e, prev.path)
			default:
				d.failAt(pp, "%s is also a phone of %s (%q); a number can belong to one contact only",
					e, prev.path, c.Contacts[prev.contact].Name)
			}
		}
		ct.Phones = phones
		if ct.Owner != "" {
			if _, ok := c.User(ct.Owner); !ok {
				d.failAt(p+".owner", "no user has id %q", ct.Owner)
			}
		}
		if ct.Deal != nil {
			d.validateDeal(ct.Deal, p+".deal")
		}
	}
}

func (d *decoder) validateDeal(deal *Deal, p string) {
	switch {
	case deal.Name == "":
		d.required(p+".name", "")
	case strings.TrimSpace(deal.Name) == "":
		d.failAt(p+".name", "must not be blank")
	}
	if deal.Amount < 0 {
		d.failAt(p+".amount", "%v must not be negative", deal.Amount)
	}
	switch {
	case deal.Currency == "":
		d.required(p+".currency", "")
	case !currencyRE.MatchString(deal.Currency):
		d.failAt(p+".currency", "%q is not an ISO 4217 currency code (three letters such as \"USD\" or \"EUR\")", deal.Currency)
	default:
		deal.Currency = strings.ToUpper(deal.Currency)
	}
}
