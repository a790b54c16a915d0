package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Series a voicemail run reads from the gateway's /metrics.
const (
	mActive     = "switchboard_active_calls"
	mRecording  = "switchboard_voicemails_recording"
	mKept       = `switchboard_voicemails_total{result="kept"}`
	mDiscarded  = `switchboard_voicemails_total{result="discarded"}`
	mVMBytes    = "switchboard_voicemail_bytes_total"
	mVMCalls    = `switchboard_calls_total{outcome="voicemail"}`
	mPromptHit  = `switchboard_prompt_frames_total{result="hit"}`
	mPromptMiss = `switchboard_prompt_frames_total{result="miss"}`
	mTTSRenders = "switchboard_tts_renders_total"
)

const (
	// recordBytesPerSecond is what a message costs on disk: the gateway
	// records 8 kHz 16-bit mono WAV whatever the codec.
	recordBytesPerSecond = 8000 * 2
	// gatewayPPS is what the gateway sends each caller: one 20 ms frame
	// (greeting, beep, then silence) every 20 ms for the whole call.
	gatewayPPS = int(time.Second / frameInterval)
	// warmSpeech is how long the warm-up caller speaks after the beep: the
	// gateway keeps messages with at least a second of speech.
	warmSpeech = 2 * time.Second
	// recordingLimit bounds the wait for every call to get through the
	// greeting and beep to recording (the greeting is a few seconds long).
	recordingLimit = 60 * time.Second
	// settleLimit bounds the wait, after the BYEs, for the gateway to
	// finish and store every message.
	settleLimit = 30 * time.Second
	// voicemailDir is where the gateway keeps messages, under data_dir.
	voicemailDir = "voicemail"
)

// vmSnapshot is a voicemail run's sample at one edge of the window.
type vmSnapshot struct {
	snapshot
	disk    int64    // bytes under data_dir/voicemail; -1 when not measured
	perCall []uint64 // packets received so far on each call's stream
}

// takeVMSnapshot samples the gateway, the load generator, the voicemail
// files and every call's received-packet count.
func takeVMSnapshot(ctx context.Context, o options, eng *rtpEngine, calls []*outCall) (vmSnapshot, error) {
	s, err := takeSnapshot(ctx, o, eng, nil)
	v := vmSnapshot{snapshot: s, disk: -1}
	if o.dataDir != "" {
		var derr error
		v.disk, derr = dirSize(filepath.Join(o.dataDir, voicemailDir))
		err = errors.Join(err, derr)
	}
	v.perCall = make([]uint64, len(calls))
	for i, oc := range calls {
		v.perCall[i] = oc.stream.recv.Load()
	}
	return v, err
}

