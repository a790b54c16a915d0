// Command loadgen is the media half of `make bench`: it places N calls
// through the switchboard gateway (playing both the calling trunk and the
// far end the gateway forwards to), holds them with paced G.711 RTP in both
// directions, and measures the gateway while they are up: CPU, resident
// memory per call, relayed packet rate, drops and relay latency.
//
// With -webrtc the calls ring browser tabs (pion peers in the load
// generator) instead of the SIP far end, and with -ring-both as well as it:
// the numbers ring both, the first to answer wins and the other is
// cancelled; the run reports which side won how often. Every mode reports
// the calls' setup latency, INVITE sent to 200 OK received.
//
// With -recorded the number records its calls (record: true): each caller
// hears the consent announcement as early media before the call is
// forwarded, and the gateway writes a stereo WAV of every answered call.
// The run then also reports the recordings gauge, the recorders' dropped
// packets and the growth of data_dir/recordings over the window, and after
// the BYEs checks every call's recording through the gateway's API.
//
// With -voicemail it instead places N calls to a number that goes to
// voicemail: the gateway answers each itself, plays the greeting and beep
// and records the tone the caller streams. It measures the gateway's CPU
// and memory per call, the voicemail bytes written to disk per minute, the
// gateway's packet rate to each caller, that cached prompts cost no
// text-to-speech rendering, and that every message is kept.
//
// All RTP is sent by one goroutine with one ticker from preallocated
// packets, and each socket is read by one goroutine, so the load generator
// leaves as much of a small machine as it can to the gateway it measures.
//
// Results go to stdout and, with -out, to a file of key=value lines that
// scripts/bench.sh turns into its table.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// options are the command-line settings.
type options struct {
	gateway, caller, callee netip.AddrPort
	rtpIP                   netip.Addr
	number                  string
	callerCodec             uint8
	calleeCodec             uint8
	sockets                 int
	calls                   int
	observe                 int
	rate                    float64
	warmup, hold            time.Duration
	timeout                 time.Duration
	pid                     int
	metricsURL              string
	out                     string
	logLevel                slog.Level
	// WebRTC runs: the gateway's /ws URL (empty: the far end is SIP), and
	// how call i's number and its owner's token are spelled (numberFmt
	// empty: every call dials number).
	wsURL, numberFmt, tokenFmt string
	// both: the numbers ring the SIP far end and the browser tabs at once
	// (ringing: both); answerDelay is how long the SIP far end rings
	// before it answers.
	both        bool
	answerDelay time.Duration
	// Voicemail runs: the gateway answers every call itself and records
	// it; dataDir is its data_dir, whose voicemail tree is measured.
	voicemail bool
	dataDir   string
	// Recorded runs: the number records its calls; apiURL and apiToken
	// reach the gateway's REST API, where each call's recording is checked.
	recorded         bool
	apiURL, apiToken string
}

// defaultNumberFmt spells the numbers WebRTC runs dial when -number-format
// is not given: +1555100NNNN, one per user (scripts/bench.sh's configs).
const defaultNumberFmt = "+1555100%04d"

