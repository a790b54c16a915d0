package media

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"
)

// TestEndpointPort drives an Endpoint through the Port interface alone:
// junk and foreign sources never come out of ReadRTP, WriteRTP follows the
// latched source, hold sends nothing, Close ends ReadRTP.
func TestEndpointPort(t *testing.T) {
	var p Port = openTestEndpoint(t, newTestPool(t))
	e := p.(*Endpoint)
	if got, want := e.String(), "udp:"+strconv.Itoa(e.LocalPort()); got != want {
		t.Fatalf("String = %q, want %q", got, want)
	}
	far, intruder := newPhone(t), newPhone(t)
	e.SetRemote(netip.MustParseAddrPort("127.0.0.1:9")) // SDP said one port, NAT maps another
	buf := make([]byte, 2048)
	read := func() []byte {
		t.Helper()
		n, err := p.ReadRTP(buf)
		if err != nil {
			t.Fatal(err)
		}
		return buf[:n]
	}

	s := &stream{ssrc: 1, seq: 1, ts: 1, pt: PayloadPCMU}
	far.send(e.LocalAddr(), []byte("not RTP"))
	far.send(e.LocalAddr(), []byte{0x81, 201, 0, 1, 0, 0, 0, 1}) // RTCP RR on the RTP port
	first := s.next(t, bytes.Repeat([]byte{0x11}, 160))
	far.send(e.LocalAddr(), first)
	if got := read(); !bytes.Equal(got, first) {
		t.Fatalf("ReadRTP returned %x, want the first RTP packet", got)
	}
	if e.Destination() != far.addr {
		t.Fatalf("latched to %v, want %v", e.Destination(), far.addr)
	}

	si := &stream{ssrc: 2, pt: PayloadPCMU}
	intruder.send(e.LocalAddr(), si.next(t, bytes.Repeat([]byte{0x66}, 160)))
	second := s.next(t, bytes.Repeat([]byte{0x22}, 160))
	far.send(e.LocalAddr(), second)
	if got := read(); !bytes.Equal(got, second) {
		t.Fatalf("ReadRTP returned %x, want the latched source's packet (intruder's leaked)", got[:13])
	}

	out := (&stream{ssrc: 3, pt: PayloadPCMU}).next(t, pcmuSilence())
	if err := p.WriteRTP(out); err != nil {
		t.Fatal(err)
	}
	if got, from := far.recv(); from != e.LocalAddr() || got.SSRC != 3 {
		t.Fatalf("far end got SSRC %#x from %v", got.SSRC, from)
	}
	intruder.expectNothing()

	// RFC 3264 §8.4 hold: nothing is sent, and that is not an error.
	e.SetRemote(netip.AddrPortFrom(netip.IPv4Unspecified(), far.addr.Port()))
	if err := p.WriteRTP(out); err != nil {
		t.Fatalf("WriteRTP on hold = %v, want nil", err)
	}
	far.expectNothing()

	done := make(chan error, 1)
	go func() {
		_, err := p.ReadRTP(buf)
		done <- err
	}()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("ReadRTP after Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(recvTimeout):
		t.Fatal("ReadRTP still blocked after Close")
	}
}
