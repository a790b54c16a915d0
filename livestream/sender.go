package livestream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// userAgent identifies the client in the handshake.
const userAgent = "switchboard-livestream"

// sendBufferSize fits one media event (about 260 bytes) in one frame and the
// start event in a few; the default 4 KiB per connection buys nothing.
const sendBufferSize = 1024

// pastDeadline is a deadline already passed: setting it on a connection
// makes blocked reads and writes return at once.
var pastDeadline = time.Unix(1, 0)

// run is the sender goroutine: it connects, sends the start event and the
// queued frames as they come, and on Stop the rest of the queue and the stop
// event. Any failure ends it (via end); there is no reconnect, as a consumer
// joining mid-call with a gap is worth less than a simple, predictable rule.
func (s *Stream) run() {
	defer close(s.done)
	conn, err := s.connect()
	if err != nil {
		select {
		case <-s.stopping:
			s.end(fmt.Errorf("%w (%w)", ErrStoppedBeforeConnect, err), false)
		default:
			if cause := context.Cause(s.ctx); cause != nil {
				s.end(fmt.Errorf("livestream: %w", cause), false)
			} else {
				s.end(err, true)
			}
		}
		return
	}
	s.connected.Store(true)
	s.log.Debug("live stream connected")

	readErr := make(chan error, 1)
	readDone := make(chan struct{})
	go s.read(conn, readErr, readDone)

	limit, err := s.stream(conn, readErr)
	switch {
	case err == nil:
		// Stopped: close handshake (RFC 6455 §7.1.2). The consumer's
		// close frame ends the reader; one that does not answer by the
		// limit Stop set is cut off.
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		if conn.WriteControl(websocket.CloseMessage, msg, limit) == nil {
			t := time.NewTimer(time.Until(limit))
			select {
			case <-readDone:
			case <-t.C:
			}
			t.Stop()
		}
	case s.ctx.Err() != nil:
		// The owner cancelled: going away (RFC 6455 §7.4.1, 1001),
		// best effort, without waiting for an answer.
		msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "")
		_ = conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(s.writeWait))
		s.end(fmt.Errorf("livestream: %w", context.Cause(s.ctx)), false)
	default:
		s.end(err, true)
	}
	_ = conn.Close()
	<-readDone
}

// connect dials the consumer and does the WebSocket handshake, within
// DialTimeout and cancelled by Stop or by Start's context.
func (s *Stream) connect() (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.dial)
	defer cancel()
	go func() {
		select {
		case <-s.stopping:
			cancel()
		case <-ctx.Done():
		}
	}()

	// The WebSocket client honours a context while dialing and during
	// TLS, but not while it waits for the HTTP response to the upgrade
	// request; a consumer that accepted TCP and never answers would hold
	// Stop until DialTimeout. So the connection gets a past deadline as
	// soon as ctx is done, which ends that wait too.
	var unhook func() bool
	dialer := websocket.Dialer{
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			unhook = context.AfterFunc(ctx, func() { _ = c.SetDeadline(pastDeadline) })
			return c, nil
		},
		TLSClientConfig: s.tlsConfig,
		ReadBufferSize:  sendBufferSize,
		WriteBufferSize: sendBufferSize,
	}
	header := http.Header{}
	header.Set("User-Agent", userAgent)
	if s.info.CallID != "" {
		header.Set("X-Switchboard-Call-Id", s.info.CallID)
	}
	conn, resp, err := dialer.DialContext(ctx, s.url.String(), header)
	if unhook != nil && !unhook() && err == nil {
		// ctx ended just as the handshake finished: the deadline may be
		// set already, so the connection is unusable.
		_ = conn.Close()
		err = ctx.Err()
	}
	if err != nil {
		if errors.Is(err, websocket.ErrBadHandshake) && resp != nil {
			return nil, fmt.Errorf("%w: HTTP %s", ErrRefused, resp.Status)
		}
		if ctx.Err() == context.DeadlineExceeded && s.ctx.Err() == nil {
			return nil, fmt.Errorf("livestream: connecting to %s: timed out after %v: %w", logURL(s.url), s.dial, err)
		}
		return nil, fmt.Errorf("livestream: connecting to %s: %w", logURL(s.url), err)
	}
	return conn, nil
}

