package e2e

import (
	"bytes"
	"net"
	"strconv"
	"sync"
	"testing"
)

// udpSink stands where the trunk's outbound proxy would be and records every
// datagram that arrives, answering nothing. Tests use it to prove that the
// gateway sent nothing out (a toll-fraud guard must not even try).
type udpSink struct {
	conn net.PacketConn

	mu        sync.Mutex
	datagrams [][]byte
}

func newUDPSink(t *testing.T) *udpSink {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &udpSink{conn: conn}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.datagrams = append(s.datagrams, bytes.Clone(buf[:n]))
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	return s
}

func (s *udpSink) addr() string {
	return "127.0.0.1:" + strconv.Itoa(s.conn.LocalAddr().(*net.UDPAddr).Port)
}

// received returns how many datagrams arrived and the first line of each.
func (s *udpSink) received() (int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := make([]string, len(s.datagrams))
	for i, d := range s.datagrams {
		line, _, _ := bytes.Cut(d, []byte("\r\n"))
		lines[i] = string(line)
	}
	return len(s.datagrams), lines
}
