package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Parse parses a configuration from data. name is used in error messages
// (normally the file path). An empty document yields Default(). Every
// problem found is reported, each as a *FieldError, joined and wrapped with
// ErrInvalid.
func Parse(data []byte, name string) (*Config, error) {
	d := &decoder{file: name, lines: map[string]int{}, broken: map[string]bool{}}
	cfg := Default()
	root, ok := d.document(data)
	if ok {
		d.config(root, cfg)
		d.validate(cfg)
	}
	if len(d.errs) > 0 {
		// Decoding finds problems in document order and validation in rule
		// order; sorting by line reads top to bottom like the file.
		sort.SliceStable(d.errs, func(i, j int) bool { return d.errs[i].Line < d.errs[j].Line })
		errs := make([]error, len(d.errs))
		for i, e := range d.errs {
			errs[i] = e
		}
		return nil, joinProblems(errs)
	}
	return cfg, nil
}

// decoder walks the yaml.Node tree itself rather than using yaml struct
// tags, because yaml.v3's Decode neither rejects unknown keys with a line
// number nor reports more than the first type error per field, and it
// ignores duplicate keys when decoding into nodes.
type decoder struct {
	file string
	errs []*FieldError
	// lines maps each key path seen to the line of its value, so that
	// validation after decoding can still point at the right line.
	lines map[string]int
	// broken holds paths whose value had the wrong YAML type.
	broken map[string]bool
}

func (d *decoder) fail(line int, path, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{File: d.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// failAt reports a problem at path, using the line recorded for path or,
// when path was never written (a missing required key), for its nearest
// ancestor.
func (d *decoder) failAt(path, format string, args ...any) {
	d.fail(d.line(path), path, format, args...)
}

func (d *decoder) line(path string) int {
	for p := path; p != ""; p = parent(p) {
		if l, ok := d.lines[p]; ok {
			return l
		}
	}
	return d.lines[""]
}

// parent strips the last ".key" or "[i]" from a key path.
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document parses data into its single root node. It returns ok=false after
// recording a syntax error; an empty document gives a nil root.
func (d *decoder) document(data []byte) (*yaml.Node, bool) {
	d.lines[""] = 1
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, true
		}
		d.syntax(err)
		return nil, false
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.syntax(err)
		return nil, false
	default:
		d.fail(extra.Line, "", "a second YAML document (---) is not allowed; put everything in one")
		return nil, false
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		return doc.Content[0], true
	}
	return nil, true
}

func (d *decoder) syntax(err error) {
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		d.fail(line, "", "YAML syntax: %s", m[2])
		return
	}
	d.fail(0, "", "YAML syntax: %s", strings.TrimPrefix(err.Error(), "yaml: "))
}

// keys maps the keys a mapping may have to the function decoding each value.
type keys map[string]func(n *yaml.Node, path string)

// mapping decodes a mapping node, reporting unknown and duplicate keys.
// A null node (an empty value) leaves every default in place. A node of
// another kind is reported and its path marked broken, so that validation
// does not pile "is required" errors on top of the type error.
func (d *decoder) mapping(n *yaml.Node, path string, ks keys) {
	n = resolve(n)
	if n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n.Line, path, "expected a mapping (key: value lines), got %s", describe(n))
		d.broken[path] = true
		return
	}
	first := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k.Line, path, "a key must be a plain word, got %s", describe(k))
			continue
		}
		p := k.Value
		if path != "" {
			p = path + "." + k.Value
		}
		// YAML 1.2 §3.2.1.1 requires keys to be unique; yaml.v3 only checks
		// when decoding into Go maps and structs, not nodes.
		if l, dup := first[k.Value]; dup {
			d.fail(k.Line, p, "duplicate key (first set on line %d)", l)
			continue
		}
		first[k.Value] = k.Line
		decode, known := ks[k.Value]
		if !known {
			d.fail(k.Line, p, "unknown key")
			continue
		}
		d.lines[p] = valueLine(k, v)
		decode(v, p)
	}
}

