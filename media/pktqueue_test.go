package media

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/pion/transport/v4/packetio"
)

func seqPacket(seq uint16) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b, seq)
	return b
}

func readSeq(t *testing.T, q *pktQueue) uint16 {
	t.Helper()
	buf := make([]byte, maxPacket)
	n, err := q.Read(buf)
	if err != nil || n != 20 {
		t.Fatalf("Read = %d, %v", n, err)
	}
	return binary.BigEndian.Uint16(buf)
}

func TestPktQueueKeepsNewest(t *testing.T) {
	q := newPktQueue(4, 0)
	for i := range uint16(10) {
		if n, err := q.Write(seqPacket(i)); n != 20 || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	for want := uint16(6); want < 10; want++ {
		if got := readSeq(t, q); got != want {
			t.Fatalf("read %d, want %d", got, want)
		}
	}
	if got := q.dropped.Load(); got != 6 {
		t.Fatalf("dropped %d, want 6", got)
	}
	// Wrapping around the slots keeps order.
	for i := uint16(100); i < 103; i++ {
		q.Write(seqPacket(i))
	}
	for want := uint16(100); want < 103; want++ {
		if got := readSeq(t, q); got != want {
			t.Fatalf("after wrap read %d, want %d", got, want)
		}
	}
}

func TestPktQueueOversizeAndShortBuffer(t *testing.T) {
	q := newPktQueue(2, 0)
	if n, err := q.Write(make([]byte, maxPacket+1)); n != maxPacket+1 || err != nil {
		t.Fatalf("oversize Write = %d, %v; want it swallowed", n, err)
	}
	if q.dropped.Load() != 1 || q.count != 0 {
		t.Fatalf("oversize packet queued (count %d, dropped %d)", q.count, q.dropped.Load())
	}
	q.Write([]byte{1, 2, 3, 4, 5})
	small := make([]byte, 3)
	n, err := q.Read(small)
	if n != 3 || !errors.Is(err, io.ErrShortBuffer) || small[2] != 3 {
		t.Fatalf("short Read = %d, %v, %v", n, err, small)
	}
}

func TestPktQueueBlockingDeadlineClose(t *testing.T) {
	q := newPktQueue(2, 0)
	buf := make([]byte, maxPacket)

	got := make(chan uint16, 1)
	go func() {
		n, err := q.Read(buf)
		if err != nil || n != 20 {
			got <- 0
			return
		}
		got <- binary.BigEndian.Uint16(buf)
	}()
	q.Write(seqPacket(7))
	select {
	case s := <-got:
		if s != 7 {
			t.Fatalf("blocked Read got %d, want 7", s)
		}
	case <-time.After(recvTimeout):
		t.Fatal("Read did not wake on Write")
	}

	if err := q.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	q.Write(seqPacket(8))
	if _, err := q.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the deadline = %v", err)
	}
	q.SetReadDeadline(time.Time{})
	if s := readSeq(t, q); s != 8 {
		t.Fatalf("after clearing the deadline read %d, want 8", s)
	}
	q.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := q.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read on an empty queue until the deadline = %v", err)
	}
	q.SetReadDeadline(time.Time{})

	done := make(chan error, 1)
	go func() {
		_, err := q.Read(buf)
		done <- err
	}()
	q.Write(seqPacket(9))
	<-done // takes 9
	go func() {
		_, err := q.Read(buf)
		done <- err
	}()
	q.Write(seqPacket(10))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	q.Write(seqPacket(11))
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if _, err := q.Write(seqPacket(12)); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("Write after Close = %v", err)
	}
	if s := readSeq(t, q); s != 11 {
		t.Fatalf("queued packet after Close: %d, want 11", s)
	}
	if _, err := q.Read(buf); !errors.Is(err, io.EOF) {
		t.Fatalf("Read of a closed, empty queue = %v, want EOF", err)
	}

	q2 := newPktQueue(2, 0)
	go func() {
		_, err := q2.Read(buf)
		done <- err
	}()
	q2.Close()
	select {
	case err := <-done:
		if !errors.Is(err, io.EOF) {
			t.Fatalf("blocked Read after Close = %v, want EOF", err)
		}
	case <-time.After(recvTimeout):
		t.Fatal("Close did not wake the reader")
	}
}

// TestPktQueueConcurrent runs a writer and a reader flat out (under -race
// in make test): order is kept, and every packet is read or counted dropped.
func TestPktQueueConcurrent(t *testing.T) {
	const n = 20000
	q := newPktQueue(rtpQueuePackets, 0)
	go func() {
		for i := range uint16(n) {
			q.Write(seqPacket(i + 1))
		}
	}()
	buf := make([]byte, maxPacket)
	var read uint64
	last := uint16(0)
	for last != n {
		if _, err := q.Read(buf); err != nil {
			t.Fatal(err)
		}
		s := binary.BigEndian.Uint16(buf)
		if s <= last {
			t.Fatalf("read %d after %d", s, last)
		}
		last = s
		read++
	}
	if read+q.dropped.Load() != n {
		t.Fatalf("read %d + dropped %d != %d written", read, q.dropped.Load(), n)
	}
}

func TestPktQueueZeroAllocs(t *testing.T) {
	q := newPktQueue(rtpQueuePackets, 0)
	pkt := make([]byte, 172)
	buf := make([]byte, maxPacket)
	allocs := testing.AllocsPerRun(1000, func() {
		q.Write(pkt)
		q.Read(buf)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per packet, want 0", allocs)
	}
}

func TestNewPacketQueueSizes(t *testing.T) {
	if got := len(newPacketQueue(packetio.RTPBufferPacket).lens); got != rtpQueuePackets {
		t.Fatalf("RTP queue holds %d packets, want %d", got, rtpQueuePackets)
	}
	if got := len(newPacketQueue(packetio.RTCPBufferPacket).lens); got != rtcpQueuePackets {
		t.Fatalf("RTCP queue holds %d packets, want %d", got, rtcpQueuePackets)
	}
}

func TestPktQueueDropsStalePackets(t *testing.T) {
	q := newPktQueue(rtpQueuePackets, maxQueueAge)
	for i := range uint16(3) {
		q.Write(seqPacket(i))
	}
	// Age the three as if they had waited past maxQueueAge unread.
	q.mu.Lock()
	for i := range q.count {
		q.at[(q.head+i)%len(q.at)] -= int64(2 * maxQueueAge)
	}
	q.mu.Unlock()
	q.Write(seqPacket(3))
	if got := readSeq(t, q); got != 3 {
		t.Fatalf("read %d, want the fresh packet 3 (stale 0-2 dropped)", got)
	}
	if got := q.dropped.Load(); got != 3 {
		t.Fatalf("dropped %d, want 3", got)
	}
}
