// Package call is the B2BUA core: it turns an inbound leg into a call, rings
// the number's targets through a Dialer, bridges media between the legs and
// keeps the call record. It knows legs and causes, never SIP messages.
package call

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"switchboard/ivr"
	"switchboard/media"
	"switchboard/metrics"
	"switchboard/phone"
	"switchboard/routing"
	"switchboard/store"
)

// ErrDraining is returned while the engine refuses new calls.
var ErrDraining = errors.New("call engine is draining")

// Number is one of our phone numbers as the engine needs it.
type Number struct {
	E164        string
	Name        string
	Trunk       string
	Owner       string
	Ringing     string // forward | browser | both
	ForwardTo   string
	RingTimeout time.Duration
	// Record says inbound calls are recorded (when Config.RecordingAllowed);
	// callers then hear Consent before anything rings.
	Record    bool
	Consent   ivr.Source
	Voicemail Voicemail
	// Hours are the working hours (nil: 24/7); NoAnswer and AfterHours are
	// what routing does when nobody answers in hours and outside them.
	Hours                *routing.Hours
	NoAnswer, AfterHours routing.Action
	// Screening makes a forwarded phone press 1 before the caller is connected.
	Screening bool
	// Closed is the announcement of a hangup after hours.
	Closed ivr.Source
}

// Team is how a team's members ring when a call is sent to the team.
type Team struct {
	Mode          routing.TeamMode
	MemberTimeout time.Duration
	Members       []string // user ids
}

// Voicemail is a number's voicemail box as the engine runs it.
type Voicemail struct {
	Enabled        bool
	MaxLength      time.Duration
	SilenceTimeout time.Duration
	// InHours and AfterHours are the configured greetings; a greeting
	// uploaded through the API (store.Greeting) takes their place.
	InHours, AfterHours ivr.Source
}

// Config is what the engine needs from the gateway's configuration.
type Config struct {
	Numbers       []Number
	DefaultRegion string
	// RTPTimeout hangs up an answered call when no RTP arrived from either
	// leg for this long (while neither leg holds the call).
	RTPTimeout time.Duration
	// RecordingAllowed is the account-wide recording switch: off, no call
	// is recorded and no consent announcement plays.
	RecordingAllowed bool
	// RecordOutbound lists users whose outbound calls are recorded; the
	// called party hears the consent of the presented number on answer.
	RecordOutbound map[string]bool
	// DataDir is where uploaded greetings live (store paths are relative to it).
	DataDir string
	// Teams are the teams by name.
	Teams map[string]Team
	// Now is the clock routing decides by; nil means time.Now.
	Now func() time.Time
}

// Engine runs calls. It is safe for concurrent use.
type Engine struct {
	cfg Config
	// numbers maps E.164 to settings; replaced whole (copy on write) by
	// SetNumber, so a call reads it without a lock and keeps the settings
	// it started with.
	numbers  atomic.Pointer[map[string]*Number]
	store    *store.Store
	dialer   Dialer
	ringer   Ringer
	contacts CallerDirectory
	prompts  *ivr.Prompts
	mailbox  *ivr.Mailbox
	streams  LiveStreams
	stats    *media.Stats
	log      *slog.Logger

	rotMu    sync.Mutex
	rotation map[string]int // where each team's rotation starts next

	draining atomic.Bool
	active   atomic.Int64
	wg       sync.WaitGroup
	stop     chan struct{} // closed when draining time is up: hang up everything
	stopOnce sync.Once
	idle     chan struct{} // signalled when a call ends, for Drain
}

// New makes an engine. dialer places outbound legs; stats collects relay counters.
func New(cfg Config, st *store.Store, dialer Dialer, stats *media.Stats, log *slog.Logger) *Engine {
	if log == nil {
		log = slog.Default()
	}
	e := &Engine{
		cfg:    cfg,
		store:  st,
		dialer: dialer,
		stats:  stats,
		log:    log,
		stop:   make(chan struct{}),
		idle:   make(chan struct{}, 1),

		rotation: make(map[string]int),
	}
	if e.cfg.Now == nil {
		e.cfg.Now = time.Now
	}
	nums := make(map[string]*Number, len(cfg.Numbers))
	for i := range cfg.Numbers {
		n := cfg.Numbers[i]
		nums[n.E164] = &n
	}
	e.numbers.Store(&nums)
	return e
}

// SetRinger sets who rings users' browsers. Call it before calls arrive.
func (e *Engine) SetRinger(r Ringer) { e.ringer = r }

// SetVoice sets the prompt library (consent, ringback, greetings) and the
// voicemail box. Without them no announcement plays and calls nobody
// answers are missed. Call it before calls arrive.
func (e *Engine) SetVoice(p *ivr.Prompts, m *ivr.Mailbox) { e.prompts, e.mailbox = p, m }

// SetContacts sets the directory that matches callers to contacts.
func (e *Engine) SetContacts(d CallerDirectory) { e.contacts = d }

// Accepting reports whether new calls are taken; false while draining.
func (e *Engine) Accepting() bool { return !e.draining.Load() }

// Active returns the number of calls in progress.
func (e *Engine) Active() int { return int(e.active.Load()) }

// SetNumber replaces the settings of our number n.E164 (a runtime change
// through the API). Calls already running keep the settings they started
// with. It returns false when n is not one of our numbers: numbers are
// added and removed in the configuration file.
func (e *Engine) SetNumber(n Number) bool {
	for {
		old := e.numbers.Load()
		if _, ok := (*old)[n.E164]; !ok {
			return false
		}
		next := make(map[string]*Number, len(*old))
		for k, v := range *old {
			next[k] = v
		}
		next[n.E164] = &n
		if e.numbers.CompareAndSwap(old, &next) {
			return true
		}
	}
}

// Lookup finds our number for a dialled string in any of the forms a trunk
// may send (E.164, without +, with 00/011, national).
func (e *Engine) Lookup(dialled string) (*Number, bool) {
	for _, c := range phone.Candidates(dialled, e.cfg.DefaultRegion) {
		if n, ok := (*e.numbers.Load())[c]; ok {
			return n, true
		}
	}
	return nil, false
}

// HandleInbound takes an inbound leg and runs its call in a goroutine of its own.
func (e *Engine) HandleInbound(leg InboundLeg) error {
	if e.draining.Load() {
		return ErrDraining
	}
	e.spawn(func() { e.runInbound(leg) })
	return nil
}

// spawn runs one call in its own goroutine, counted for Drain and metrics.
func (e *Engine) spawn(run func()) {
	e.wg.Add(1)
	e.active.Add(1)
	metrics.ActiveCalls.Inc()
	go func() {
		defer func() {
			e.active.Add(-1)
			metrics.ActiveCalls.Dec()
			select {
			case e.idle <- struct{}{}:
			default:
			}
			e.wg.Done()
		}()
		run()
	}()
}

// Drain stops taking calls, lets running calls finish until ctx is done,
// then hangs up what is left (cause shutdown) and waits for it to be recorded.
func (e *Engine) Drain(ctx context.Context) {
	e.draining.Store(true)
	for e.active.Load() > 0 {
		select {
		case <-e.idle:
		case <-ctx.Done():
			e.log.Warn("drain timeout: hanging up remaining calls", "active", e.active.Load())
			e.stopOnce.Do(func() { close(e.stop) })
			e.wg.Wait()
			return
		}
	}
	e.wg.Wait()
}
