// Package sip is the gateway's SIP side on sipgo: UDP and TCP transports,
// trunk ACLs, dialogs of inbound and outbound legs, SDP for their RTP, and
// trunk registration. It turns dialogs into call.Leg values for the engine.
package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/call"
	"switchboard/media"
	"switchboard/metrics"
)

// Trunk is a SIP trunk as the SIP layer needs it.
type Trunk struct {
	Name           string
	Allow          []netip.Prefix // sources that may send calls in
	Proxy          string         // sip URI where calls out go
	Username       string         // digest credentials (RFC 3261 §22)
	Password       string
	Register       bool
	RegisterExpiry time.Duration
	FromDomain     string
}

// Config configures the SIP server.
type Config struct {
	Listen         string // host:port for UDP and TCP
	PublicAddress  string // host[:port] for Contact/Via/SDP; empty = Listen
	MaxMessageSize int    // bytes; larger messages are dropped
	UserAgent      string
	RTPAddress     netip.Addr // where RTP sockets bind
	Trunks         []Trunk
}

// Handler receives new inbound calls; the call engine implements it.
type Handler interface {
	HandleInbound(leg call.InboundLeg) error
	Accepting() bool
}

// inDialog is a leg that takes requests within its dialog.
type inDialog interface {
	handleRequest(req *sip.Request, tx sip.ServerTransaction)
}

// Server is the gateway's SIP endpoint: it serves trunks and places calls out.
type Server struct {
	cfg     Config
	log     *slog.Logger
	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	client  *sipgo.Client
	dua     *sipgo.DialogUA
	ports   *media.PortPool
	handler Handler
	trunks  map[string]*Trunk

	host      string     // our host for Contact and Via
	port      int        // our port for Contact and Via
	mediaAddr netip.Addr // the address we put in SDP c= lines

	mu      sync.Mutex
	dialogs map[string]inDialog

	sessionID atomic.Uint64
	running   atomic.Bool
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// New prepares a server; Start binds its sockets.
func New(cfg Config, ports *media.PortPool, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = 8192
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "Switchboard"
	}
	s := &Server{
		cfg:     cfg,
		log:     log.With("component", "sip"),
		ports:   ports,
		trunks:  make(map[string]*Trunk, len(cfg.Trunks)),
		dialogs: make(map[string]inDialog),
	}
	for i := range cfg.Trunks {
		t := &cfg.Trunks[i]
		s.trunks[t.Name] = t
	}
	s.sessionID.Store(uint64(time.Now().Unix()))
	return s, nil
}

// SetHandler sets who takes inbound calls. Call it before Start.
func (s *Server) SetHandler(h Handler) { s.handler = h }

// Start binds UDP and TCP on the listen address and serves until Close.
func (s *Server) Start(ctx context.Context) error {
	if s.handler == nil {
		return errors.New("sip: no handler set")
	}
	udp, err := net.ListenPacket("udp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("sip.listen: %w", err)
	}
	tcp, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		udp.Close()
		return fmt.Errorf("sip.listen: %w", err)
	}
	if err := s.resolveAddresses(udp.LocalAddr().(*net.UDPAddr)); err != nil {
		udp.Close()
		tcp.Close()
		return err
	}

	parser := sip.NewParser()
	parser.MaxMessageLength = s.cfg.MaxMessageSize
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent(s.cfg.UserAgent),
		sipgo.WithUserAgentHostname(s.host),
		sipgo.WithUserAgentParser(parser),
		sipgo.WithUserAgentTransportLayerOptions(
			sip.WithTransportLayerReadFilter(s.readFilter),
			sip.WithTransportLayerLogger(quietLogger(s.log)),
		),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quietLogger(s.log))),
	)
	if err != nil {
		return fmt.Errorf("sip: user agent: %w", err)
	}
	s.ua = ua
	s.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(quietLogger(s.log)))
	if err != nil {
		return fmt.Errorf("sip: server: %w", err)
	}
	local := udp.LocalAddr().(*net.UDPAddr)
	s.client, err = sipgo.NewClient(ua,
		sipgo.WithClientHostname(s.host),
		sipgo.WithClientPort(s.port),
		sipgo.WithClientConnectionAddr(net.JoinHostPort(local.IP.String(), strconv.Itoa(local.Port))),
		sipgo.WithClientLogger(quietLogger(s.log)),
	)
	if err != nil {
		return fmt.Errorf("sip: client: %w", err)
	}
	s.dua = &sipgo.DialogUA{
		Client: s.client,
		ContactHDR: sip.ContactHeader{
			Address: sip.Uri{Scheme: "sip", User: "switchboard", Host: s.host, Port: s.port},
		},
	}
	s.routes()

	// The listeners outlive the caller's context: on SIGTERM the gateway
	// still answers (503 to new calls, BYEs of running ones) while it
	// drains. Close ends them.
	ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.running.Store(true)
	s.wg.Add(2)
	go func() { defer s.wg.Done(); _ = s.srv.ServeUDP(udp) }()
	go func() { defer s.wg.Done(); _ = s.srv.ServeTCP(tcp) }()
	go func() { <-ctx.Done(); udp.Close(); tcp.Close() }()
	// sipgo adds the UDP listener to its connection pool inside ServeUDP;
	// a REGISTER sent before that binds a second socket on our address and
	// fails with EADDRINUSE. Wait (briefly, bounded) until it is there.
	for deadline := time.Now().Add(time.Second); s.ua.TransportLayer().Pool("udp").Size() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	for i := range s.cfg.Trunks {
		if t := &s.cfg.Trunks[i]; t.Register {
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.registerLoop(ctx, t) }()
		}
	}
	s.log.Info("SIP listening", "udp", udp.LocalAddr().String(), "tcp", tcp.Addr().String(), "contact", net.JoinHostPort(s.host, strconv.Itoa(s.port)), "media_ip", s.mediaAddr)
	return nil
}