// numberOf is the number call i dials.
func (o options) numberOf(i int) string {
	if o.numberFmt == "" {
		return o.number
	}
	return fmt.Sprintf(o.numberFmt, i)
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: o.logLevel}))
	slog.SetDefault(log)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	res, err := runMode(ctx, o, log)
	if res != nil {
		printReport(os.Stdout, res)
		if o.out != "" {
			if werr := writeReport(o.out, res); werr != nil {
				fmt.Fprintln(os.Stderr, "loadgen:", werr)
				os.Exit(1)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// runMode runs the benchmark the options ask for. The report is nil when
// nothing was measured (a typed nil would not compare equal to nil).
func runMode(ctx context.Context, o options, log *slog.Logger) (report, error) {
	if o.voicemail {
		r, err := runVoicemail(ctx, o, log)
		if r == nil {
			return nil, err
		}
		return r, err
	}
	r, err := run(ctx, o, log)
	if r == nil {
		return nil, err
	}
	return r, err
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	gateway := fs.String("gateway", "127.0.0.1:15060", "gateway SIP address (UDP) the calls are sent to")
	callerAddr := fs.String("caller", "127.0.0.1:15071", "SIP address (UDP) of the calling side")
	calleeAddr := fs.String("callee", "127.0.0.1:15070", "SIP address (UDP) of the answering side: the trunk's outbound proxy in the gateway's config")
	rtpIP := fs.String("rtp-ip", "127.0.0.1", "address the RTP sockets bind to")
	number := fs.String("number", "+15550100", "number dialled (the Request-URI user)")
	callerCodec := fs.String("caller-codec", "pcmu", "codec the calling side offers: pcmu or pcma")
	calleeCodec := fs.String("callee-codec", "pcmu", "codec the answering side picks when offered: pcmu or pcma (differs from -caller-codec: the gateway transcodes)")
	sockets := fs.Int("sockets", 4, "RTP sockets shared by all streams (each has its own reader goroutine)")
	calls := fs.Int("calls", 500, "calls to hold concurrently")
	observe := fs.Int("observe", 0, "place no calls: wait until the gateway reports this many active calls (placed by another tool, e.g. SIPp), then measure")
	rate := fs.Float64("rate", 100, "calls set up (and later torn down) per second")
	warmup := fs.Duration("warmup", 3*time.Second, "time after the last call is up before measuring")
	hold := fs.Duration("hold", 20*time.Second, "measurement window with all calls up")
	timeout := fs.Duration("timeout", 3*time.Minute, "hard limit for the whole run")
	pid := fs.Int("pid", 0, "gateway process ID, for CPU and memory from /proc (0: skip)")
	metrics := fs.String("metrics", "http://127.0.0.1:18080/metrics", "gateway Prometheus endpoint")
	out := fs.String("out", "", "also write the results as key=value lines to this file")
	logLevel := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	wsURL := fs.String("webrtc", "", "gateway WebSocket URL (ws://HOST:PORT/ws): call i rings a browser tab signed in with -token-format's token i, answered by a pion WebRTC peer, instead of a SIP far end")
	numberFmt := fs.String("number-format", "", "the number call i dials (fmt verb for i), each call its own number; empty: -number for every call, or "+defaultNumberFmt+" with -webrtc")
	tokenFmt := fs.String("token-format", "tok%d", "with -webrtc: the token of the user owning call i's number (fmt verb for i)")
	voicemail := fs.Bool("voicemail", false, "the number goes to voicemail (nobody to ring): place only the calling side, stream a tone for the gateway to record, count the greeting/beep/silence it sends back, check every message is kept")
	dataDir := fs.String("data-dir", "", "with -voicemail or -recorded: the gateway's data_dir, to measure the growth of its voicemail or recording files (empty: skip)")
	recorded := fs.Bool("recorded", false, "the number records its calls (record: true): callers hear the consent first, so setup takes seconds; measure the recordings gauge and drops over the window, and after the BYEs check every call's recording through the API")
	apiURL := fs.String("api", "http://127.0.0.1:18080", "with -recorded: the gateway's HTTP base URL, for GET /api/calls and /api/calls/{id}/recording")
	apiToken := fs.String("api-token", "", "with -recorded: a user token that may read the number's recordings (its owner's), sent as Authorization: Bearer")
	both := fs.Bool("ring-both", false, "with -webrtc: the numbers ring both (ringing: both): the SIP far end at -callee rings too, the first to answer wins; reports which side won how often")
	answerDelay := fs.Duration("callee-answer-delay", 0, "the SIP far end sends 180 Ringing and answers this long after the INVITE unless the gateway cancels it first (0: answer at once, without ringing)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	o := options{number: *number, sockets: *sockets, calls: *calls, observe: *observe, rate: *rate, warmup: *warmup,
		hold: *hold, timeout: *timeout, pid: *pid, metricsURL: *metrics, out: *out,
		wsURL: *wsURL, numberFmt: *numberFmt, tokenFmt: *tokenFmt, voicemail: *voicemail, dataDir: *dataDir,
		both: *both, answerDelay: *answerDelay, recorded: *recorded, apiURL: *apiURL, apiToken: *apiToken}
	if o.wsURL != "" && o.numberFmt == "" {
		o.numberFmt = defaultNumberFmt
	}
	var errs []error
	addr := func(name, v string) netip.AddrPort {
		a, err := netip.ParseAddrPort(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("-%s: %w", name, err))
		}
		return a
	}
	o.gateway, o.caller, o.callee = addr("gateway", *gateway), addr("caller", *callerAddr), addr("callee", *calleeAddr)
	var err error
	if o.rtpIP, err = netip.ParseAddr(*rtpIP); err != nil {
		errs = append(errs, fmt.Errorf("-rtp-ip: %w", err))
	}
	if o.callerCodec, err = codecByName(*callerCodec); err != nil {
		errs = append(errs, fmt.Errorf("-caller-codec: %w", err))
	}
	if o.calleeCodec, err = codecByName(*calleeCodec); err != nil {
		errs = append(errs, fmt.Errorf("-callee-codec: %w", err))
	}
	if err := o.logLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		errs = append(errs, fmt.Errorf("-log-level: %w", err))
	}
	if o.calls < 1 || o.rate <= 0 || o.sockets < 1 || o.hold <= 0 || o.warmup < 0 || o.observe < 0 {
		errs = append(errs, errors.New("-calls, -rate, -sockets and -hold must be positive, -warmup and -observe not negative"))
	}
	if o.voicemail && (o.observe > 0 || o.wsURL != "") {
		errs = append(errs, errors.New("-voicemail places its own calls to a SIP number: not with -observe or -webrtc"))
	}
	if o.dataDir != "" && !o.voicemail && !o.recorded {
		errs = append(errs, errors.New("-data-dir only applies to -voicemail and -recorded"))
	}
	if o.recorded && (o.voicemail || o.observe > 0 || o.wsURL != "" || o.numberFmt != "") {
		errs = append(errs, errors.New("-recorded places SIP calls to -number: not with -voicemail, -observe, -webrtc or -number-format"))
	}
	if o.voicemail && o.numberFmt != "" {
		errs = append(errs, errors.New("-voicemail dials -number: not with -number-format"))
	}
	if o.both && o.wsURL == "" {
		errs = append(errs, errors.New("-ring-both needs -webrtc (the browser side of the race)"))
	}
	// The delay applies to the SIP far end: runs that have one.
	sipFarEnd := !o.voicemail && o.observe == 0 && (o.wsURL == "" || o.both)
	if o.answerDelay < 0 || (o.answerDelay > 0 && !sipFarEnd) {
		errs = append(errs, errors.New("-callee-answer-delay must not be negative, and applies only to runs with a SIP far end (not -voicemail, -observe, or -webrtc without -ring-both)"))
	}
	return o, errors.Join(errs...)
}

// snapshot is everything sampled at one edge of the measurement window.
type snapshot struct {
	gw      procSample
	self    procSample
	machine machineSample
	metrics scrape
	rtp     counters
	e2e     buckets
	lag     buckets
	wr      browserCounters // WebRTC runs only
	wrE2E   buckets         // SIP -> browser one-way latency
	disk    int64           // bytes under data_dir/recordings (recorded runs); -1 when not measured
}

func takeSnapshot(ctx context.Context, o options, eng *rtpEngine, fl *fleet) (snapshot, error) {
	var s snapshot
	var errs []error
	var err error
	if o.pid > 0 {
		s.gw, err = readProc(o.pid)
		errs = append(errs, err)
	}
	s.self, err = readProc(0)
	errs = append(errs, err)
	s.machine, err = readMachine()
	errs = append(errs, err)
	s.metrics, err = scrapeMetrics(ctx, o.metricsURL)
	errs = append(errs, err)
	s.rtp = eng.snapshot()
	s.e2e = eng.latency.cumulative()
	s.lag = eng.lag.cumulative()
	if fl != nil {
		s.wr = fl.snapshot()
		s.wrE2E = fl.latency.cumulative()
	}
	s.disk, err = recordingsDisk(o)
	errs = append(errs, err)
	return s, errors.Join(errs...)
}

// run does one benchmark: set up, warm up, measure, tear down. It returns
// what it measured even when it also returns an error.
func run(ctx context.Context, o options, log *slog.Logger) (*result, error) {
	if o.observe > 0 {
		return observe(ctx, o, log)
	}
	sipLog := log.With("component", "sipgo")
	stamp := o.callerCodec == o.calleeCodec
	eng, err := newRTPEngine(o.rtpIP, o.sockets, stamp)
	if err != nil {
		return nil, err
	}
	rtpCtx, stopRTP := context.WithCancel(ctx)
	defer func() { stopRTP(); eng.stop() }()
	eng.start(rtpCtx)

	// The far end: a SIP agent, one browser tab per user (WebRTC runs),
	// or both racing to answer.
	var ce *callee
	var fl *fleet
	if o.wsURL == "" || o.both {
		calleeAg, err := newAgent(o.callee, "callee", sipLog)
		if err != nil {
			return nil, err
		}
		defer calleeAg.close()
		ce = newCallee(calleeAg, eng, o.calleeCodec, o.answerDelay)
		if err := calleeAg.serve(); err != nil {
			return nil, err
		}
	}
	if o.wsURL != "" {
		if fl, err = newFleet(o.wsURL, eng.base, log.With("component", "browser")); err != nil {
			return nil, err
		}
		fl.race = o.both
		fl.start()
		defer fl.close()
	}
	callerAg, err := newAgent(o.caller, "caller", sipLog)
	if err != nil {
		return nil, err
	}
	defer callerAg.close()
	cr := newCaller(callerAg, eng, o.gateway, o.number, []uint8{o.callerCodec})
	if err := callerAg.serve(); err != nil {
		return nil, err
	}

	r := &result{opts: o, transcoding: !stamp, webrtc: fl != nil, both: o.both, recorded: o.recorded}
	before, err := takeSnapshot(ctx, o, eng, fl)
	if err != nil {
		return nil, fmt.Errorf("before calls: %w", err)
	}
	r.rssBefore = before.gw.RSSKiB
	if fl != nil {
		// Tabs sign in before any call, as agents open the page before
		// the phones ring; their memory counts as the before figure.
		tokens := make([]string, o.calls)
		for i := range tokens {
			tokens[i] = fmt.Sprintf(o.tokenFmt, i)
		}
		if err := fl.signIn(ctx, tokens); err != nil {
			return nil, fmt.Errorf("signing in the browser tabs: %w", err)
		}
		if o.pid > 0 {
			if p, err := readProc(o.pid); err == nil {
				r.rssBefore = p.RSSKiB
			}
		}
	}

	// Set up: one INVITE every 1/rate s, each call on its own goroutine.
	var gw0 procSample
	if o.pid > 0 {
		gw0, _ = readProc(o.pid)
	}
	calls, failures := setup(ctx, o, cr)
	r.established = len(calls)
	r.setupFailed = o.calls - len(calls)
	r.setupFailures = failures
	r.setupTime = time.Since(before.self.At)
	r.setupLat = setupStatsOf(calls)
	log.Info("calls set up", "established", r.established, "failed", r.setupFailed, "took", r.setupTime,
		"p50", r.setupLat.p50, "p99", r.setupLat.p99)
	defer teardownOnExit(calls, cr)

	if r.established == 0 {
		return r, fmt.Errorf("no call was established (%s)", strings.Join(failures, "; "))
	}
	switch {
	case o.both:
		if err := waitFarEnds(ctx, ce, fl, r.established); err != nil {
			return r, err
		}
	case fl != nil:
		if err := waitConnected(ctx, fl, uint64(r.established)); err != nil {
			return r, err
		}
	}
	// Setup CPU: from the first INVITE until every far end has its media
	// up (for a browser that includes ICE and the DTLS handshake).
	if gw0.At != (time.Time{}) {
		if gw1, err := readProc(o.pid); err == nil {
			r.gwCPUSetup = cpuPct(gw0, gw1, runtime.NumCPU())
		}
	}
	if err := r.window(ctx, o, eng, fl); err != nil {
		return r, err
	}
	r.remoteHangups = cr.remoteHangups.Load()
	if fl != nil {
		r.remoteHangups += fl.endedEarly.Load()
		fl.tearingDown.Store(true)
	}
	if o.both {
		// After the warm-up and the window, each call's far end is the
		// side that won it; the losers were cancelled or hung up long ago.
		r.wonBySIP, r.wonByBrowser = ce.live(), int(fl.live.Load())
	}

	// Tear down at the same rate, then wait for both ends to agree.
	r.byeFailed = teardown(ctx, o, cr, calls)
	calls = nil
	deadline := time.Now().Add(10 * time.Second)
	for {
		sc, err := scrapeMetrics(ctx, o.metricsURL)
		if err == nil {
			r.activeAfter = sc.get("switchboard_active_calls")
			r.answeredTotal = sc.get(`switchboard_calls_total{outcome="answered"}`)
		}
		if ce != nil {
			r.calleeLive = ce.live()
		}
		// Every browser call ended; in a race run only those the tabs won.
		browsersDone := fl == nil || fl.ended.Load() >= uint64(r.established) || (o.both && fl.live.Load() == 0)
		if (r.activeAfter == 0 && r.calleeLive == 0 && browsersDone) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond) // polling the gateway's gauge: there is no event to wait on
	}
	if o.pid > 0 {
		if p, err := readProc(o.pid); err == nil {
			r.rssAfter = p.RSSKiB
		}
	}
	if ce != nil {
		r.rejectedByCallee = ce.rejected.Load()
		r.calleeAnswered, r.calleeCancelled = ce.answered.Load(), ce.cancelled.Load()
		r.calleeLate = ce.lateAnswered.Load()
	}
	if fl != nil {
		c := fl.snapshot()
		r.browserAnswerErrs, r.browserEnded = c.AnswerErrors, c.Ended
		r.browserAnswered, r.browserElsewhere, r.browserLosers = c.Answered, c.AnsweredElsewhere, c.EndedLosers
	}
	if o.recorded {
		if err := r.settleRecordings(ctx, o, log); err != nil {
			return r, err
		}
	}
	return r, nil
}

