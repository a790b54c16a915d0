package media

import (
	"errors"
	"net"
	"net/netip"
	"testing"
)

func TestOpenEndpointBindsPair(t *testing.T) {
	pool := newTestPool(t)
	e := openTestEndpoint(t, pool)
	port := e.LocalPort()
	if port%2 != 0 {
		t.Fatalf("RTP port %d is odd", port)
	}
	if got := e.LocalAddr(); got != netip.AddrPortFrom(loopback, uint16(port)) {
		t.Fatalf("LocalAddr = %v, want 127.0.0.1:%d", got, port)
	}
	// Both ports of the pair are taken.
	for _, p := range []int{port, port + 1} {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		if err == nil {
			c.Close()
			t.Fatalf("port %d is not bound by the endpoint", p)
		}
	}
	if got := pool.Available(); got != pool.Size()-1 {
		t.Fatalf("Available = %d, want %d", got, pool.Size()-1)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	if got := pool.Available(); got != pool.Size() {
		t.Fatalf("Available after Close = %d, want %d (released exactly once)", got, pool.Size())
	}
	// The pair is free again.
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatalf("port %d still bound after Close: %v", port, err)
	}
	c.Close()
}

func TestOpenEndpointSkipsBusyPorts(t *testing.T) {
	tests := []struct {
		name   string
		offset int // which port of the first pair someone else holds
	}{
		{"RTP port taken", 0},
		{"RTCP port taken", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Find a pair we can take, then squat one of its ports.
			var pool *PortPool
			var squat *net.UDPConn
			for squat == nil {
				pool = newTestPool(t)
				first := pool.base + tt.offset
				c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: first})
				if err == nil {
					squat = c
				}
			}
			defer squat.Close()
			e := openTestEndpoint(t, pool)
			if e.LocalPort() == pool.base {
				t.Fatalf("endpoint got the busy pair %d", pool.base)
			}
			// The busy pair went back to the pool; only the endpoint's is out.
			if got := pool.Available(); got != pool.Size()-1 {
				t.Fatalf("Available = %d, want %d", got, pool.Size()-1)
			}
		})
	}
}

func TestOpenEndpointErrors(t *testing.T) {
	if _, err := OpenEndpoint(netip.Addr{}, newTestPool(t)); !errors.Is(err, ErrInvalidAddr) {
		t.Fatalf("invalid IP: err = %v, want ErrInvalidAddr", err)
	}
	if _, err := OpenEndpoint(loopback, nil); err == nil {
		t.Fatal("nil pool accepted")
	}
	// A one-pair pool: the second endpoint finds none.
	p := newTestPool(t)
	one, err := NewPortPool(p.base, p.base+1)
	if err != nil {
		t.Fatal(err)
	}
	openTestEndpoint(t, one)
	if _, err := OpenEndpoint(loopback, one); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("exhausted pool: err = %v, want ErrNoPorts", err)
	}
}

func TestEndpointLatching(t *testing.T) {
	pool := newTestPool(t)
	e := openTestEndpoint(t, pool)
	sdp := netip.MustParseAddrPort("192.0.2.10:4000")
	nat := netip.MustParseAddrPort("198.51.100.7:61000")
	other := netip.MustParseAddrPort("203.0.113.9:5000")

	if e.Destination().IsValid() {
		t.Fatalf("fresh endpoint sends to %v, want nowhere", e.Destination())
	}
	e.SetRemote(sdp)
	if got := e.Destination(); got != sdp {
		t.Fatalf("Destination = %v, want SDP %v", got, sdp)
	}
	// First packet comes from behind a NAT: latch there.
	if !e.accept(nat) {
		t.Fatal("first packet rejected")
	}
	if got := e.Destination(); got != nat {
		t.Fatalf("Destination = %v, want latched %v", got, nat)
	}
	if !e.accept(nat) {
		t.Fatal("latched source rejected")
	}
	if e.accept(other) || e.accept(sdp) {
		t.Fatal("foreign source accepted after latching")
	}
	// The same source as an IPv4-mapped IPv6 address is the same source.
	mapped := netip.AddrPortFrom(netip.AddrFrom16(nat.Addr().As16()), nat.Port())
	if !e.accept(mapped) {
		t.Fatal("IPv4-mapped form of the latched source rejected")
	}
	// A re-INVITE moves the far end: un-latch, latch again.
	e.SetRemote(other)
	if got := e.Destination(); got != other {
		t.Fatalf("after SetRemote Destination = %v, want %v", got, other)
	}
	if !e.accept(other) || e.accept(nat) {
		t.Fatal("re-latching after SetRemote failed")
	}
}

func TestEndpointHoldAddress(t *testing.T) {
	tests := []struct {
		name   string
		remote string
	}{
		{"IPv4 unspecified (RFC 3264 hold)", "0.0.0.0:4000"},
		{"IPv6 unspecified", "[::]:4000"},
		{"port zero (stream rejected)", "192.0.2.10:0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := openTestEndpoint(t, newTestPool(t))
			e.SetRemote(netip.MustParseAddrPort(tt.remote))
			if e.Destination().IsValid() {
				t.Fatalf("Destination = %v, want nothing", e.Destination())
			}
			// Packets still arrive and latch, but nothing is sent.
			src := netip.MustParseAddrPort("198.51.100.7:61000")
			if !e.accept(src) {
				t.Fatal("packet rejected during hold")
			}
			if e.Destination().IsValid() {
				t.Fatalf("latching during hold made Destination %v", e.Destination())
			}
		})
	}
}
