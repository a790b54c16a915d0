package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"switchboard/livestream"
	"switchboard/phone"
)

// minAdminToken is the shortest http.admin_token accepted.
const minAdminToken = 16

var (
	trunkNameRE = regexp.MustCompile(`^[a-z0-9_-]+$`)
	userIDRE    = regexp.MustCompile(`^[a-z0-9_.-]+$`)
	portsRE     = regexp.MustCompile(`^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$`)
)

// validate checks values against each other and against their allowed
// ranges once the whole file is decoded (numbers need default_region, which
// may come after them), and fills the derived fields.
func (d *decoder) validate(c *Config) {
	if c.DataDir == "" {
		d.failAt("data_dir", "must not be empty")
	}
	if phone.KnownRegion(c.DefaultRegion) {
		c.DefaultRegion = strings.ToUpper(c.DefaultRegion)
	} else {
		d.failAt("default_region", "%q is not a known region (use a two-letter ISO 3166-1 code such as \"US\" or \"PL\")", c.DefaultRegion)
	}
	if c.DrainTimeout < 0 {
		d.failAt("drain_timeout", "must not be negative")
	}
	d.validateSIP(&c.SIP)
	d.validateRTP(&c.RTP)
	if err := checkListen(c.HTTP.Listen); err != nil {
		d.failAt("http.listen", "%v", err)
	}
	d.validateHTTPS(&c.HTTP)
	// The admin token mints sign-in tokens for anyone, so a short one
	// would be the weakest lock on the gateway.
	if c.HTTP.AdminToken != "" && len(c.HTTP.AdminToken) < minAdminToken {
		d.failAt("http.admin_token", "is %d characters; use at least %d (e.g. from `openssl rand -hex 32`)", len(c.HTTP.AdminToken), minAdminToken)
	}
	d.validateWebRTC(&c.WebRTC)
	d.validateTrunks(c)
	d.validateUsers(c)
	d.validateNumbers(c)
	d.validateContacts(c)
	d.validateGreetings(&c.Greetings)
	d.validateTeams(c)
	if c.Recording.RetentionDays < 0 || c.Recording.RetentionDays > 36500 {
		d.failAt("recording.retention_days", "%d is out of range (0 keeps recordings; at most 36500)", c.Recording.RetentionDays)
	}
	if c.Recording.StreamURL != "" {
		// The stream's own check, so config and client agree on what runs.
		if _, err := livestream.ParseURL(c.Recording.StreamURL); err != nil {
			d.failAt("recording.stream_url", "%v", strings.TrimPrefix(err.Error(), livestream.ErrConfig.Error()+": "))
		}
	}
}

func (d *decoder) validateSIP(s *SIP) {
	if err := checkListen(s.Listen); err != nil {
		d.failAt("sip.listen", "%v", err)
	}
	if s.PublicAddress != "" {
		if err := checkHostOptionalPort(s.PublicAddress); err != nil {
			d.failAt("sip.public_address", "%v", err)
		}
	}
	// 1024 fits any sane INVITE's headers; 65535 is the largest UDP datagram
	// (RFC 3261 §18.1.1 otherwise expects TCP above the path MTU).
	if s.MaxMessageSize < 1024 || s.MaxMessageSize > 65535 {
		d.failAt("sip.max_message_size", "%d is out of range (1024 to 65535 bytes)", s.MaxMessageSize)
	}
	switch {
	case strings.TrimSpace(s.UserAgent) == "":
		d.failAt("sip.user_agent", "must not be empty")
	case strings.ContainsFunc(s.UserAgent, func(r rune) bool { return r < ' ' || r == 0x7f }):
		// A control character would end the header line (RFC 3261 §25.1).
		d.failAt("sip.user_agent", "must not contain control characters or line breaks")
	}
}

func (d *decoder) validateRTP(r *RTP) {
	if _, err := netip.ParseAddr(r.Address); err != nil {
		d.failAt("rtp.address", "%q is not an IP address (use \"0.0.0.0\" for every interface)", r.Address)
	}
	if lo, hi, err := parsePorts(r.Ports); err != nil {
		d.failAt("rtp.ports", "%v", err)
	} else {
		r.PortMin, r.PortMax = lo, hi
	}
	if r.Timeout < time.Second {
		d.failAt("rtp.timeout", "%s is too short (at least 1s)", r.Timeout)
	}
}