// observe measures calls another tool places: it samples the gateway's
// memory before they start, waits until o.observe calls are up, then
// measures the window like run does.
func observe(ctx context.Context, o options, log *slog.Logger) (*result, error) {
	// An engine without streams keeps the snapshot code path identical.
	eng, err := newRTPEngine(o.rtpIP, 1, false)
	if err != nil {
		return nil, err
	}
	defer eng.stop()
	r := &result{opts: o, observed: true}
	before, err := takeSnapshot(ctx, o, eng, nil)
	if err != nil {
		return nil, fmt.Errorf("before calls: %w", err)
	}
	r.rssBefore = before.gw.RSSKiB
	if err := waitActive(ctx, o.metricsURL, float64(o.observe)); err != nil {
		return r, err
	}
	r.setupTime = time.Since(before.self.At)
	r.established = o.observe
	log.Info("calls are up", "active", o.observe, "took", r.setupTime)
	if err := r.window(ctx, o, eng, nil); err != nil {
		return r, err
	}
	return r, nil
}

// waitConnected waits until n browser calls have connected (ICE + DTLS),
// so the window measures media and not handshakes.
func waitConnected(ctx context.Context, fl *fleet, n uint64) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for fl.connected.Load() < n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d WebRTC connections: %w", n, ctx.Err())
		case <-deadline:
			return fmt.Errorf("only %d of %d WebRTC connections up after 30 s", fl.connected.Load(), n)
		case <-tick.C:
		}
	}
	return nil
}