// sequence decodes a list node, calling each for every element.
func (d *decoder) sequence(n *yaml.Node, path string, each func(i int, n *yaml.Node, path string)) {
	n = resolve(n)
	if n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n.Line, path, "expected a list (\"- item\" lines), got %s", describe(n))
		d.broken[path] = true
		return
	}
	for i, item := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = resolve(item).Line
		each(i, item, p)
	}
}

// scalar returns the text of a scalar node, or ok=false after reporting the
// wrong type. Null leaves the default in place (ok=false, no error).
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	n = resolve(n)
	if n == nil || isNull(n) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(n.Line, path, "expected %s, got %s", want, describe(n))
		d.broken[path] = true
		return "", false
	}
	return n.Value, true
}

// str decodes any scalar as text: "password: 1234" is a string to us even
// though YAML reads it as a number.
func (d *decoder) str(dst *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if v, ok := d.scalar(n, path, "a string"); ok {
			*dst = v
		}
	}
}

func (d *decoder) integer(dst *int) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		v, ok := d.scalar(n, path, "a whole number")
		if !ok {
			return
		}
		i, err := strconv.ParseInt(v, 0, 32)
		if err != nil || resolve(n).Tag != "!!int" {
			d.fail(resolve(n).Line, path, "%q is not a whole number", v)
			return
		}
		*dst = int(i)
	}
}

func (d *decoder) boolean(dst *bool) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		v, ok := d.scalar(n, path, "true or false")
		if !ok {
			return
		}
		b, err := strconv.ParseBool(v)
		if err != nil || resolve(n).Tag != "!!bool" {
			d.fail(resolve(n).Line, path, "%q is not true or false", v)
			return
		}
		*dst = b
	}
}

func (d *decoder) duration(dst *time.Duration) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		v, ok := d.scalar(n, path, "a duration")
		if !ok {
			return
		}
		dur, err := time.ParseDuration(v)
		if err != nil {
			d.fail(resolve(n).Line, path, "%q is not a duration (write it like \"25s\", \"1m30s\" or \"2h\")", v)
			return
		}
		*dst = dur
	}
}

func (d *decoder) stringList(dst *[]string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		var out []string
		d.sequence(n, path, func(_ int, item *yaml.Node, p string) {
			if v, ok := d.scalar(item, p, "a string"); ok {
				out = append(out, v)
			}
		})
		*dst = out
	}
}

// config decodes the top-level mapping into cfg, which holds the defaults.
func (d *decoder) config(root *yaml.Node, cfg *Config) {
	d.mapping(root, "", keys{
		"sip": func(n *yaml.Node, p string) {
			d.mapping(n, p, keys{
				"listen":           d.str(&cfg.SIP.Listen),
				"public_address":   d.str(&cfg.SIP.PublicAddress),
				"max_message_size": d.integer(&cfg.SIP.MaxMessageSize),
				"user_agent":       d.str(&cfg.SIP.UserAgent),
			})
		},
		"rtp": func(n *yaml.Node, p string) {
			d.mapping(n, p, keys{
				"address": d.str(&cfg.RTP.Address),
				"ports":   d.str(&cfg.RTP.Ports),
				"timeout": d.duration(&cfg.RTP.Timeout),
			})
		},
		"http": func(n *yaml.Node, p string) {
			d.mapping(n, p, keys{
				"listen":          d.str(&cfg.HTTP.Listen),
				"tls_cert":        d.str(&cfg.HTTP.TLSCert),
				"tls_key":         d.str(&cfg.HTTP.TLSKey),
				"allowed_origins": d.stringList(&cfg.HTTP.AllowedOrigins),
				"admin_token":     d.str(&cfg.HTTP.AdminToken),
			})
		},
		"webrtc":         func(n *yaml.Node, p string) { d.webrtc(n, p, &cfg.WebRTC) },
		"data_dir":       d.str(&cfg.DataDir),
		"default_region": d.str(&cfg.DefaultRegion),
		"drain_timeout":  d.duration(&cfg.DrainTimeout),
		"teams": func(n *yaml.Node, p string) {
			d.sequence(n, p, func(_ int, item *yaml.Node, ip string) {
				cfg.Teams = append(cfg.Teams, d.team(item, ip))
			})
		},
		"greetings": func(n *yaml.Node, p string) {
			d.mapping(n, p, keys{"max_length": d.duration(&cfg.Greetings.MaxLength)})
		},
		"recording": func(n *yaml.Node, p string) {
			d.mapping(n, p, keys{
				"allowed":        d.boolean(&cfg.Recording.Allowed),
				"retention_days": d.integer(&cfg.Recording.RetentionDays),
				"stream_url":     d.str(&cfg.Recording.StreamURL),
			})
		},
		"trunks": func(n *yaml.Node, p string) {
			d.sequence(n, p, func(_ int, item *yaml.Node, ip string) {
				cfg.Trunks = append(cfg.Trunks, d.trunk(item, ip))
			})
		},
		"users": func(n *yaml.Node, p string) {
			d.sequence(n, p, func(_ int, item *yaml.Node, ip string) {
				var u User
				d.mapping(item, ip, keys{
					"id":              d.str(&u.ID),
					"name":            d.str(&u.Name),
					"team":            d.str(&u.Team),
					"token":           d.str(&u.Token),
					"record_outbound": d.boolean(&u.RecordOutbound),
				})
				cfg.Users = append(cfg.Users, u)
			})
		},
		"contacts": func(n *yaml.Node, p string) {
			d.sequence(n, p, func(_ int, item *yaml.Node, ip string) {
				cfg.Contacts = append(cfg.Contacts, d.contact(item, ip))
			})
		},
		"numbers": func(n *yaml.Node, p string) {
			d.sequence(n, p, func(_ int, item *yaml.Node, ip string) {
				cfg.Numbers = append(cfg.Numbers, d.number(item, ip))
			})
		},
	})
}

