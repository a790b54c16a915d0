package signaling

import "time"

// verdict is what the rate limiter says about one incoming message.
type verdict int

const (
	admit        verdict = iota // process the message
	rejectNotify                // drop it and tell the client (once per window)
	rejectQuiet                 // drop it silently: the client was told
	disconnect                  // the client keeps flooding: close the socket
)

// rateLimiter is a token bucket per socket: burst messages at once, refilled
// at rate per second. Messages over the limit are dropped; a client that
// keeps sending more than burst of them within one second is disconnected.
// It is used by the socket's read loop only, so it needs no lock.
type rateLimiter struct {
	rate, burst float64
	tokens      float64
	last        time.Time
	window      time.Time // start of the current one-second drop window
	dropped     int
}

func newRateLimiter(perSecond int) rateLimiter {
	return rateLimiter{rate: float64(perSecond), burst: float64(perSecond), tokens: float64(perSecond)}
}

func (l *rateLimiter) take(now time.Time) verdict {
	if !l.last.IsZero() {
		l.tokens += now.Sub(l.last).Seconds() * l.rate
		if l.tokens > l.burst {
			l.tokens = l.burst
		}
	}
	l.last = now
	if l.tokens >= 1 {
		l.tokens--
		return admit
	}
	if now.Sub(l.window) >= time.Second {
		l.window, l.dropped = now, 0
	}
	l.dropped++
	switch {
	case float64(l.dropped) > l.burst:
		return disconnect
	case l.dropped == 1:
		return rejectNotify
	default:
		return rejectQuiet
	}
}
