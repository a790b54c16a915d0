// Command switchboard runs the gateway: SIP trunks on one side, the people
// who answer calls on the other. See README.md for configuration.
package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"switchboard/api"
	"switchboard/call"
	"switchboard/config"
	"switchboard/contacts"
	"switchboard/media"
	"switchboard/metrics"
	"switchboard/routing"
	"switchboard/signaling"
	"switchboard/sip"
	"switchboard/store"
	"switchboard/web"
)

// Exit statuses: 2 for a configuration the operator must fix, 1 for a
// failure at runtime (a port in use, an unwritable data dir).
const (
	exitRuntime = 1
	exitConfig  = 2
)

func main() {
	os.Exit(run())
}

func run() int {
	configPath := flag.String("config", "configs/example.yaml", "path to the YAML configuration")
	logLevel := flag.String("log-level", "info", "log level: debug, info, warn, error")
	logJSON := flag.Bool("log-json", false, "log as JSON lines instead of text")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "switchboard: -log-level: %v\n", err)
		return exitConfig
	}
	opts := &slog.HandlerOptions{Level: level}
	var handler slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if *logJSON {
		handler = slog.NewJSONHandler(os.Stderr, opts)
	}
	log := slog.New(handler)
	slog.SetDefault(log)

	cfg, err := config.Load(*configPath)
	if err == nil {
		err = checkAudioFiles(cfg)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "switchboard: %v\n", err)
		return exitConfig
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, log); err != nil {
		log.Error("switchboard stopped", "error", err)
		return exitRuntime
	}
	return 0
}

// serve wires the parts together and runs until ctx is cancelled, then drains.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	dbPath := filepath.Join(cfg.DataDir, "switchboard.db")
	st, err := store.Open(dbPath)
	if err != nil {
		return fmt.Errorf("open store %s: %w", dbPath, err)
	}
	defer st.Close()
	if n, err := st.CloseInterrupted(time.Now()); err != nil {
		return fmt.Errorf("closing interrupted call records: %w", err)
	} else if n > 0 {
		log.Warn("closed call records left open by an earlier crash", "count", n)
	}

	ports, err := media.NewPortPool(cfg.RTP.PortMin, cfg.RTP.PortMax)
	if err != nil {
		return fmt.Errorf("rtp.ports: %w", err)
	}
	stats := &media.Stats{}
	if err := metrics.RegisterMediaStats(stats); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}

	rtpAddr, err := netip.ParseAddr(cfg.RTP.Address)
	if err != nil {
		return fmt.Errorf("rtp.address: %w", err)
	}
	sipSrv, err := sip.New(sipConfig(cfg, rtpAddr), ports, log)
	if err != nil {
		return err
	}
	if err := loadNumberSettings(cfg, st, log); err != nil {
		return err
	}
	if err := recoverRecordings(cfg.DataDir, st, log); err != nil {
		return fmt.Errorf("repairing recordings: %w", err)
	}
	sweepRecordings(ctx, cfg.DataDir, cfg.Recording.RetentionDays, st, log)
	vc, err := setupVoice(cfg, st, log)
	if err != nil {
		return err
	}
	ec := engineConfig(cfg)
	engine := call.New(ec, st, sipSrv, stats, log)
	engine.SetContacts(contacts.New(contacts.FromConfig(cfg.Contacts)))
	engine.SetVoice(vc.prompts, vc.mailbox)
	streams, stopStreams := newLiveStreams(cfg.Recording.StreamURL, log)
	if streams != nil {
		engine.SetLiveStreams(streams)
	}
	vc.warm(ctx, ec, log)
	sipSrv.SetHandler(engine)

	rtc, err := media.NewWebRTC(webrtcConfig(cfg))
	if err != nil {
		return fmt.Errorf("webrtc: %w", err)
	}
	issued := issuedTokens(cfg, st)
	sigCfg := signalingConfig(cfg)
	sigCfg.IssuedToken = issued
	sig := signaling.New(sigCfg, signaling.AnswerWith(rtc.Answer), log)
	sig.SetPlacer(engine)
	engine.SetRinger(sig)
	defer sig.Close()

	if err := sipSrv.Start(ctx); err != nil {
		return err
	}

	apiSrv := api.New(st, map[string]api.Checker{
		"store": st.Ping,
		"sip": func() error {
			if !sipSrv.Healthy() {
				return errors.New("SIP listeners are down")
			}
			return nil
		},
	}, log)
	if auth := tokenAuth(cfg.Users, issued, cfg.HTTP.AdminToken != ""); auth != nil {
		apiSrv.RequireAuth(auth)
	}
	apiSrv.EnableTokenIssuing(cfg.HTTP.AdminToken, func(id string) bool {
		_, ok := cfg.User(id)
		return ok
	}, st)
	// Owners never change at runtime (numberAdmin refuses it), so a map
	// taken now answers without touching settings being updated.
	owners := make(map[string]string, len(cfg.Numbers))
	for _, n := range cfg.Numbers {
		owners[n.Number] = n.Owner
	}
	apiSrv.SetVoice(api.Voice{
		DataDir: cfg.DataDir,
		Owner: func(number string) (string, bool) {
			owner, ok := owners[number]
			return owner, ok
		},
		TTS:    vc.tts,
		Limits: vc.limits,
	})
	apiSrv.SetSimulator(engine.Simulate)
	apiSrv.SetPresence(presenceAdapter{sig})
	apiSrv.SetNumberAdmin(&numberAdmin{cfg: cfg, st: st, engine: engine})
	mux := http.NewServeMux()
	mux.Handle("/api/", apiSrv)
	mux.Handle("/healthz", apiSrv)
	mux.Handle("/metrics", apiSrv)
	mux.Handle("/ws", sig)
	mux.Handle("/", web.Handler())
	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		sipSrv.Close()
		return fmt.Errorf("http.listen %s: %w", cfg.HTTP.Listen, err)
	}
	httpSrv := api.NewHTTPServer(cfg.HTTP.Listen, mux)
	httpErr := make(chan error, 1)
	go func() {
		if cfg.HTTP.TLSCert != "" {
			// Browsers allow the microphone only on secure pages (or localhost).
			httpErr <- httpSrv.ServeTLS(ln, cfg.HTTP.TLSCert, cfg.HTTP.TLSKey)
			return
		}
		httpErr <- httpSrv.Serve(ln)
	}()
	log.Info("switchboard running", "sip", cfg.SIP.Listen, "http", ln.Addr().String(), "data_dir", cfg.DataDir,
		"numbers", len(cfg.Numbers), "trunks", len(cfg.Trunks))

	select {
	case <-ctx.Done():
	case err := <-httpErr:
		log.Error("HTTP server failed", "error", err)
	}

	// Graceful drain: new INVITEs get 503 while running calls may finish.
	log.Info("draining: refusing new calls", "active", engine.Active(), "timeout", cfg.DrainTimeout)
	drainCtx, cancel := context.WithTimeout(context.Background(), cfg.DrainTimeout)
	engine.Drain(drainCtx)
	cancel()
	stopStreams(5 * time.Second)
	sig.Close()
	sipSrv.Close()
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("HTTP shutdown", "error", err)
	}
	log.Info("switchboard stopped cleanly")
	return nil
}

