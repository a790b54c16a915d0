// Package pacing measures how evenly RTP packets arrive, using the kernel's
// receive timestamps (SO_TIMESTAMPNS) so the measurement does not depend on
// when the test's goroutine happened to be scheduled.
package pacing

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"syscall"
	"time"
	"unsafe"
)

// Arrival is one datagram and the time the kernel received it.
type Arrival struct {
	At   time.Time
	Data []byte
}

// Receiver is a UDP socket that reports kernel receive times.
type Receiver struct {
	conn *net.UDPConn
	oob  []byte
	buf  []byte
}

// Enable turns on kernel receive timestamps for conn and returns a Receiver on it.
func Enable(conn *net.UDPConn) (*Receiver, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, fmt.Errorf("pacing: SO_TIMESTAMPNS: %w", serr)
	}
	return &Receiver{conn: conn, oob: make([]byte, 128), buf: make([]byte, 2048)}, nil
}

// Read waits until deadline for the next datagram and returns it with its
// kernel arrival time.
func (r *Receiver) Read(deadline time.Time) (Arrival, error) {
	if err := r.conn.SetReadDeadline(deadline); err != nil {
		return Arrival{}, err
	}
	n, oobn, _, _, err := r.conn.ReadMsgUDP(r.buf, r.oob)
	if err != nil {
		return Arrival{}, err
	}
	msgs, err := syscall.ParseSocketControlMessage(r.oob[:oobn])
	if err != nil {
		return Arrival{}, err
	}
	for _, m := range msgs {
		if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SO_TIMESTAMPNS &&
			len(m.Data) >= int(unsafe.Sizeof(syscall.Timespec{})) {
			ts := (*syscall.Timespec)(unsafe.Pointer(&m.Data[0]))
			return Arrival{At: time.Unix(ts.Unix()), Data: append([]byte(nil), r.buf[:n]...)}, nil
		}
	}
	return Arrival{}, errors.New("pacing: datagram without a kernel timestamp")
}

// Stats summarises the spacing of a packet train against its nominal interval.
type Stats struct {
	Packets int
	// P95Deviation and P99Deviation are the 95th and 99th percentiles of
	// |interval - nominal|.
	P95Deviation, P99Deviation time.Duration
	// MaxDeviation is the largest |interval - nominal|.
	MaxDeviation time.Duration
	// MinInterval is the shortest gap between consecutive packets (a burst shows as ~0).
	MinInterval time.Duration
	// Mean is the mean interval.
	Mean time.Duration
	// MaxEarly is how far the earliest packet came ahead of the train's
	// schedule: packet i is due i nominal intervals after the train's
	// median packet is, relative to its own index. A sender that bursts
	// or whose clock runs fast shows here; one that stalls and then keeps
	// its schedule does not.
	MaxEarly time.Duration
}

// Measure computes Stats for arrival times at, expected every nominal.
func Measure(at []time.Time, nominal time.Duration) Stats {
	if len(at) < 2 {
		return Stats{Packets: len(at)}
	}
	devs := make([]time.Duration, 0, len(at)-1)
	minIv := time.Duration(1<<63 - 1)
	for i := 1; i < len(at); i++ {
		iv := at[i].Sub(at[i-1])
		minIv = min(minIv, iv)
		d := iv - nominal
		if d < 0 {
			d = -d
		}
		devs = append(devs, d)
	}
	// offsets[i] is how late packet i is against a schedule starting at
	// the first packet; against the median offset, the train's typical
	// lateness, a negative one is early.
	offsets := make([]time.Duration, len(at))
	for i := range at {
		offsets[i] = at[i].Sub(at[0]) - time.Duration(i)*nominal
	}
	earliest := slices.Min(offsets)
	slices.Sort(offsets)
	median := offsets[len(offsets)/2]
	slices.Sort(devs)
	pct := func(p int) time.Duration { return devs[(len(devs)*p+99)/100-1] }
	return Stats{
		Packets:      len(at),
		P95Deviation: pct(95),
		P99Deviation: pct(99),
		MaxEarly:     median - earliest,
		MaxDeviation: devs[len(devs)-1],
		MinInterval:  minIv,
		Mean:         at[len(at)-1].Sub(at[0]) / time.Duration(len(at)-1),
	}
}

// String formats the stats for test logs.
func (s Stats) String() string {
	return fmt.Sprintf("%d packets, mean interval %v, p95/p99 deviation %v/%v, max deviation %v, min interval %v, most ahead of schedule %v",
		s.Packets, s.Mean, s.P95Deviation, s.P99Deviation, s.MaxDeviation, s.MinInterval, s.MaxEarly)
}