// waitFarEnds waits until n calls have their far end up in a race run:
// answered by the SIP phone, or connected (ICE + DTLS) in a browser tab.
func waitFarEnds(ctx context.Context, ce *callee, fl *fleet, n int) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	up := func() int { return ce.live() + int(fl.live.Load()) }
	for up() < n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d far ends: %w", n, ctx.Err())
		case <-deadline:
			return fmt.Errorf("only %d of %d far ends (SIP %d, browser %d) up after 30 s", up(), n, ce.live(), fl.live.Load())
		case <-tick.C:
		}
	}
	return nil
}

// waitActive polls the gateway until it reports at least n active calls.
func waitActive(ctx context.Context, url string, n float64) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		sc, err := scrapeMetrics(ctx, url)
		if err == nil && sc.get("switchboard_active_calls") >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %v active calls: %w", n, ctx.Err())
		case <-tick.C:
		}
	}
}

// window waits o.warmup, then measures for o.hold.
func (r *result) window(ctx context.Context, o options, eng *rtpEngine, fl *fleet) error {
	s0, s1, err := measureWindow(ctx, o, func(ctx context.Context) (snapshot, error) {
		return takeSnapshot(ctx, o, eng, fl)
	})
	if err != nil {
		return err
	}
	r.measure(s0, s1)
	return nil
}