func sipConfig(cfg *config.Config, rtpAddr netip.Addr) sip.Config {
	sc := sip.Config{
		Listen:         cfg.SIP.Listen,
		PublicAddress:  cfg.SIP.PublicAddress,
		MaxMessageSize: cfg.SIP.MaxMessageSize,
		UserAgent:      cfg.SIP.UserAgent,
		RTPAddress:     rtpAddr,
	}
	for _, t := range cfg.Trunks {
		sc.Trunks = append(sc.Trunks, sip.Trunk{
			Name:           t.Name,
			Allow:          t.Inbound.Prefixes,
			Proxy:          t.Outbound.Proxy,
			Username:       t.Outbound.Username,
			Password:       t.Outbound.Password,
			Register:       t.Outbound.Register,
			RegisterExpiry: t.Outbound.RegisterExpiry,
			FromDomain:     t.Outbound.FromDomain,
		})
	}
	return sc
}

func engineConfig(cfg *config.Config) call.Config {
	ec := call.Config{
		DefaultRegion:    cfg.DefaultRegion,
		RTPTimeout:       cfg.RTP.Timeout,
		RecordingAllowed: cfg.Recording.Allowed,
		RecordOutbound:   map[string]bool{},
		DataDir:          cfg.DataDir,
	}
	ec.Teams = engineTeams(cfg)
	for _, u := range cfg.Users {
		if u.RecordOutbound {
			ec.RecordOutbound[u.ID] = true
		}
	}
	for _, n := range cfg.Numbers {
		ec.Numbers = append(ec.Numbers, engineNumber(cfg, n))
	}
	return ec
}

