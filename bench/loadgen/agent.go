package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// agent is one SIP endpoint of the load generator: a sipgo user agent that
// serves and sends on a single UDP socket, so requests it sends and
// requests it receives share one address (as a trunk's SBC does).
type agent struct {
	addr    netip.AddrPort
	conn    net.PacketConn
	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	client  *sipgo.Client
	contact sip.ContactHeader
}

// newAgent binds addr (UDP) and prepares a user agent named name on it.
// Call serve to start answering requests.
func newAgent(addr netip.AddrPort, name string, log *slog.Logger) (*agent, error) {
	conn, err := net.ListenPacket("udp4", addr.String())
	if err != nil {
		return nil, fmt.Errorf("sip: listen %v: %w", addr, err)
	}
	bound := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	host := bound.Addr().String()
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent(name),
		sipgo.WithUserAgentHostname(host),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log)),
	)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("sip: user agent: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		ua.Close()
		conn.Close()
		return nil, fmt.Errorf("sip: server: %w", err)
	}
	client, err := sipgo.NewClient(ua,
		sipgo.WithClientHostname(host),
		sipgo.WithClientPort(int(bound.Port())),
		sipgo.WithClientConnectionAddr(bound.String()),
		sipgo.WithClientLogger(log),
	)
	if err != nil {
		ua.Close()
		conn.Close()
		return nil, fmt.Errorf("sip: client: %w", err)
	}
	return &agent{
		addr:    bound,
		conn:    conn,
		ua:      ua,
		srv:     srv,
		client:  client,
		contact: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: name, Host: host, Port: int(bound.Port())}},
	}, nil
}

// serve answers requests on the agent's socket until close. It returns
// once the transport layer has registered the socket: a request sent
// before that would make sipgo bind a second socket on the same address.
func (a *agent) serve() error {
	go func() { _ = a.srv.ServeUDP(a.conn) }()
	pool := a.ua.TransportLayer().Pool("udp")
	deadline := time.Now().Add(2 * time.Second)
	for pool.Size() == 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("sip: %v: transport did not start serving", a.addr)
		}
		time.Sleep(time.Millisecond) // sipgo offers no readiness signal for ServeUDP
	}
	return nil
}

// close stops serving and releases the socket.
func (a *agent) close() {
	a.conn.Close()
	a.ua.Close()
}