// number decodes one numbers[] entry (or an API body of the same shape).
// Raw keeps the entry as JSON, the form the API stores and returns.
func (d *decoder) number(item *yaml.Node, ip string) Number {
	num := defaultNumber()
	d.mapping(item, ip, keys{
		"number":              d.str(&num.Number),
		"name":                d.str(&num.Name),
		"trunk":               d.str(&num.Trunk),
		"owner":               d.str(&num.Owner),
		"ringing":             d.str(&num.Ringing),
		"forward_to":          d.str(&num.ForwardTo),
		"ring_timeout":        d.duration(&num.RingTimeout),
		"record":              d.boolean(&num.Record),
		"consent":             d.prompt(&num.Consent, "text"),
		"voicemail":           d.voicemail(&num.Voicemail),
		"working_hours":       d.workingHours(&num.WorkingHours),
		"no_answer":           d.str(&num.NoAnswer),
		"after_hours":         d.str(&num.AfterHours),
		"screening":           d.boolean(&num.Screening),
		"closed_announcement": d.prompt(&num.ClosedAnnouncement, "text"),
	})
	num.Raw = rawJSON(item)
	return num
}

func (d *decoder) trunk(n *yaml.Node, path string) Trunk {
	t := Trunk{Outbound: defaultOutbound()}
	d.mapping(n, path, keys{
		"name": d.str(&t.Name),
		"inbound": func(n *yaml.Node, p string) {
			d.mapping(n, p, keys{"allow": d.stringList(&t.Inbound.Allow)})
		},
		"outbound": func(n *yaml.Node, p string) {
			o := &t.Outbound
			d.mapping(n, p, keys{
				"proxy":           d.str(&o.Proxy),
				"username":        d.str(&o.Username),
				"password":        d.str(&o.Password),
				"register":        d.boolean(&o.Register),
				"register_expiry": d.duration(&o.RegisterExpiry),
				"from_domain":     d.str(&o.FromDomain),
			})
		},
	})
	return t
}

// resolve follows YAML aliases (*name) to the anchored node.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// valueLine is where a key's value starts, or the key's line for an empty
// value, which yaml.v3 may place elsewhere.
func valueLine(k, v *yaml.Node) int {
	if v = resolve(v); v == nil || v.Line == 0 || isNull(v) {
		return k.Line
	}
	return v.Line
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	default:
		return "nothing"
	}
}