// engineNumber is one of our numbers as the call engine runs it.
func engineNumber(cfg *config.Config, n config.Number) call.Number {
	vm := n.Voicemail
	var hours *routing.Hours
	if n.WorkingHours != nil {
		hours = n.WorkingHours.Parsed
	}
	return call.Number{
		Hours: hours,
		E164:  n.Number, Name: n.Name, Trunk: n.Trunk, Owner: n.Owner,
		Ringing: n.Ringing, ForwardTo: n.ForwardTo, RingTimeout: n.RingTimeout,
		Record:   n.Record,
		Consent:  source(n.Consent, cfg.DataDir),
		Closed:   source(n.ClosedAnnouncement, cfg.DataDir),
		NoAnswer: n.NoAnswerAction, AfterHours: n.AfterHoursAction,
		Screening: n.Screening,
		Voicemail: call.Voicemail{
			Enabled: vm.Enabled, MaxLength: vm.MaxLength, SilenceTimeout: vm.SilenceTimeout,
			InHours: source(vm.InHours, cfg.DataDir), AfterHours: source(vm.AfterHours, cfg.DataDir),
		},
	}
}

// engineTeams collects each team's members from users[].team, ringing as
// teams[] says (all at once, 20 s, when the team has no entry).
func engineTeams(cfg *config.Config) map[string]call.Team {
	teams := map[string]call.Team{}
	for _, t := range cfg.Teams {
		teams[t.Name] = call.Team{Mode: routing.TeamMode(t.Ring), MemberTimeout: t.MemberTimeout}
	}
	for _, u := range cfg.Users {
		if u.Team == "" {
			continue
		}
		t, ok := teams[u.Team]
		if !ok {
			t = call.Team{Mode: routing.TeamAll, MemberTimeout: 20 * time.Second}
		}
		t.Members = append(t.Members, u.ID)
		teams[u.Team] = t
	}
	return teams
}

func webrtcConfig(cfg *config.Config) media.WebRTCConfig {
	w := cfg.WebRTC
	mc := media.WebRTCConfig{
		PublicIPs:  w.PublicIPs,
		PortMin:    uint16(w.PortMin),
		PortMax:    uint16(w.PortMax),
		Loopback:   w.Loopback,
		Interfaces: w.Interfaces,
	}
	if len(w.STUN) > 0 {
		mc.ICEServers = append(mc.ICEServers, media.ICEServer{URLs: w.STUN})
	}
	return mc
}

func signalingConfig(cfg *config.Config) signaling.Config {
	sc := signaling.Config{
		AllowedOrigins: cfg.HTTP.AllowedOrigins,
		STUN:           cfg.WebRTC.STUN,
		TURN: signaling.TURN{
			URLs: cfg.WebRTC.TURN.URLs, Username: cfg.WebRTC.TURN.Username, Credential: cfg.WebRTC.TURN.Credential,
			Secret: cfg.WebRTC.TURN.Secret, TTL: cfg.WebRTC.TURN.TTL,
		},
	}
	for _, u := range cfg.Users {
		sc.Users = append(sc.Users, signaling.User{ID: u.ID, Name: u.Name, Team: u.Team, Token: u.Token})
	}
	for _, n := range cfg.Numbers {
		sc.Numbers = append(sc.Numbers, signaling.Number{Number: n.Number, Name: n.Name, Owner: n.Owner})
	}
	return sc
}

// issuedTokens looks up sign-in tokens issued through the API in st. A
// token of a user who has since been removed from the configuration signs
// no one in.
func issuedTokens(cfg *config.Config, st *store.Store) func(token string) (string, bool) {
	return func(token string) (string, bool) {
		id, ok := st.LookupToken(token, time.Now())
		if !ok {
			return "", false
		}
		if _, known := cfg.User(id); !known {
			return "", false
		}
		return id, true
	}
}

// tokenAuth checks API bearer tokens against the users' configured sign-in
// tokens, then against tokens issued through the API (issued, may be nil).
// Configured tokens are compared as SHA-256 digests in a map, so the lookup
// takes the same time whatever a guess has in common with a real token (the
// store looks issued tokens up by digest too). With no tokens configured and
// issuing off (required false) it returns nil: the API stays as open as its
// listener (127.0.0.1 by default). With issuing on, the API is closed even
// before any user has a token, because an operator who set
// http.admin_token means to hand out tokens.
func tokenAuth(users []config.User, issued func(token string) (string, bool), required bool) api.Authenticator {
	tokens := map[[sha256.Size]byte]string{}
	for _, u := range users {
		if u.Token != "" {
			tokens[sha256.Sum256([]byte(u.Token))] = u.ID
		}
	}
	if len(tokens) == 0 && !required {
		return nil
	}
	return func(token string) (string, bool) {
		if token == "" {
			return "", false
		}
		if id, ok := tokens[sha256.Sum256([]byte(token))]; ok {
			return id, true
		}
		if issued != nil {
			return issued(token)
		}
		return "", false
	}
}
