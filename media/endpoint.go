package media

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrInvalidAddr is returned by OpenEndpoint for an invalid local IP.
var ErrInvalidAddr = errors.New("media: invalid local address")

// Socket receive buffers. The kernel default (about 208 KiB) is far more
// than a 50 packets/s G.711 stream needs; 64 KiB still absorbs well over a
// second of backlog. The RTCP socket is never read (see Endpoint), so it
// gets the smallest useful buffer.
const (
	rtpReadBuffer  = 64 << 10
	rtcpReadBuffer = 4 << 10
	// maxBindAttempts bounds how many port pairs OpenEndpoint tries when
	// ports are taken by other programs before giving up.
	maxBindAttempts = 64
)

// peerState is where an endpoint's far end is, replaced as a whole (never
// mutated) so the relay reads it with one atomic load.
type peerState struct {
	remote netip.AddrPort // from SDP (SetRemote); invalid if never set
	source netip.AddrPort // latched source of the far end's RTP; invalid until latched
	dst    netip.AddrPort // where to send; invalid means send nothing
}

// sendTo derives where RTP toward the far end goes.
func sendTo(remote, source netip.AddrPort) netip.AddrPort {
	// RFC 3264 §8.4: an SDP connection address of 0.0.0.0 (old-style hold)
	// or a zero port (stream rejected, §6) means: send nothing.
	if remote.IsValid() && (remote.Addr().IsUnspecified() || remote.Port() == 0) {
		return netip.AddrPort{}
	}
	// RFC 4961: send to where the far end's packets come from.
	if source.IsValid() {
		return source
	}
	return remote
}

// unmap normalises IPv4-mapped IPv6 addresses so an SDP address and a
// packet source compare equal whichever way the socket reports them.
func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// Endpoint is one leg's RTP/RTCP socket pair on the switch.
//
// It does symmetric RTP (RFC 4961), which is what gets audio through NAT: it
// latches to the source of the first RTP packet received and sends to that
// address from then on, even when SDP named another one. Once latched,
// packets from any other source are rejected, which stops RTP injection and
// hijacking. SetRemote (a re-INVITE with a new address) un-latches.
//
// The RTCP socket (port+1, RFC 3550 §11) is bound so the pair is reserved
// and the far end's reports are not answered with ICMP port-unreachable.
// Its reports are not relayed: they describe the stream as the far end saw
// it, and the bridge rewrites SSRC, sequence numbers and timestamps, so
// relayed reports would be wrong for the other leg.
type Endpoint struct {
	rtp, rtcp *net.UDPConn
	port      int
	local     netip.AddrPort
	pool      *PortPool
	peer      atomic.Pointer[peerState]

	closeOnce sync.Once
	closeErr  error
}

// OpenEndpoint binds ip:port (RTP) and ip:port+1 (RTCP) with a port pair
// from pool. When a pair is taken by another program it moves on to the
// next one from the pool; ports it could not bind are returned to the pool.
// It returns an error wrapping ErrNoPorts when the pool is exhausted.
func OpenEndpoint(ip netip.Addr, pool *PortPool) (*Endpoint, error) {
	if !ip.IsValid() {
		return nil, ErrInvalidAddr
	}
	if pool == nil {
		return nil, errors.New("media: OpenEndpoint: nil port pool")
	}
	ip = ip.Unmap()
	network := "udp6"
	if ip.Is4() {
		network = "udp4"
	}
	// Keep pairs that failed out of the pool until we are done so the loop
	// does not pick them again; hand them back afterwards.
	var busy []int
	defer func() {
		for _, p := range busy {
			pool.Release(p)
		}
	}()
	var lastErr error
	for range maxBindAttempts {
		port, err := pool.Acquire()
		if err != nil {
			if lastErr != nil {
				return nil, fmt.Errorf("%w (last bind error: %w)", err, lastErr)
			}
			return nil, err
		}
		rtp, rtcp, err := bindPair(network, ip, port)
		if err == nil {
			e := &Endpoint{rtp: rtp, rtcp: rtcp, port: port, pool: pool,
				local: netip.AddrPortFrom(ip, uint16(port))}
			e.peer.Store(&peerState{})
			return e, nil
		}
		busy = append(busy, port)
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("media: open endpoint on %v: %w", ip, err)
		}
		lastErr = err
	}
	return nil, fmt.Errorf("media: no bindable port pair on %v after %d attempts: %w", ip, maxBindAttempts, lastErr)
}

