package e2e

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// sample is one line of the Prometheus text exposition format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// metricSet is a parsed /metrics page.
type metricSet []sample

// parseMetrics reads the Prometheus text format (version 0.0.4): comment
// lines are skipped; every other line is name{label="value",...} value
// [timestamp]. Label values may escape \\, \" and \n.
func parseMetrics(text string) (metricSet, error) {
	var out metricSet
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parseSample(line)
		if err != nil {
			return nil, fmt.Errorf("metrics line %d %q: %w", n+1, line, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func parseSample(line string) (sample, error) {
	s := sample{labels: map[string]string{}}
	end := strings.IndexAny(line, "{ ")
	if end <= 0 {
		return s, fmt.Errorf("no metric name")
	}
	s.name = line[:end]
	rest := line[end:]
	if rest[0] == '{' {
		i := 1
		for {
			for i < len(rest) && (rest[i] == ' ' || rest[i] == ',') {
				i++
			}
			if i >= len(rest) {
				return s, fmt.Errorf("unterminated label set")
			}
			if rest[i] == '}' {
				i++
				break
			}
			eq := strings.IndexByte(rest[i:], '=')
			if eq <= 0 || i+eq+1 >= len(rest) || rest[i+eq+1] != '"' {
				return s, fmt.Errorf("bad label at %q", rest[i:])
			}
			key := rest[i : i+eq]
			i += eq + 2
			var val strings.Builder
			for ; i < len(rest) && rest[i] != '"'; i++ {
				if rest[i] == '\\' && i+1 < len(rest) {
					i++
					switch rest[i] {
					case 'n':
						val.WriteByte('\n')
					default:
						val.WriteByte(rest[i])
					}
					continue
				}
				val.WriteByte(rest[i])
			}
			if i >= len(rest) {
				return s, fmt.Errorf("unterminated label value")
			}
			i++ // closing quote
			s.labels[key] = val.String()
		}
		rest = rest[i:]
	}
	fields := strings.Fields(rest)
	if len(fields) < 1 || len(fields) > 2 {
		return s, fmt.Errorf("want value [timestamp], got %q", rest)
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return s, fmt.Errorf("value: %w", err)
	}
	s.value = v
	return s, nil
}

// get sums the samples called name whose labels include every pair of want
// (nil matches all). A series never exported reads 0, as Prometheus'
// increase() treats it.
func (m metricSet) get(name string, want map[string]string) float64 {
	v, _ := m.lookup(name, want)
	return v
}

// lookup is get that also reports whether any sample matched.
func (m metricSet) lookup(name string, want map[string]string) (float64, bool) {
	var sum float64
	found := false
	for _, s := range m {
		if s.name != name {
			continue
		}
		match := true
		for k, v := range want {
			if s.labels[k] != v {
				match = false
				break
			}
		}
		if match {
			sum += s.value
			found = true
		}
	}
	return sum, found
}

// series lists name's samples as name{k="v",...}=value lines, for test logs.
func (m metricSet) series(name string) []string {
	var out []string
	for _, s := range m {
		if s.name != name {
			continue
		}
		keys := make([]string, 0, len(s.labels))
		for k := range s.labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s=%q", k, s.labels[k])
		}
		out = append(out, fmt.Sprintf("%s{%s}=%v", name, strings.Join(parts, ","), s.value))
	}
	return out
}

func TestParseMetrics(t *testing.T) {
	const page = `# HELP switchboard_calls_total Ended calls.
# TYPE switchboard_calls_total counter
switchboard_calls_total{outcome="answered"} 3
switchboard_calls_total{outcome="busy"} 1
switchboard_active_calls 2
switchboard_sip_requests_total{direction="in",method="INVITE"} 7
switchboard_sip_requests_total{direction="out",method="INVITE"} 5 1700000000000
odd{a="x\"y\\z",b="line\nbreak"} +Inf
switchboard_rtp_relay_latency_seconds_bucket{le="1e-06"} 1.5e+03
`
	m, err := parseMetrics(page)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
		found  bool
	}{
		{"switchboard_calls_total", map[string]string{"outcome": "answered"}, 3, true},
		{"switchboard_calls_total", nil, 4, true},
		{"switchboard_calls_total", map[string]string{"outcome": "missed"}, 0, false},
		{"switchboard_active_calls", nil, 2, true},
		{"switchboard_sip_requests_total", map[string]string{"method": "INVITE", "direction": "out"}, 5, true},
		{"switchboard_sip_requests_total", map[string]string{"method": "INVITE"}, 12, true},
		{"odd", map[string]string{"a": `x"y\z`, "b": "line\nbreak"}, math.Inf(1), true},
		{"switchboard_rtp_relay_latency_seconds_bucket", map[string]string{"le": "1e-06"}, 1500, true},
		{"absent_total", nil, 0, false},
	}
	for _, tc := range tests {
		got, found := m.lookup(tc.name, tc.labels)
		if got != tc.want || found != tc.found {
			t.Errorf("lookup(%s, %v) = %v, %v; want %v, %v", tc.name, tc.labels, got, found, tc.want, tc.found)
		}
	}
	for _, bad := range []string{`x{a="1" 2`, `x{a=1} 2`, `x{a="1"}`, `{a="1"} 2`, `x 1 2 3`, `x abc`} {
		if _, err := parseMetrics(bad); err == nil {
			t.Errorf("parseMetrics(%q) accepted a malformed line", bad)
		}
	}
}
