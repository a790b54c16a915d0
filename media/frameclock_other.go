//go:build !linux

package media

import (
	"errors"
	"time"
)

var errClockClosed = errors.New("media: frame clock closed")

// newFrameClock returns the portable ticker clock off Linux.
func newFrameClock(period time.Duration) frameClock { return newTickerClock(period) }