// parsePorts parses the RTP range "MIN-MAX". RFC 3550 §11: RTP uses an even
// port and RTCP the next odd one, so MIN must be even and the range must
// hold at least two such pairs.
func parsePorts(s string) (lo, hi int, err error) {
	m := portsRE.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, fmt.Errorf("%q is not a port range MIN-MAX (for example \"20000-20999\")", s)
	}
	lo, _ = strconv.Atoi(m[1])
	hi, _ = strconv.Atoi(m[2])
	switch {
	case lo < 1024:
		return 0, 0, fmt.Errorf("%q starts below 1024", s)
	case hi > 65535:
		return 0, 0, fmt.Errorf("%q ends above 65535", s)
	case lo%2 != 0:
		return 0, 0, fmt.Errorf("%q starts on an odd port; RTP needs an even port with RTCP on the next", s)
	case hi-lo+1 < 4:
		return 0, 0, fmt.Errorf("%q holds fewer than two RTP/RTCP port pairs", s)
	}
	return lo, hi, nil
}

func (d *decoder) validateTrunks(c *Config) {
	used := map[string]string{} // trunk name -> first number path using it
	for i, n := range c.Numbers {
		if _, ok := used[n.Trunk]; !ok && n.Trunk != "" {
			used[n.Trunk] = fmt.Sprintf("numbers[%d]", i)
		}
	}
	seen := map[string]string{}
	for i := range c.Trunks {
		t := &c.Trunks[i]
		p := fmt.Sprintf("trunks[%d]", i)
		if d.broken[p] {
			continue
		}
		switch {
		case t.Name == "":
			d.required(p+".name", "")
		case !trunkNameRE.MatchString(t.Name):
			d.failAt(p+".name", "%q may use only a-z, 0-9, \"_\" and \"-\"", t.Name)
		case seen[t.Name] != "":
			d.failAt(p+".name", "duplicate trunk name %q (also %s)", t.Name, seen[t.Name])
		default:
			seen[t.Name] = p
		}
		t.Inbound.Prefixes = nil
		for j, a := range t.Inbound.Allow {
			pfx, err := parseAllow(strings.TrimSpace(a))
			if err != nil {
				d.failAt(fmt.Sprintf("%s.inbound.allow[%d]", p, j), "%v", err)
				continue
			}
			t.Inbound.Prefixes = append(t.Inbound.Prefixes, pfx)
		}
		d.validateOutbound(&t.Outbound, p+".outbound", used[t.Name])
	}
}

func (d *decoder) validateOutbound(o *Outbound, p, usedBy string) {
	if o.Proxy != "" {
		if _, err := ParseProxy(o.Proxy); err != nil {
			d.failAt(p+".proxy", "%q: %v", o.Proxy, err)
		}
	} else if usedBy != "" {
		d.required(p+".proxy", usedBy+" sends calls through this trunk")
	} else if o.Register {
		d.required(p+".proxy", "register is true")
	}
	if o.Password != "" && o.Username == "" {
		d.required(p+".username", "a password is set")
	}
	if o.Register && (o.Username == "" || o.Password == "") {
		d.failAt(p+".register", "needs username and password")
	}
	if o.RegisterExpiry < time.Minute || o.RegisterExpiry > 24*time.Hour {
		d.failAt(p+".register_expiry", "%s is out of range (60s to 24h)", o.RegisterExpiry)
	}
	if o.FromDomain != "" && !validHost(o.FromDomain) {
		d.failAt(p+".from_domain", "%q is not a domain name or IP address", o.FromDomain)
	}
}

