package media

import (
	"encoding/binary"
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

var errClockClosed = errors.New("media: frame clock closed")

// timerfdClock is a frameClock on a Linux timerfd: the kernel expires it
// every period on CLOCK_MONOTONIC and the runtime's netpoller wakes the
// reader as the fd becomes readable, with microsecond precision (a Go timer
// would be rounded to the netpoller's millisecond timeout). Reading returns
// the expirations since the last read (timerfd_create(2)).
type timerfdClock struct {
	f *os.File
}

// newFrameClock returns the most precise frameClock available.
func newFrameClock(period time.Duration) frameClock {
	if c, err := newTimerfdClock(period); err == nil {
		return c
	}
	return newTickerClock(period)
}

func newTimerfdClock(period time.Duration) (*timerfdClock, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	spec := unix.ItimerSpec{
		Interval: unix.NsecToTimespec(int64(period)),
		Value:    unix.NsecToTimespec(1), // first tick at once
	}
	if err := unix.TimerfdSettime(fd, 0, &spec, nil); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	// A non-blocking fd gives a File the runtime polls, so Read parks the
	// goroutine instead of blocking a thread, and Close unblocks it.
	return &timerfdClock{f: os.NewFile(uintptr(fd), "timerfd")}, nil
}

func (c *timerfdClock) wait() (uint64, error) {
	var b [8]byte
	if _, err := c.f.Read(b[:]); err != nil {
		if errors.Is(err, os.ErrClosed) {
			return 0, errClockClosed
		}
		return 0, err
	}
	return binary.NativeEndian.Uint64(b[:]), nil
}

func (c *timerfdClock) close() { _ = c.f.Close() }