// measureWindow waits o.warmup, then takes snap at both edges of an o.hold
// window.
func measureWindow[S any](ctx context.Context, o options, snap func(context.Context) (S, error)) (s0, s1 S, err error) {
	select {
	case <-ctx.Done():
		return s0, s1, fmt.Errorf("warm-up: %w", ctx.Err())
	case <-time.After(o.warmup):
	}
	if s0, err = snap(ctx); err != nil {
		return s0, s1, fmt.Errorf("window start: %w", err)
	}
	select {
	case <-ctx.Done():
		return s0, s1, fmt.Errorf("hold: %w", ctx.Err())
	case <-time.After(o.hold):
	}
	if s1, err = snap(ctx); err != nil {
		return s0, s1, fmt.Errorf("window end: %w", err)
	}
	return s0, s1, nil
}

// setup places o.calls calls at o.rate per second and returns the answered
// ones and a few distinct failure reasons.
func setup(ctx context.Context, o options, cr *caller) ([]*outCall, []string) {
	var (
		mu       sync.Mutex
		calls    []*outCall
		reasons  = map[string]int{}
		wg       sync.WaitGroup
		interval = time.Duration(float64(time.Second) / o.rate)
	)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := range o.calls {
		if i > 0 {
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			callCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			oc, err := cr.placeTo(callCtx, o.numberOf(i), fmt.Sprintf("+1555%07d", 2000000+i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				reasons[err.Error()]++
				return
			}
			calls = append(calls, oc)
		}()
	}
	wg.Wait()
	var out []string
	for msg, n := range reasons {
		out = append(out, fmt.Sprintf("%dx %s", n, msg))
	}
	sort.Strings(out)
	return calls, out
}

// teardown hangs up calls at o.rate per second and returns how many BYEs failed.
func teardown(ctx context.Context, o options, cr *caller, calls []*outCall) int {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed int
	)
	tick := time.NewTicker(time.Duration(float64(time.Second) / o.rate))
	defer tick.Stop()
	for i, oc := range calls {
		if i > 0 {
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			byeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := cr.hangup(byeCtx, oc); err != nil {
				mu.Lock()
				failed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return failed
}

// teardownOnExit hangs up whatever is still up when run returns early, so
// the gateway is not left with calls that only the RTP timeout would end.
func teardownOnExit(calls []*outCall, cr *caller) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, oc := range calls {
		wg.Add(1)
		go func() { defer wg.Done(); _ = cr.hangup(ctx, oc) }()
	}
	wg.Wait()
}

// result is what one run measured.
type result struct {
	opts        options
	transcoding bool
	observed    bool // the calls were placed by another tool

	established, setupFailed int
	setupFailures            []string
	setupTime                time.Duration
	setupLat                 setupStats // per call, INVITE sent -> 200 OK received
	gwCPUSetup               float64    // % of the machine, first INVITE to every far end up

	elapsed                  time.Duration // length of the measurement window
	activeStart, activeEnd   float64
	gwCPU, selfCPU, machine  float64 // % of the whole machine
	rssBefore, rssAtN        uint64  // KiB
	rssAfter                 uint64  // KiB, after teardown
	relayedPPS, droppedPPS   float64
	dropped                  float64
	p50, p99, p999, mean     float64 // seconds, inside the gateway
	sentPPS, recvPPS, loss   float64 // loss as a fraction, seen by the load generator
	stray, skipped, sendErrs uint64
	e2e50, e2e99             float64 // seconds, loopback send to receive
	lag99, lagMax            float64 // seconds, pacer lateness

	remoteHangups, rejectedByCallee uint64
	byeFailed                       int
	activeAfter, answeredTotal      float64
	calleeLive                      int

	// WebRTC runs: the browser side's own figures over the window.
	webrtc                          bool
	wrSentPPS, wrRecvPPS            float64
	lossToBrowser, lossFromBrowser  float64 // fractions
	wrE2E50, wrE2E99                float64 // seconds, SIP send -> browser receive
	wrSendErrs                      uint64
	browserAnswerErrs, browserEnded uint64

	// Race runs (ringing: both): who took the calls, and the losers.
	both                            bool
	wonBySIP, wonByBrowser          int
	calleeAnswered, calleeCancelled uint64
	calleeLate                      uint64 // answers that crossed the gateway's CANCEL
	browserAnswered                 uint64
	browserElsewhere, browserLosers uint64

	// Recorded runs: the window's recording figures, and after the BYEs
	// the gateway's gauge and drop counter and the per-call check.
	recorded        bool
	rec             recWindow
	recActiveAfter  float64
	recDroppedTotal float64
	recCheck        *recCheck
}

// measure fills the window figures from the snapshots at its edges.
func (r *result) measure(s0, s1 snapshot) {
	r.elapsed = s1.self.At.Sub(s0.self.At)
	secs := r.elapsed.Seconds()
	ncpu := float64(runtime.NumCPU())
	if r.opts.pid > 0 {
		gwSecs := s1.gw.At.Sub(s0.gw.At).Seconds()
		r.gwCPU = (s1.gw.CPU - s0.gw.CPU).Seconds() / gwSecs / ncpu * 100
		r.rssAtN = s1.gw.RSSKiB
	}
	r.selfCPU = (s1.self.CPU - s0.self.CPU).Seconds() / secs / ncpu * 100
	if dt := s1.machine.Total - s0.machine.Total; dt > 0 {
		r.machine = float64(s1.machine.Busy-s0.machine.Busy) / float64(dt) * 100
	}
	m0, m1 := s0.metrics, s1.metrics
	r.activeStart, r.activeEnd = m0.get("switchboard_active_calls"), m1.get("switchboard_active_calls")
	r.relayedPPS = (m1.get("switchboard_rtp_packets_relayed_total") - m0.get("switchboard_rtp_packets_relayed_total")) / secs
	r.dropped = m1.get("switchboard_rtp_packets_dropped_total") - m0.get("switchboard_rtp_packets_dropped_total")
	r.droppedPPS = r.dropped / secs
	lat := m1.latency.sub(m0.latency)
	r.p50, r.p99, r.p999 = lat.quantile(0.50), lat.quantile(0.99), lat.quantile(0.999)
	if n := lat.count(); n > 0 {
		r.mean = (m1.get(latencyMetric+"_sum") - m0.get(latencyMetric+"_sum")) / n
	} else {
		r.mean = math.NaN()
	}
	sent, recv := s1.rtp.Sent-s0.rtp.Sent, s1.rtp.Recv-s0.rtp.Recv
	r.sentPPS, r.recvPPS = float64(sent)/secs, float64(recv)/secs
	if sent > 0 {
		r.loss = math.Max(0, 1-float64(recv)/float64(sent))
	}
	r.stray, r.skipped, r.sendErrs = s1.rtp.Stray-s0.rtp.Stray, s1.rtp.Skipped-s0.rtp.Skipped, s1.rtp.SendErrors-s0.rtp.SendErrors
	e2e := s1.e2e.sub(s0.e2e)
	r.e2e50, r.e2e99 = e2e.quantile(0.50), e2e.quantile(0.99)
	lag := s1.lag.sub(s0.lag)
	r.lag99, r.lagMax = lag.quantile(0.99), lag.quantile(1)
	if r.webrtc {
		r.measureWebRTC(s0, s1, secs)
	}
	if r.recorded {
		r.rec = measureRecording(s0, s1, secs)
	}
}

// measureWebRTC adds the browser side: the SIP engine's counters then hold
// only the SIP end, so each direction's loss pairs one side's sends with
// the other side's receives, and the overall figures count both ends.
func (r *result) measureWebRTC(s0, s1 snapshot, secs float64) {
	sipSent, sipRecv := s1.rtp.Sent-s0.rtp.Sent, s1.rtp.Recv-s0.rtp.Recv
	wrSent, wrRecv := s1.wr.Sent-s0.wr.Sent, s1.wr.Recv-s0.wr.Recv
	r.wrSentPPS, r.wrRecvPPS = float64(wrSent)/secs, float64(wrRecv)/secs
	r.wrSendErrs = s1.wr.SendErrors - s0.wr.SendErrors
	lossOf := func(sent, recv uint64) float64 {
		if sent == 0 {
			return math.NaN()
		}
		return math.Max(0, 1-float64(recv)/float64(sent))
	}
	r.lossToBrowser, r.lossFromBrowser = lossOf(sipSent, wrRecv), lossOf(wrSent, sipRecv)
	r.sentPPS, r.recvPPS = float64(sipSent+wrSent)/secs, float64(sipRecv+wrRecv)/secs
	r.loss = lossOf(sipSent+wrSent, sipRecv+wrRecv)
	e := s1.wrE2E.sub(s0.wrE2E)
	r.wrE2E50, r.wrE2E99 = e.quantile(0.50), e.quantile(0.99)
}

// rssPerCall is the gateway's resident memory growth per established call, KiB.
func (r *result) rssPerCall() float64 {
	if r.established == 0 || r.rssAtN == 0 {
		return math.NaN()
	}
	return (float64(r.rssAtN) - float64(r.rssBefore)) / float64(r.established)
}

// fields lists the results as key=value pairs in a stable order. Durations
// are in microseconds, memory in KiB, CPU in percent of the whole machine.
func (r *result) fields() [][2]string {
	us := func(s float64) string { return fmt.Sprintf("%.1f", s*1e6) }
	f1 := func(v float64) string { return fmt.Sprintf("%.1f", v) }
	f := [][2]string{
		{"calls_requested", fmt.Sprint(r.opts.calls)},
		{"calls_established", fmt.Sprint(r.established)},
		{"calls_failed", fmt.Sprint(r.setupFailed)},
		{"setup_seconds", fmt.Sprintf("%.2f", r.setupTime.Seconds())},
	}
	f = append(f, r.setupLat.fields()...)
	f = append(f, [][2]string{
		{"gw_cpu_setup_pct", f1(r.gwCPUSetup)},
		{"transcoding", fmt.Sprint(r.transcoding)},
		{"observed", fmt.Sprint(r.observed)},
		{"window_seconds", fmt.Sprintf("%.2f", r.elapsed.Seconds())},
		{"active_calls_start", f1(r.activeStart)},
		{"active_calls_end", f1(r.activeEnd)},
		{"gw_cpu_pct", f1(r.gwCPU)},
		{"loadgen_cpu_pct", f1(r.selfCPU)},
		{"machine_cpu_pct", f1(r.machine)},
		{"rss_before_kib", fmt.Sprint(r.rssBefore)},
		{"rss_at_n_kib", fmt.Sprint(r.rssAtN)},
		{"rss_per_call_kib", f1(r.rssPerCall())},
		{"rss_after_kib", fmt.Sprint(r.rssAfter)},
		{"relayed_pps", fmt.Sprintf("%.0f", r.relayedPPS)},
		{"expected_pps", fmt.Sprint(r.established * 2 * int(time.Second/frameInterval))},
		{"dropped", fmt.Sprintf("%.0f", r.dropped)},
		{"relay_p50_us", us(r.p50)},
		{"relay_p99_us", us(r.p99)},
		{"relay_p999_us", us(r.p999)},
		{"relay_mean_us", us(r.mean)},
		{"sent_pps", fmt.Sprintf("%.0f", r.sentPPS)},
		{"recv_pps", fmt.Sprintf("%.0f", r.recvPPS)},
		{"loss_pct", fmt.Sprintf("%.3f", r.loss*100)},
		{"e2e_p50_us", us(r.e2e50)},
		{"e2e_p99_us", us(r.e2e99)},
		{"stray_packets", fmt.Sprint(r.stray)},
		{"pacer_skipped", fmt.Sprint(r.skipped)},
		{"pacer_lag_p99_us", us(r.lag99)},
		{"pacer_lag_max_us", us(r.lagMax)},
		{"send_errors", fmt.Sprint(r.sendErrs)},
		{"remote_hangups", fmt.Sprint(r.remoteHangups)},
		{"bye_failed", fmt.Sprint(r.byeFailed)},
		{"active_after", f1(r.activeAfter)},
		{"callee_live_after", fmt.Sprint(r.calleeLive)},
	}...)
	if r.webrtc {
		// sent/recv/loss/e2e above count both ends; these split them.
		f = append(f, [][2]string{
			{"browser_sent_pps", fmt.Sprintf("%.0f", r.wrSentPPS)},
			{"browser_recv_pps", fmt.Sprintf("%.0f", r.wrRecvPPS)},
			{"loss_to_browser_pct", fmt.Sprintf("%.3f", r.lossToBrowser*100)},
			{"loss_from_browser_pct", fmt.Sprintf("%.3f", r.lossFromBrowser*100)},
			{"e2e_to_browser_p50_us", us(r.wrE2E50)},
			{"e2e_to_browser_p99_us", us(r.wrE2E99)},
			{"browser_send_errors", fmt.Sprint(r.wrSendErrs)},
			{"browser_answer_errors", fmt.Sprint(r.browserAnswerErrs)},
			{"browser_calls_ended", fmt.Sprint(r.browserEnded)},
		}...)
	}
	if r.both {
		// won_by_*: the side holding each call during the window.
		// callee_cancelled: the SIP phone got CANCEL before its 200 OK;
		// callee_answered - won_by_sip: it answered but lost (ACK + BYE).
		// browser_answered_elsewhere: a tab was told the call was taken;
		// browser_ended_losers: a tab's answer was accepted but lost.
		f = append(f, [][2]string{
			{"won_by_sip", fmt.Sprint(r.wonBySIP)},
			{"won_by_browser", fmt.Sprint(r.wonByBrowser)},
			{"callee_answer_delay_ms", fmt.Sprintf("%.0f", float64(r.opts.answerDelay)/float64(time.Millisecond))},
			{"callee_answered", fmt.Sprint(r.calleeAnswered)},
			{"callee_cancelled", fmt.Sprint(r.calleeCancelled)},
			{"callee_answered_late", fmt.Sprint(r.calleeLate)},
			{"browser_answered", fmt.Sprint(r.browserAnswered)},
			{"browser_answered_elsewhere", fmt.Sprint(r.browserElsewhere)},
			{"browser_ended_losers", fmt.Sprint(r.browserLosers)},
		}...)
	}
	if r.recorded {
		f = append(f, r.recordingFields()...)
	}
	return f
}

// failures lists distinct reasons calls could not be set up.
func (r *result) failures() []string { return r.setupFailures }

// report is what a run measured, as printed and written for bench.sh.
type report interface {
	// fields lists the figures as key=value pairs in a stable order.
	fields() [][2]string
	// failures lists distinct reasons calls could not be set up.
	failures() []string
}

// printReport writes a readable summary.
func printReport(w io.Writer, r report) {
	for _, kv := range r.fields() {
		fmt.Fprintf(w, "%-20s %s\n", kv[0], kv[1])
	}
	for _, f := range r.failures() {
		fmt.Fprintf(w, "setup failure: %s\n", f)
	}
}

// writeReport writes the key=value lines to path.
func writeReport(path string, r report) error {
	var b strings.Builder
	for _, kv := range r.fields() {
		fmt.Fprintf(&b, "%s=%s\n", kv[0], kv[1])
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}
