package media

import (
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
)

// pacer sends the next packet of every line it drives on each tick of one
// frame clock. Sharing a clock keeps the cost of pacing per tick, not per
// line: a voicemail-heavy gateway with hundreds of prompts running would
// otherwise wake one goroutine (and read one timerfd) per line every 20
// ms. Each line's packets still leave exactly a frame apart, because the
// sweep visits the lines in the same order every tick.
type pacer struct {
	mu      sync.Mutex
	lines   []*Line
	running bool
}

// pacers shard lines so a many-core machine sends in parallel; a line
// stays on its shard for its life.
var (
	pacers    []*pacer
	pacerOnce sync.Once
	pacerNext atomic.Uint32
)

// pacerFor picks the shard for a new line.
func pacerFor() *pacer {
	pacerOnce.Do(func() {
		pacers = make([]*pacer, max(1, runtime.GOMAXPROCS(0)/2))
		for i := range pacers {
			pacers[i] = &pacer{}
		}
	})
	return pacers[int(pacerNext.Add(1))%len(pacers)]
}

// add starts pacing l; the pacer's goroutine starts with its first line.
func (p *pacer) add(l *Line) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = append(p.lines, l)
	if !p.running {
		p.running = true
		go p.run(newFrameClock(FrameDuration))
	}
}

// remove stops pacing l. When it returns, no tick is sending for l.
func (p *pacer) remove(l *Line) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.lines {
		if x == l {
			last := len(p.lines) - 1
			p.lines[i] = p.lines[last]
			p.lines[last] = nil
			p.lines = p.lines[:last]
			return
		}
	}
}

// run ticks until no line is left. The sweep holds p.mu, so remove waits
// for a tick in progress; a tick over hundreds of lines takes well under a
// millisecond.
func (p *pacer) run(clock frameClock) {
	defer clock.close()
	for {
		ticks, err := clock.wait()
		if err != nil {
			// A timerfd read failing is not expected; fall back to the
			// portable clock rather than stop every prompt.
			slog.Error("media: frame clock failed; using a ticker", "err", err)
			clock.close()
			clock = newTickerClock(FrameDuration)
			continue
		}
		p.mu.Lock()
		if len(p.lines) == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		for _, l := range p.lines {
			l.tick(ticks)
		}
		p.mu.Unlock()
	}
}
