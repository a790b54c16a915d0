package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. The
// kernel fixes it at 100 for user space on every architecture Go supports
// on Linux (sysconf(_SC_CLK_TCK)).
const clockTicks = 100

// errNoProc means /proc did not have what we looked for.
var errNoProc = errors.New("probe: /proc field not found")

// procSample is one reading of a process's CPU time and resident memory.
type procSample struct {
	At      time.Time
	CPU     time.Duration // user + system time so far
	RSSKiB  uint64
	Threads uint64
}

// readProc samples process pid ("self" for 0) from /proc.
func readProc(pid int) (procSample, error) {
	dir := "/proc/self"
	if pid > 0 {
		dir = "/proc/" + strconv.Itoa(pid)
	}
	s := procSample{At: time.Now()}
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return s, fmt.Errorf("probe: %w", err)
	}
	if s.CPU, err = parseStatCPU(string(stat)); err != nil {
		return s, err
	}
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return s, fmt.Errorf("probe: %w", err)
	}
	if s.RSSKiB, err = statusField(string(status), "VmRSS"); err != nil {
		return s, err
	}
	if s.Threads, err = statusField(string(status), "Threads"); err != nil {
		return s, err
	}
	return s, nil
}

// parseStatCPU returns utime+stime from the text of /proc/PID/stat. The
// command name (field 2) may hold spaces and parentheses, so fields are
// counted from the last ')' (proc(5)).
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: malformed stat", errNoProc)
	}
	f := strings.Fields(stat[i+1:])
	// After the name: field 3 (state) is f[0], so utime (14) is f[11] and
	// stime (15) is f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("%w: stat has %d fields", errNoProc, len(f)+2)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("%w: utime/stime: %w", errNoProc, err)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// statusField returns the first number of a "Key:\tN kB" line of /proc/PID/status.
func statusField(status, key string) (uint64, error) {
	for line := range strings.Lines(status) {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != key {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			break
		}
		return strconv.ParseUint(f[0], 10, 64)
	}
	return 0, fmt.Errorf("%w: %s", errNoProc, key)
}

// machineSample is the whole machine's CPU time from /proc/stat, in ticks.
type machineSample struct {
	Busy, Total uint64
}

// readMachine samples /proc/stat's aggregate cpu line.
func readMachine() (machineSample, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineSample{}, fmt.Errorf("probe: %w", err)
	}
	return parseMachine(string(b))
}

// parseMachine reads the "cpu " line: user nice system idle iowait irq
// softirq steal ...; idle and iowait are the not-busy part.
func parseMachine(stat string) (machineSample, error) {
	for line := range strings.Lines(stat) {
		f := strings.Fields(line)
		if len(f) < 5 || f[0] != "cpu" {
			continue
		}
		var m machineSample
		for i, v := range f[1:] {
			if i >= 8 { // guest time is already inside user and nice
				break
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return m, fmt.Errorf("%w: /proc/stat: %w", errNoProc, err)
			}
			m.Total += n
			if i != 3 && i != 4 {
				m.Busy += n
			}
		}
		return m, nil
	}
	return machineSample{}, fmt.Errorf("%w: /proc/stat cpu line", errNoProc)
}

// scrape is one read of the gateway's /metrics.
type scrape struct {
	// values maps a series as written ("name{label=\"v\"}") to its value.
	values map[string]float64
	// latency is the relay latency histogram.
	latency buckets
}

// latencyMetric is the gateway's relay latency histogram.
const latencyMetric = "switchboard_rtp_relay_latency_seconds"

// scrapeMetrics fetches and parses url.
func scrapeMetrics(ctx context.Context, url string) (scrape, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return scrape{}, fmt.Errorf("metrics: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return scrape{}, fmt.Errorf("metrics: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return scrape{}, fmt.Errorf("metrics: %s: %s", url, res.Status)
	}
	return parseMetrics(res.Body)
}

// parseMetrics reads the Prometheus text exposition format (version 0.0.4):
// "# ..." comment lines and "series value [timestamp]" samples.
func parseMetrics(r io.Reader) (scrape, error) {
	s := scrape{values: map[string]float64{}}
	type bucket struct{ le, cum float64 }
	var bs []bucket
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		// The series ends at the last '}' if it has labels, else at the first blank.
		cut := strings.IndexByte(line, ' ')
		if j := strings.LastIndexByte(line, '}'); j >= 0 {
			cut = j + 1
		}
		if cut <= 0 || cut >= len(line) {
			return s, fmt.Errorf("metrics: malformed line %q", line)
		}
		series := line[:cut]
		fields := strings.Fields(line[cut:])
		if len(fields) == 0 {
			return s, fmt.Errorf("metrics: no value in %q", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return s, fmt.Errorf("metrics: value in %q: %w", line, err)
		}
		s.values[series] = v
		if strings.HasPrefix(series, latencyMetric+"_bucket{") {
			le, ok := labelValue(series, "le")
			if !ok {
				return s, fmt.Errorf("metrics: bucket without le: %q", line)
			}
			bound, err := strconv.ParseFloat(le, 64)
			if err != nil {
				return s, fmt.Errorf("metrics: le in %q: %w", line, err)
			}
			bs = append(bs, bucket{bound, v})
		}
	}
	if err := sc.Err(); err != nil {
		return s, fmt.Errorf("metrics: %w", err)
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	for _, b := range bs {
		s.latency.le = append(s.latency.le, b.le)
		s.latency.cum = append(s.latency.cum, b.cum)
	}
	if n := len(bs); n > 0 && !math.IsInf(bs[n-1].le, 1) {
		return s, fmt.Errorf("metrics: %s has no +Inf bucket", latencyMetric)
	}
	return s, nil
}

// labelValue returns the value of label name in a series like a{b="c"}.
func labelValue(series, name string) (string, bool) {
	i := strings.Index(series, name+`="`)
	if i < 0 || (i > 0 && series[i-1] != '{' && series[i-1] != ',') {
		return "", false
	}
	rest := series[i+len(name)+2:]
	j := strings.IndexByte(rest, '"')
	if j < 0 {
		return "", false
	}
	return rest[:j], true
}

// get returns a series' value, or NaN if the gateway did not export it.
func (s scrape) get(series string) float64 {
	v, ok := s.values[series]
	if !ok {
		return math.NaN()
	}
	return v
}