func (d *decoder) validateUsers(c *Config) {
	ids := map[string]string{}
	tokens := map[string]string{}
	for i, u := range c.Users {
		p := fmt.Sprintf("users[%d]", i)
		if d.broken[p] {
			continue
		}
		switch {
		case u.ID == "":
			d.required(p+".id", "")
		case !userIDRE.MatchString(u.ID):
			d.failAt(p+".id", "%q may use only a-z, 0-9, \"_\", \".\" and \"-\"", u.ID)
		case ids[u.ID] != "":
			d.failAt(p+".id", "duplicate user id %q (also %s)", u.ID, ids[u.ID])
		default:
			ids[u.ID] = p
		}
		if u.Token != "" {
			// Sign-in finds the user by token, so a shared token would be
			// ambiguous. The token itself stays out of the message.
			if other := tokens[u.Token]; other != "" {
				d.failAt(p+".token", "same token as %s; every user needs their own", other)
			} else {
				tokens[u.Token] = p
			}
		}
	}
}

func (d *decoder) validateNumbers(c *Config) {
	region := c.DefaultRegion
	ours := map[string]string{} // E.164 -> path of the number entry
	// First pass: normalise our numbers, so the second can tell a forward
	// target that is one of them wherever it appears in the list.
	for i := range c.Numbers {
		n := &c.Numbers[i]
		p := fmt.Sprintf("numbers[%d]", i)
		if d.broken[p] {
			continue
		}
		if n.Number == "" {
			d.required(p+".number", "")
			continue
		}
		e, err := phone.Normalize(n.Number, region)
		if err != nil {
			d.failAt(p+".number", "%q is not a phone number", n.Number)
			continue
		}
		n.Number = e
		if other := ours[e]; other != "" {
			d.failAt(p+".number", "duplicate number %s (also %s)", e, other)
			continue
		}
		ours[e] = p
	}
	for i := range c.Numbers {
		p := fmt.Sprintf("numbers[%d]", i)
		if d.broken[p] {
			continue
		}
		d.validateNumber(c, &c.Numbers[i], p, ours)
	}
}

// validateNumber checks one number's settings at path p against the rest of
// the configuration; ours maps our E.164 numbers to their paths (a forward
// target there would loop).
func (d *decoder) validateNumber(c *Config, n *Number, p string, ours map[string]string) {
	region := c.DefaultRegion
	{
		if n.Trunk == "" {
			d.required(p+".trunk", "")
		} else if _, ok := c.Trunk(n.Trunk); !ok {
			d.failAt(p+".trunk", "no trunk is named %q", n.Trunk)
		}
		if n.Owner != "" {
			if _, ok := c.User(n.Owner); !ok {
				d.failAt(p+".owner", "no user has id %q", n.Owner)
			}
		}
		switch n.Ringing {
		case RingForward, RingBrowser, RingBoth:
		default:
			d.failAt(p+".ringing", "%q must be %s, %s or %s", n.Ringing, RingForward, RingBrowser, RingBoth)
		}
		if n.ForwardTo != "" {
			e, err := phone.Normalize(n.ForwardTo, region)
			switch {
			case err != nil:
				d.failAt(p+".forward_to", "%q is not a phone number", n.ForwardTo)
			case ours[e] != "":
				d.failAt(p+".forward_to", "%s is our own number (%s); forwarding there would loop", e, ours[e])
			default:
				n.ForwardTo = e
			}
		} else if n.Ringing == RingForward || n.Ringing == RingBoth {
			d.required(p+".forward_to", "ringing is "+n.Ringing)
		}
		if n.RingTimeout < time.Second || n.RingTimeout > 300*time.Second {
			d.failAt(p+".ring_timeout", "%s is out of range (1s to 300s)", n.RingTimeout)
		}
		d.validateVoice(n, p)
		if n.WorkingHours != nil {
			d.validateHours(n.WorkingHours, p+".working_hours")
		}
		n.NoAnswerAction = d.validateAction(n.NoAnswer, p+".no_answer", c, ours)
		n.AfterHoursAction = d.validateAction(n.AfterHours, p+".after_hours", c, ours)
	}
}

// required reports a missing value at path, saying why it is needed when
// why is not empty, unless the value was present with the wrong type (that
// is already reported).
func (d *decoder) required(path, why string) {
	switch {
	case d.broken[path]:
	case why == "":
		d.failAt(path, "is required")
	default:
		d.failAt(path, "is required because %s", why)
	}
}
