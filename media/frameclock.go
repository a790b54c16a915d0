package media

import "time"

// frameClock ticks once per frame for a Line's sender. wait blocks until the
// next tick and returns how many ticks passed since the previous wait (more
// than one when the sender was late); it fails once the clock is closed.
type frameClock interface {
	wait() (ticks uint64, err error)
	close()
}

// tickerClock is the portable frameClock: a time.Ticker. The Go runtime's
// timers wake sleeping threads with millisecond resolution on Linux (the
// netpoller's timeout), so packets leave up to ~1 ms off schedule; the
// timerfd clock (frameclock_linux.go) is used where available.
type tickerClock struct {
	t      *time.Ticker
	period time.Duration
	last   time.Time // the schedule's most recent tick that was counted
	done   chan struct{}
}

func newTickerClock(period time.Duration) *tickerClock {
	return &tickerClock{t: time.NewTicker(period), period: period, last: time.Now(), done: make(chan struct{})}
}

func (c *tickerClock) wait() (uint64, error) {
	select {
	case <-c.t.C:
		// A Ticker keeps one tick for a slow reader and drops the rest:
		// count what passed by the clock, keeping the schedule's phase.
		n := max(uint64(time.Since(c.last)/c.period), 1)
		c.last = c.last.Add(time.Duration(n) * c.period)
		return n, nil
	case <-c.done:
		return 0, errClockClosed
	}
}

func (c *tickerClock) close() {
	c.t.Stop()
	close(c.done)
}