// Close stops serving and waits for the listeners and registrations to end.
func (s *Server) Close() error {
	if !s.running.Swap(false) {
		return nil
	}
	s.cancel()
	s.wg.Wait()
	return s.ua.Close()
}

// Healthy reports whether the SIP listeners are up.
func (s *Server) Healthy() bool { return s.running.Load() }

// resolveAddresses picks the host:port we advertise and the SDP media address.
func (s *Server) resolveAddresses(local *net.UDPAddr) error {
	host, port := local.IP.String(), local.Port
	if pa := s.cfg.PublicAddress; pa != "" {
		h, p, err := net.SplitHostPort(pa)
		if err != nil {
			h, p = pa, ""
		}
		host = h
		if p != "" {
			n, err := strconv.Atoi(p)
			if err != nil {
				return fmt.Errorf("sip: public_address %q: bad port", pa)
			}
			port = n
		}
	}
	ip, err := netip.ParseAddr(host)
	if err == nil && ip.IsUnspecified() {
		ip = outboundIP()
		host = ip.String()
	}
	s.host, s.port = host, port
	// SDP needs an IP: the RTP bind address when specific, else the advertised host.
	switch {
	case s.cfg.RTPAddress.IsValid() && !s.cfg.RTPAddress.IsUnspecified():
		s.mediaAddr = s.cfg.RTPAddress
	case err == nil:
		s.mediaAddr = ip
	default:
		addrs, lerr := net.DefaultResolver.LookupNetIP(context.Background(), "ip4", host)
		if lerr != nil || len(addrs) == 0 {
			return fmt.Errorf("sip: cannot resolve public_address host %q for SDP: %w", host, lerr)
		}
		s.mediaAddr = addrs[0]
	}
	return nil
}

// outboundIP is the first global unicast address of the machine, used when we
// listen on 0.0.0.0 and nobody told us what to advertise.
func outboundIP() netip.Addr {
	ifaces, _ := net.InterfaceAddrs()
	for _, a := range ifaces {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() && p.Addr().IsGlobalUnicast() {
			return p.Addr()
		}
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1})
}

// readFilter runs on every datagram or stream chunk before sipgo parses it:
// oversized UDP messages are dropped and counted (RFC 3261 §18.1.1 leaves
// large messages to TCP; the parser enforces the limit on streams).
func (s *Server) readFilter(p sip.TransportReadProps, data []byte) ([]byte, error) {
	if len(data) > s.cfg.MaxMessageSize {
		metrics.Rejected.WithLabelValues("too_large").Inc()
		return nil, nil
	}
	return data, nil
}

// nextSessionVersion gives unique SDP o= session ids.
func (s *Server) nextSessionID() uint64 { return s.sessionID.Add(1) }

func (s *Server) addDialog(id string, d inDialog) {
	s.mu.Lock()
	s.dialogs[id] = d
	s.mu.Unlock()
}

func (s *Server) removeDialog(id string) {
	s.mu.Lock()
	delete(s.dialogs, id)
	s.mu.Unlock()
}

// findDialog matches a request to one of our dialogs, whether we are its UAS
// (caller legs) or UAC (callee legs), RFC 3261 §12.2.2.
func (s *Server) findDialog(req *sip.Request) inDialog {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, err := sip.DialogIDFromRequestUAS(req); err == nil {
		if d, ok := s.dialogs[id]; ok {
			return d
		}
	}
	if id, err := sip.DialogIDFromRequestUAC(req); err == nil {
		if d, ok := s.dialogs[id]; ok {
			return d
		}
	}
	return nil
}

// DialogCount returns the number of live dialogs (for tests and metrics).
func (s *Server) DialogCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.dialogs)
}

// trunkFor returns the trunk whose allow list contains the request's source.
func (s *Server) trunkFor(req *sip.Request) (*Trunk, netip.Addr) {
	ap, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return nil, netip.Addr{}
	}
	src := ap.Addr().Unmap()
	for i := range s.cfg.Trunks {
		t := &s.cfg.Trunks[i]
		for _, p := range t.Allow {
			if p.Contains(src) {
				return t, src
			}
		}
	}
	return nil, src
}