// runVoicemail is a voicemail benchmark: a warm-up call (so prompts are
// rendered and cached), then o.calls calls that the gateway answers with
// the greeting and beep and records while each caller streams a tone.
// Once every call is recording it measures a window, then hangs up and
// checks that every message was kept. It returns what it measured even
// when it also returns an error.
func runVoicemail(ctx context.Context, o options, log *slog.Logger) (*vmResult, error) {
	eng, err := newRTPEngine(o.rtpIP, o.sockets, false)
	if err != nil {
		return nil, err
	}
	for _, pt := range []uint8{ptPCMU, ptPCMA} {
		f, err := toneFrame(pt, toneHz, toneDBFS)
		if err == nil {
			err = eng.setPayload(pt, f)
		}
		if err != nil {
			eng.stop()
			return nil, err
		}
	}
	rtpCtx, stopRTP := context.WithCancel(ctx)
	defer func() { stopRTP(); eng.stop() }()
	eng.start(rtpCtx)

	callerAg, err := newAgent(o.caller, "caller", log.With("component", "sipgo"))
	if err != nil {
		return nil, err
	}
	defer callerAg.close()
	cr := newCaller(callerAg, eng, o.gateway, o.number, []uint8{o.callerCodec})
	if err := callerAg.serve(); err != nil {
		return nil, err
	}

	r := &vmResult{opts: o}
	first, err := scrapeMetrics(ctx, o.metricsURL)
	if err != nil {
		return nil, fmt.Errorf("before calls: %w", err)
	}
	r.ttsAtStart = first.get(mTTSRenders)
	if err := r.warmUp(ctx, o, cr, log); err != nil {
		return r, err
	}

	// The baseline: caches warm, the warm-up message stored.
	base, err := takeVMSnapshot(ctx, o, eng, nil)
	if err != nil {
		return r, fmt.Errorf("after the warm-up call: %w", err)
	}
	r.rssBefore = base.gw.RSSKiB
	r.ttsAfterWarmup = base.metrics.get(mTTSRenders)

	calls, failures := setup(ctx, o, cr)
	r.established = len(calls)
	r.setupFailed = o.calls - len(calls)
	r.setupFailures = failures
	r.setupTime = time.Since(base.self.At)
	r.setupLat = setupStatsOf(calls) // the warm-up call (a TTS render) is not among them
	log.Info("calls set up", "established", r.established, "failed", r.setupFailed, "took", r.setupTime)
	defer func() { teardownOnExit(calls, cr) }()
	if r.established == 0 {
		return r, fmt.Errorf("no call was established (%s)", strings.Join(failures, "; "))
	}

	n := float64(r.established)
	if _, err := waitMetrics(ctx, o.metricsURL, fmt.Sprintf("%d messages recording", r.established), recordingLimit,
		func(s scrape) bool { return s.get(mRecording) >= n }); err != nil {
		return r, err
	}
	greeted, err := takeVMSnapshot(ctx, o, eng, nil)
	if err != nil {
		return r, fmt.Errorf("all calls recording: %w", err)
	}
	r.greetingTime = greeted.self.At.Sub(base.self.At)
	if o.pid > 0 {
		r.gwCPUSetup = cpuPct(base.gw, greeted.gw, runtime.NumCPU())
	}

	if err := r.window(ctx, o, eng, calls); err != nil {
		return r, err
	}
	r.remoteHangups = cr.remoteHangups.Load()

	r.byeFailed = teardown(ctx, o, cr, calls)
	calls = nil
	final, err := waitMetrics(ctx, o.metricsURL, "every message to be stored", settleLimit, func(s scrape) bool {
		return s.get(mKept)-base.metrics.get(mKept) >= n && s.get(mRecording) == 0 && s.get(mActive) == 0
	})
	if err != nil {
		// Not a broken run: the missing messages show as lost.
		log.Warn("the gateway did not store every message in time", "error", err)
	}
	r.settle(base.metrics, final)
	if o.pid > 0 {
		if p, err := readProc(o.pid); err == nil {
			r.rssAfter = p.RSSKiB
		}
	}
	return r, nil
}

// warmUp places one call, speaks for warmSpeech after the beep and hangs
// up, so the greeting and beep are rendered and cached before the measured
// calls, and waits until that message is stored.
func (r *vmResult) warmUp(ctx context.Context, o options, cr *caller, log *slog.Logger) error {
	s0, err := scrapeMetrics(ctx, o.metricsURL)
	if err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	callCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	oc, err := cr.placeTo(callCtx, o.number, "+15559999999")
	cancel()
	if err != nil {
		return fmt.Errorf("warm-up call: %w", err)
	}
	hungUp := false
	defer func() {
		if !hungUp {
			teardownOnExit([]*outCall{oc}, cr)
		}
	}()
	if _, err := waitMetrics(ctx, o.metricsURL, "the warm-up call to reach recording", recordingLimit,
		func(s scrape) bool { return s.get(mRecording) >= 1 }); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return fmt.Errorf("warm-up call: %w", ctx.Err())
	case <-time.After(warmSpeech): // the message's length, not a synchronisation
	}
	hungUp = true
	if err := cr.hangup(ctx, oc); err != nil {
		return fmt.Errorf("warm-up call: BYE: %w", err)
	}
	ended := s0.get(mKept) + s0.get(mDiscarded)
	s, err := waitMetrics(ctx, o.metricsURL, "the warm-up message to be stored", settleLimit, func(s scrape) bool {
		return s.get(mKept)+s.get(mDiscarded) > ended && s.get(mRecording) == 0 && s.get(mActive) == 0
	})
	if err != nil {
		return err
	}
	r.warmupKept = s.get(mKept) > s0.get(mKept)
	log.Info("warm-up message stored", "kept", r.warmupKept, "tts_renders", s.get(mTTSRenders))
	return nil
}

