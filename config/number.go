package config

import (
	"encoding/json"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"switchboard/phone"
)

// rawJSON is a numbers[] entry as JSON, the form the API stores and
// returns: YAML's scalars become strings, numbers and booleans, durations
// stay strings like "25s". It is nil when the node cannot be represented.
func rawJSON(n *yaml.Node) json.RawMessage {
	var v any
	if err := n.Decode(&v); err != nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// Problem is one thing wrong with a number's settings: the field, as a key
// path inside the settings ("working_hours.hours[1].from"), and what is wrong.
type Problem struct {
	Field string `json:"field"`
	Msg   string `json:"message"`
}

// SettingsError lists every problem with a number's settings. It wraps
// ErrInvalid.
type SettingsError struct {
	Problems []Problem
}

// Error implements error: the problems, "; "-separated.
func (e *SettingsError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Msg
	}
	return "invalid number settings: " + strings.Join(parts, "; ")
}

// Unwrap lets errors.Is(err, ErrInvalid) hold.
func (e *SettingsError) Unwrap() error { return ErrInvalid }

// settingsPath is the key path a number's settings are decoded under; it is
// stripped from the fields problems name.
const settingsPath = "number"

// ParseNumber parses and validates the settings of our number e164 (an
// entry of numbers[], as YAML or JSON, which is YAML) against the rest of
// the configuration, as the API's runtime update needs: the same keys,
// defaults and rules as the file. The number, its trunk and its owner
// cannot change at runtime (they decide who may place calls as whom); a
// body that changes them is refused. Problems come back as a
// *SettingsError naming each field.
func (c *Config) ParseNumber(data []byte, e164 string) (Number, error) {
	d := &decoder{file: "settings", lines: map[string]int{}, broken: map[string]bool{}}
	var current *Number
	ours := map[string]string{}
	for i := range c.Numbers {
		ours[c.Numbers[i].Number] = fmt.Sprintf("numbers[%d]", i)
		if c.Numbers[i].Number == e164 {
			current = &c.Numbers[i]
		}
	}
	if current == nil {
		return Number{}, fmt.Errorf("%w: %s is not one of our numbers", ErrInvalid, e164)
	}
	n := defaultNumber()
	root, ok := d.document(data)
	switch {
	case !ok:
	case root == nil:
		d.fail(1, settingsPath, "no settings: send the number's settings as a JSON object")
	default:
		n = d.number(root, settingsPath)
	}
	if n.Number == "" {
		n.Number = e164
	} else if e, err := phone.Normalize(n.Number, c.DefaultRegion); err != nil || e != e164 {
		d.failAt(settingsPath+".number", "%q is not %s; a number cannot be renamed", n.Number, e164)
	}
	n.Number = e164
	if n.Trunk != current.Trunk {
		d.failAt(settingsPath+".trunk", "%q cannot change at runtime (it is %q); edit the configuration file", n.Trunk, current.Trunk)
	}
	if n.Owner != current.Owner {
		d.failAt(settingsPath+".owner", "%q cannot change at runtime (it is %q); edit the configuration file", n.Owner, current.Owner)
	}
	if len(d.errs) == 0 {
		// ours keeps e164 itself: forwarding a number to itself loops too.
		d.validateNumber(c, &n, settingsPath, ours)
	}
	if len(d.errs) > 0 {
		se := &SettingsError{}
		for _, e := range d.errs {
			field := strings.TrimPrefix(strings.TrimPrefix(e.Path, settingsPath), ".")
			if field == "" {
				field = "(settings)"
			}
			se.Problems = append(se.Problems, Problem{Field: field, Msg: e.Msg})
		}
		return Number{}, se
	}
	n.Raw = rawJSON(root)
	return n, nil
}
