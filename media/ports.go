package media

import (
	"errors"
	"fmt"
	"sync"
)

// ErrNoPorts is returned by PortPool.Acquire (and OpenEndpoint) when every
// port pair of the pool is in use.
var ErrNoPorts = errors.New("media: no free RTP ports")

// ErrPortRange is returned by NewPortPool when the range holds no even port
// whose odd neighbour is also in range.
var ErrPortRange = errors.New("media: invalid RTP port range")

// PortPool hands out RTP ports: even numbers p with p+1 (the RTCP port,
// RFC 3550 §11) also inside the configured range. It is safe for concurrent
// use.
//
// Ports are handed out round-robin: a released port goes to the back of the
// queue, so the port of a call that just ended is reused as late as
// possible and stray late packets of that call do not reach the next one.
type PortPool struct {
	mu    sync.Mutex
	base  int      // lowest RTP port (even)
	free  []uint16 // ring of free pair indexes; pair i is port base+2i
	head  int      // ring index of the next pair to hand out
	count int      // number of free pairs in the ring
	inUse []bool   // by pair index; makes Release idempotent
}

// NewPortPool returns a pool of the even ports in [min, max-1]; each port's
// odd neighbour (up to max) is reserved with it for RTCP.
func NewPortPool(min, max int) (*PortPool, error) {
	if min < 1 || max > 65535 || min > max {
		return nil, fmt.Errorf("%w: [%d, %d]", ErrPortRange, min, max)
	}
	base := min + min%2
	if base+1 > max {
		return nil, fmt.Errorf("%w: [%d, %d] holds no even/odd port pair", ErrPortRange, min, max)
	}
	n := (max-1-base)/2 + 1
	p := &PortPool{
		base:  base,
		free:  make([]uint16, n),
		count: n,
		inUse: make([]bool, n),
	}
	for i := range p.free {
		p.free[i] = uint16(i)
	}
	return p, nil
}

// Acquire takes the next free RTP port (even; port+1 is its RTCP port). It
// returns ErrNoPorts when the pool is exhausted.
func (p *PortPool) Acquire() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.count == 0 {
		return 0, ErrNoPorts
	}
	i := p.free[p.head]
	p.head = (p.head + 1) % len(p.free)
	p.count--
	p.inUse[i] = true
	return p.base + 2*int(i), nil
}

// Release returns port to the back of the queue. Releasing a port that is
// not in use (a double release) or that does not belong to the pool is a
// no-op.
func (p *PortPool) Release(port int) {
	off := port - p.base
	if off < 0 || off%2 != 0 || off/2 >= len(p.inUse) {
		return
	}
	i := off / 2
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.inUse[i] {
		return
	}
	p.inUse[i] = false
	p.free[(p.head+p.count)%len(p.free)] = uint16(i)
	p.count++
}

// Available reports how many port pairs are free.
func (p *PortPool) Available() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count
}

// Size reports how many port pairs the pool manages in total.
func (p *PortPool) Size() int {
	return len(p.free)
}
