package media

import (
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/transport/v4/deadline"
	"github.com/pion/transport/v4/packetio"
)

// Queue sizes for what pion has received and decrypted but nobody has read
// yet, per SSRC. Pion's own buffers hold up to 1 MB of RTP per stream and
// drop the newest packets when full: a browser's microphone audio from
// before the bridge started (an outbound call ringing for a minute) would
// then be relayed a minute late. A voice reader never needs more than a
// few packets of slack, so the queue keeps only the newest ones.
const (
	// rtpQueuePackets is 320 ms of 20 ms G.711: more than a reader
	// goroutine is ever descheduled, little enough that what survives a
	// stalled reader is nearly live.
	rtpQueuePackets = 16
	// rtcpQueuePackets holds the browser's RTCP per SSRC; nothing reads it
	// but pion's interceptors, so only the newest reports matter.
	rtcpQueuePackets = 4
	// maxQueueAge is how long an RTP packet may wait unread: older audio is
	// stale (a browser's microphone from before the bridge started reading)
	// and is dropped rather than relayed late. A reader running normally
	// takes packets within a millisecond or two.
	maxQueueAge = 100 * time.Millisecond
)

// newPacketQueue returns the queue for one stream of the switch's peer
// connections (pion's SettingEngine.BufferFactory).
func newPacketQueue(kind packetio.BufferPacketType) *pktQueue {
	if kind == packetio.RTPBufferPacket {
		return newPktQueue(rtpQueuePackets, maxQueueAge)
	}
	return newPktQueue(rtcpQueuePackets, 0)
}

// pktQueue is a fixed-size queue of datagrams that keeps the newest: a
// write to a full queue drops the oldest packet. Its storage is allocated
// once, so queuing a packet allocates nothing. One reader and one writer
// at a time are expected (pion's stream goroutine writes, the track's
// reader reads), though concurrent readers are safe.
type pktQueue struct {
	mu     sync.Mutex
	data   []byte // len(lens) slots of maxPacket bytes
	lens   []int
	at     []int64       // monotonic arrival time of each slot (monoNow)
	maxAge time.Duration // Read drops packets older than this; 0 keeps all
	head   int           // oldest packet
	count  int
	closed bool

	notify   chan struct{} // a packet was queued (capacity 1)
	done     chan struct{} // closed by Close
	deadline *deadline.Deadline

	dropped atomic.Uint64 // oldest packets overwritten, or oversize
}

func newPktQueue(packets int, maxAge time.Duration) *pktQueue {
	return &pktQueue{
		data:     make([]byte, packets*maxPacket),
		lens:     make([]int, packets),
		at:       make([]int64, packets),
		maxAge:   maxAge,
		notify:   make(chan struct{}, 1),
		done:     make(chan struct{}),
		deadline: deadline.New(),
	}
}

func (q *pktQueue) slot(i int) []byte {
	return q.data[i*maxPacket : (i+1)*maxPacket]
}

// Write queues a copy of p, dropping the oldest packet if the queue is
// full. A packet larger than an Ethernet MTU cannot be voice and is
// dropped. After Close it returns io.ErrClosedPipe.
func (q *pktQueue) Write(p []byte) (int, error) {
	if len(p) > maxPacket {
		q.dropped.Add(1)
		return len(p), nil
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return 0, io.ErrClosedPipe
	}
	size := len(q.lens)
	if q.count == size {
		q.head = (q.head + 1) % size
		q.count--
		q.dropped.Add(1)
	}
	tail := (q.head + q.count) % size
	q.lens[tail] = copy(q.slot(tail), p)
	q.at[tail] = monoNow()
	q.count++
	q.mu.Unlock()
	q.wake()
	return len(p), nil
}

// wake tells a waiting reader that a packet is queued.
func (q *pktQueue) wake() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// Read returns the oldest queued packet, blocking until there is one. A
// packet longer than b is truncated and io.ErrShortBuffer returned, like
// pion's buffers. Once the queue is closed and empty it returns io.EOF;
// past the read deadline, os.ErrDeadlineExceeded.
func (q *pktQueue) Read(b []byte) (int, error) {
	for {
		select {
		case <-q.deadline.Done():
			return 0, os.ErrDeadlineExceeded
		default:
		}
		q.mu.Lock()
		if q.maxAge > 0 && q.count > 0 {
			// Stale packets go; the newest always stays readable below
			// when it is fresh.
			now := monoNow()
			for q.count > 0 && time.Duration(now-q.at[q.head]) > q.maxAge {
				q.head = (q.head + 1) % len(q.lens)
				q.count--
				q.dropped.Add(1)
			}
		}
		if q.count > 0 {
			n := q.lens[q.head]
			copied := copy(b, q.slot(q.head)[:n])
			q.head = (q.head + 1) % len(q.lens)
			q.count--
			more := q.count > 0
			q.mu.Unlock()
			if more {
				q.wake() // for another reader, if any
			}
			if copied < n {
				return copied, io.ErrShortBuffer
			}
			return copied, nil
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return 0, io.EOF
		}
		select {
		case <-q.notify:
		case <-q.done:
		case <-q.deadline.Done():
		}
	}
}

// SetReadDeadline makes Read return os.ErrDeadlineExceeded at t; the
// zero time means no deadline.
func (q *pktQueue) SetReadDeadline(t time.Time) error {
	q.deadline.Set(t)
	return nil
}

// Close makes later writes fail and Read return io.EOF once the queue is
// empty. It is idempotent.
func (q *pktQueue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.done)
	}
	return nil
}