// window waits o.warmup, then measures for o.hold.
func (r *vmResult) window(ctx context.Context, o options, eng *rtpEngine, calls []*outCall) error {
	s0, s1, err := measureWindow(ctx, o, func(ctx context.Context) (vmSnapshot, error) {
		return takeVMSnapshot(ctx, o, eng, calls)
	})
	if err != nil {
		return err
	}
	r.measure(s0, s1, runtime.NumCPU())
	return nil
}

// waitMetrics polls the gateway's /metrics every 100 ms until cond holds,
// for at most limit, and returns the last successful scrape.
func waitMetrics(ctx context.Context, url, what string, limit time.Duration, cond func(scrape) bool) (scrape, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last scrape
	for {
		s, err := scrapeMetrics(ctx, url)
		if err == nil {
			last = s
			if cond(s) {
				return s, nil
			}
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// dirSize is the total size of the regular files under root; a root that
// does not exist yet holds 0 bytes. Files removed during the walk (a
// discarded message) are skipped.
func dirSize(root string) (int64, error) {
	var total int64
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		total += fi.Size()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("files under %s: %w", root, err)
	}
	return total, nil
}

// cpuPct is a process's CPU use between two samples, in percent of a
// machine with ncpu CPUs.
func cpuPct(a, b procSample, ncpu int) float64 {
	secs := b.At.Sub(a.At).Seconds()
	if secs <= 0 || ncpu < 1 {
		return math.NaN()
	}
	return (b.CPU - a.CPU).Seconds() / secs / float64(ncpu) * 100
}

// perCallRates turns two readings of every call's packet counter, taken
// secs apart, into packets per second per call.
func perCallRates(before, after []uint64, secs float64) []float64 {
	if len(before) != len(after) || secs <= 0 {
		return nil
	}
	out := make([]float64, len(after))
	for i := range after {
		out[i] = float64(after[i]-before[i]) / secs
	}
	return out
}

// spread summarises per-call figures.
type spread struct {
	min, p50, max, mean float64
}

// spreadOf returns the minimum, median, maximum and mean of v (NaN for
// all of them when v is empty).
func spreadOf(v []float64) spread {
	if len(v) == 0 {
		nan := math.NaN()
		return spread{nan, nan, nan, nan}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	var sum float64
	for _, x := range s {
		sum += x
	}
	mid := len(s) / 2
	p50 := s[mid]
	if len(s)%2 == 0 {
		p50 = (s[mid-1] + s[mid]) / 2
	}
	return spread{min: s[0], p50: p50, max: s[len(s)-1], mean: sum / float64(len(s))}
}

// vmResult is what one voicemail run measured.
type vmResult struct {
	opts options

	established, setupFailed int
	setupFailures            []string
	setupTime                time.Duration // first INVITE to the last answer
	setupLat                 setupStats    // per call, INVITE sent -> 200 OK received
	greetingTime             time.Duration // first INVITE to every call recording
	warmupKept               bool
	ttsAtStart               float64 // TTS renders before the warm-up call
	ttsAfterWarmup           float64

	// The window, with every call recording.
	elapsed                    time.Duration
	recordingStart, activeEnd  float64
	recordingEnd               float64
	gwCPU, selfCPU, machine    float64 // % of the whole machine
	gwCPUSecs                  float64 // gateway CPU time over the window
	gwCPUSetup                 float64 // % of the machine, setup and greetings
	rssBefore, rssAtN          uint64  // KiB
	rssAfter                   uint64  // KiB, after teardown
	sentPPS, recvPPS           float64
	perCall                    spread // packets/s from the gateway, per call
	stray, skipped, sendErrors uint64
	lag99                      float64 // seconds
	diskBytes                  float64 // growth of data_dir/voicemail; NaN when not measured

	remoteHangups uint64
	byeFailed     int

	// From the end of the warm-up to the last message stored.
	kept, discarded, vmCalls, vmBytes float64
	ttsRenders, promptHits, misses    float64
	activeAfter, recordingAfter       float64
}

// failures lists distinct reasons calls could not be set up.
func (r *vmResult) failures() []string { return r.setupFailures }

// measure fills the window figures from the snapshots at its edges.
func (r *vmResult) measure(s0, s1 vmSnapshot, ncpu int) {
	r.elapsed = s1.self.At.Sub(s0.self.At)
	secs := r.elapsed.Seconds()
	if r.opts.pid > 0 {
		r.gwCPU = cpuPct(s0.gw, s1.gw, ncpu)
		r.gwCPUSecs = (s1.gw.CPU - s0.gw.CPU).Seconds()
		r.rssAtN = s1.gw.RSSKiB
	}
	r.selfCPU = cpuPct(s0.self, s1.self, ncpu)
	if dt := s1.machine.Total - s0.machine.Total; dt > 0 {
		r.machine = float64(s1.machine.Busy-s0.machine.Busy) / float64(dt) * 100
	}
	m0, m1 := s0.metrics, s1.metrics
	r.recordingStart, r.recordingEnd = m0.get(mRecording), m1.get(mRecording)
	r.activeEnd = m1.get(mActive)
	r.sentPPS = float64(s1.rtp.Sent-s0.rtp.Sent) / secs
	r.recvPPS = float64(s1.rtp.Recv-s0.rtp.Recv) / secs
	r.perCall = spreadOf(perCallRates(s0.perCall, s1.perCall, secs))
	r.stray, r.skipped = s1.rtp.Stray-s0.rtp.Stray, s1.rtp.Skipped-s0.rtp.Skipped
	r.sendErrors = s1.rtp.SendErrors - s0.rtp.SendErrors
	r.lag99 = s1.lag.sub(s0.lag).quantile(0.99)
	r.diskBytes = math.NaN()
	if s0.disk >= 0 && s1.disk >= 0 {
		r.diskBytes = float64(s1.disk - s0.disk)
	}
}

// settle fills the figures counted from the baseline (after the warm-up)
// to the end, when every message should be stored.
func (r *vmResult) settle(base, final scrape) {
	d := func(series string) float64 { return final.get(series) - base.get(series) }
	r.kept, r.discarded = d(mKept), d(mDiscarded)
	r.vmCalls, r.vmBytes = d(mVMCalls), d(mVMBytes)
	r.ttsRenders, r.promptHits, r.misses = d(mTTSRenders), d(mPromptHit), d(mPromptMiss)
	r.activeAfter, r.recordingAfter = final.get(mActive), final.get(mRecording)
}

// perCallOf divides v by the calls established (NaN without calls).
func (r *vmResult) perCallOf(v float64) float64 {
	if r.established == 0 {
		return math.NaN()
	}
	return v / float64(r.established)
}

// lost is how many established calls left no kept message.
func (r *vmResult) lost() float64 {
	if math.IsNaN(r.kept) {
		return math.NaN()
	}
	return math.Max(0, float64(r.established)-r.kept)
}

// fields lists the results as key=value pairs in a stable order. CPU is in
// percent of the whole machine (and, per call, in milliseconds of CPU per
// second of call), memory in KiB, disk in bytes.
func (r *vmResult) fields() [][2]string {
	f0 := func(v float64) string { return fmt.Sprintf("%.0f", v) }
	f1 := func(v float64) string { return fmt.Sprintf("%.1f", v) }
	f3 := func(v float64) string { return fmt.Sprintf("%.3f", v) }
	secs := r.elapsed.Seconds()
	perMin := math.NaN()
	if secs > 0 {
		perMin = r.diskBytes / secs * 60
	}
	rssPerCall := math.NaN()
	if r.rssAtN > 0 {
		rssPerCall = r.perCallOf(float64(r.rssAtN) - float64(r.rssBefore))
	}
	msPerCallSec := math.NaN()
	if secs > 0 {
		msPerCallSec = r.perCallOf(r.gwCPUSecs/secs) * 1000
	}
	bytesPerMsg := math.NaN()
	if r.kept > 0 {
		bytesPerMsg = r.vmBytes / r.kept
	}
	f := [][2]string{
		{"calls_requested", fmt.Sprint(r.opts.calls)},
		{"calls_established", fmt.Sprint(r.established)},
		{"calls_failed", fmt.Sprint(r.setupFailed)},
		{"setup_seconds", fmt.Sprintf("%.2f", r.setupTime.Seconds())},
	}
	f = append(f, r.setupLat.fields()...)
	return append(f, [][2]string{
		{"greeting_seconds", fmt.Sprintf("%.2f", r.greetingTime.Seconds())},
		{"warmup_kept", fmt.Sprint(r.warmupKept)},
		{"window_seconds", fmt.Sprintf("%.2f", secs)},
		{"recording_start", f1(r.recordingStart)},
		{"recording_end", f1(r.recordingEnd)},
		{"active_calls_end", f1(r.activeEnd)},
		{"gw_cpu_pct", f1(r.gwCPU)},
		{"gw_cpu_pct_per_call", f3(r.perCallOf(r.gwCPU))},
		{"gw_cpu_ms_per_call_s", f3(msPerCallSec)},
		{"gw_cpu_setup_pct", f1(r.gwCPUSetup)},
		{"loadgen_cpu_pct", f1(r.selfCPU)},
		{"machine_cpu_pct", f1(r.machine)},
		{"rss_before_kib", fmt.Sprint(r.rssBefore)},
		{"rss_at_n_kib", fmt.Sprint(r.rssAtN)},
		{"rss_per_call_kib", f1(rssPerCall)},
		{"rss_after_kib", fmt.Sprint(r.rssAfter)},
		{"sent_pps", f0(r.sentPPS)},
		{"recv_pps", f0(r.recvPPS)},
		{"expected_recv_pps", fmt.Sprint(r.established * gatewayPPS)},
		{"recv_pps_per_call_min", f1(r.perCall.min)},
		{"recv_pps_per_call_p50", f1(r.perCall.p50)},
		{"recv_pps_per_call_max", f1(r.perCall.max)},
		{"recv_pps_per_call_mean", f1(r.perCall.mean)},
		{"stray_packets", fmt.Sprint(r.stray)},
		{"pacer_skipped", fmt.Sprint(r.skipped)},
		{"pacer_lag_p99_us", f1(r.lag99 * 1e6)},
		{"send_errors", fmt.Sprint(r.sendErrors)},
		{"disk_bytes_window", f0(r.diskBytes)},
		{"disk_bytes_per_min", f0(perMin)},
		{"disk_bytes_per_min_per_call", f0(r.perCallOf(perMin))},
		{"expected_bytes_per_min_per_call", fmt.Sprint(recordBytesPerSecond * 60)},
		{"tts_renders_at_start", f0(r.ttsAtStart)},
		{"tts_renders_warmup", f0(r.ttsAfterWarmup - r.ttsAtStart)},
		{"tts_renders", f0(r.ttsRenders)},
		{"tts_renders_per_call", f3(r.perCallOf(r.ttsRenders))},
		{"prompt_hits", f0(r.promptHits)},
		{"prompt_hits_per_call", f1(r.perCallOf(r.promptHits))},
		{"prompt_misses", f0(r.misses)},
		{"voicemails_kept", f0(r.kept)},
		{"voicemails_discarded", f0(r.discarded)},
		{"messages_lost", f0(r.lost())},
		{"voicemail_calls", f0(r.vmCalls)},
		{"voicemail_bytes", f0(r.vmBytes)},
		{"voicemail_bytes_per_msg", f0(bytesPerMsg)},
		{"remote_hangups", fmt.Sprint(r.remoteHangups)},
		{"bye_failed", fmt.Sprint(r.byeFailed)},
		{"active_after", f1(r.activeAfter)},
		{"recording_after", f1(r.recordingAfter)},
	}...)
}