// stream sends the start event and then the queued frames as Audio queues
// them. After Stop it sends the rest of the queue and the stop event and
// returns a nil error with the time by which the close handshake must be
// done; otherwise it returns the error that ended it.
func (s *Stream) stream(conn *websocket.Conn, readErr <-chan error) (time.Time, error) {
	if err := s.write(conn, s.start, time.Time{}, "the start event"); err != nil {
		return time.Time{}, err
	}
	buf := make([]byte, 0, 512)
	for {
		if err := s.sendQueued(conn, &buf, time.Time{}); err != nil {
			return time.Time{}, err
		}
		select {
		case <-s.notify:
		case err := <-readErr:
			return time.Time{}, err
		case <-s.ctx.Done():
			return time.Time{}, context.Cause(s.ctx)
		case <-s.stopping:
			// Everything after Stop shares one WriteTimeout, so Stop
			// is bounded however much is queued.
			limit := time.Now().Add(s.writeWait)
			if err := s.sendQueued(conn, &buf, limit); err != nil {
				return time.Time{}, err
			}
			stop := encodeStop(s.reason, s.sent.Load(), s.dropped.Load())
			if err := s.write(conn, stop, limit, "the stop event"); err != nil {
				return time.Time{}, err
			}
			return limit, nil
		}
	}
}

// sendQueued sends the queued frames, channel 0 then channel 1 of each step,
// each write bounded by WriteTimeout and by limit if it is not zero.
func (s *Stream) sendQueued(conn *websocket.Conn, buf *[]byte, limit time.Time) error {
	n := uint64(len(s.slots))
	for {
		head := s.head.Load()
		if head == s.tail.Load() {
			return nil
		}
		f := &s.slots[head%n]
		for c := range f.ulaw {
			*buf = appendMedia((*buf)[:0], c, f.seq, f.ulaw[c][:])
			if err := s.write(conn, *buf, limit, "media"); err != nil {
				// This step's other frames will not be sent
				// either; the rest of the queue is counted by Stop.
				s.dropped.Add(uint64(len(f.ulaw) - c))
				s.head.Store(head + 1)
				return err
			}
			s.sent.Add(1)
		}
		s.head.Store(head + 1)
	}
}

// write sends one text message within WriteTimeout, or by limit if that is
// earlier; what names the message in the error.
func (s *Stream) write(conn *websocket.Conn, msg []byte, limit time.Time, what string) error {
	now := time.Now()
	deadline := now.Add(s.writeWait)
	if !limit.IsZero() && limit.Before(deadline) {
		deadline = limit
	}
	if err := conn.SetWriteDeadline(deadline); err != nil {
		return fmt.Errorf("livestream: sending %s: %w", what, err)
	}
	err := conn.WriteMessage(websocket.TextMessage, msg)
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return fmt.Errorf("%w: sending %s took over %v: %w", ErrConsumerStalled, what, deadline.Sub(now).Round(time.Millisecond), err)
	}
	if err != nil {
		return fmt.Errorf("livestream: sending %s: %w", what, err)
	}
	return nil
}

// read is the reader goroutine. The consumer drives nothing: its messages are
// discarded, unread, and reading exists so that pings are answered and its
// close frame is seen (RFC 6455 §5.5: control frames arrive between data
// frames, and only a reader processes them). It reports the error that ends
// reading, once.
func (s *Stream) read(conn *websocket.Conn, readErr chan<- error, done chan<- struct{}) {
	defer close(done)
	conn.SetReadLimit(MaxConsumerMessage)
	for {
		// NextReader skips whatever is left of the previous message.
		if _, _, err := conn.NextReader(); err != nil {
			var ce *websocket.CloseError
			switch {
			case errors.As(err, &ce):
				err = fmt.Errorf("%w (close code %d %q)", ErrConsumerClosed, ce.Code, ce.Text)
			case errors.Is(err, websocket.ErrReadLimit):
				err = fmt.Errorf("%w: it sent a message over %d bytes", ErrConsumerClosed, MaxConsumerMessage)
			default:
				err = fmt.Errorf("%w: reading: %w", ErrConsumerClosed, err)
			}
			readErr <- err
			return
		}
	}
}