// bindPair binds the RTP and RTCP sockets of one port pair.
func bindPair(network string, ip netip.Addr, port int) (*net.UDPConn, *net.UDPConn, error) {
	rtp, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))))
	if err != nil {
		return nil, nil, err
	}
	rtcp, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port+1))))
	if err != nil {
		rtp.Close()
		return nil, nil, err
	}
	// Best effort: a failure leaves the kernel default, which also works.
	if err := rtp.SetReadBuffer(rtpReadBuffer); err != nil {
		slog.Debug("media: set RTP read buffer", "port", port, "err", err)
	}
	if err := rtcp.SetReadBuffer(rtcpReadBuffer); err != nil {
		slog.Debug("media: set RTCP read buffer", "port", port+1, "err", err)
	}
	return rtp, rtcp, nil
}

// LocalPort returns the RTP port (RTCP is LocalPort()+1), for the SDP m= line.
func (e *Endpoint) LocalPort() int { return e.port }

// LocalAddr returns the bound RTP address.
func (e *Endpoint) LocalAddr() netip.AddrPort { return e.local }

// SetRemote sets the far end's RTP address from its SDP and drops any
// latched source, so the next packet received latches again. An
// unspecified address (0.0.0.0 or ::, RFC 3264 §8.4 hold) or port 0 means:
// send nothing. Safe to call while a bridge is running.
func (e *Endpoint) SetRemote(addr netip.AddrPort) {
	addr = unmap(addr)
	e.peer.Store(&peerState{remote: addr, dst: sendTo(addr, netip.AddrPort{})})
}

// Destination returns where RTP toward the far end is sent now: the latched
// source or the SDP address. It is invalid when nothing is to be sent (no
// address known yet, or hold).
func (e *Endpoint) Destination() netip.AddrPort {
	return e.peer.Load().dst
}

// accept reports whether a packet from src is from the far end, latching to
// src if nothing is latched yet. It allocates only when it latches.
func (e *Endpoint) accept(src netip.AddrPort) bool {
	src = unmap(src)
	for {
		st := e.peer.Load()
		if st.source.IsValid() {
			return st.source == src
		}
		next := &peerState{remote: st.remote, source: src, dst: sendTo(st.remote, src)}
		// A concurrent SetRemote wins; then latch against its new state.
		if e.peer.CompareAndSwap(st, next) {
			if st.remote.IsValid() && src != st.remote {
				slog.Debug("media: symmetric RTP latched to a source other than SDP",
					"port", e.port, "sdp", st.remote, "source", src)
			}
			return true
		}
	}
}

// ReadRTP implements Port: it blocks for the next RTP packet from the far
// end. Datagrams that are not RTP (RTCP on the RTP port, RFC 5761 §4; junk)
// and, once latched, packets from any source but the latched one are
// discarded here, so they can neither latch nor be injected. It returns an
// error wrapping net.ErrClosed once the endpoint is closed, and one wrapping
// os.ErrDeadlineExceeded when a read deadline passes.
//
// The bridge does not use it: it reads the socket itself so it can count
// every discarded datagram. ReadRTP is for other consumers of a Port.
func (e *Endpoint) ReadRTP(b []byte) (int, error) {
	for {
		n, src, err := e.rtp.ReadFromUDPAddrPort(b)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) {
				return 0, err
			}
			// Transient (an ICMP error surfaced by the kernel): the
			// socket is still usable.
			slog.Debug("media: RTP read", "port", e.port, "err", err)
			continue
		}
		pkt := b[:n]
		if isRTCP(pkt) {
			continue
		}
		if _, _, ok := rtpPayload(pkt); !ok {
			continue
		}
		// Validate before accepting: a stray datagram must not latch.
		if e.accept(src) {
			return n, nil
		}
	}
}

// SetReadDeadline makes a pending and any later ReadRTP return an error
// wrapping os.ErrDeadlineExceeded at t (the zero time clears it). A Line
// uses it to stop reading without closing the socket.
func (e *Endpoint) SetReadDeadline(t time.Time) error { return e.rtp.SetReadDeadline(t) }

// WriteRTP implements Port: it sends one RTP packet to Destination. When
// there is no destination (no address known yet, or hold, RFC 3264 §8.4)
// the packet is discarded and WriteRTP returns nil: not sending is what the
// far end asked for.
func (e *Endpoint) WriteRTP(b []byte) error {
	dst := e.Destination()
	if !dst.IsValid() {
		return nil
	}
	_, err := e.rtp.WriteToUDPAddrPort(b, dst)
	return err
}

// String describes the endpoint for logs: "udp:" and its RTP port.
func (e *Endpoint) String() string { return "udp:" + strconv.Itoa(e.port) }

// Close closes both sockets, which unblocks any reader, and returns the
// port pair to the pool. It is idempotent; later calls return the first
// call's result.
func (e *Endpoint) Close() error {
	e.closeOnce.Do(func() {
		e.closeErr = errors.Join(e.rtp.Close(), e.rtcp.Close())
		e.pool.Release(e.port)
	})
	return e.closeErr
}
