package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// session is one WebSocket: one browser tab. Its read loop runs in the
// HTTP handler's goroutine and handles messages in order; a writer goroutine
// owns the socket's output so nothing that sends to a tab ever blocks on
// the network.
type session struct {
	srv    *Server
	conn   *websocket.Conn
	log    *slog.Logger
	remote string

	// user is set once by the read loop at sign-in, before the session is
	// visible to other goroutines through the server's maps.
	user *User

	// ctx ends when the socket is gone; it bounds work done for the tab.
	ctx    context.Context
	cancel context.CancelFunc

	out        chan []byte
	closing    chan struct{} // closed by close: the writer sends the close frame
	closeOnce  sync.Once
	closeCode  int
	closeText  string
	gone       chan struct{} // closed when the read loop has ended
	writerDone chan struct{}

	limiter rateLimiter // read loop only

	// removed is set under srv.mu when the session left the server's maps.
	removed bool
}

func newSession(srv *Server, conn *websocket.Conn, remote string) *session {
	c := &session{
		srv:        srv,
		conn:       conn,
		remote:     remote,
		log:        srv.log.With("remote", remote),
		out:        make(chan []byte, sendQueueLen),
		closing:    make(chan struct{}),
		gone:       make(chan struct{}),
		writerDone: make(chan struct{}),
		limiter:    newRateLimiter(maxMessagesPerSecond),
	}
	c.ctx, c.cancel = context.WithCancel(srv.ctx)
	return c
}

// run is the read loop: sign-in, then messages until the socket ends.
func (c *session) run() {
	cause := "closed"
	defer func() { c.finish(cause) }()
	go c.writeLoop()

	// RFC 6455 §10.4: bound what one frame may make us buffer. Gorilla
	// answers a bigger message with close code 1009 itself.
	c.conn.SetReadLimit(c.srv.cfg.MaxMessage)
	_ = c.conn.SetReadDeadline(time.Now().Add(c.srv.cfg.AuthTimeout))
	if !c.authenticate() {
		cause = "not signed in"
		return
	}
	dead := c.srv.cfg.DeadAfter
	// Liveness: any frame from the tab, a pong included, proves it alive;
	// one that stays silent past DeadAfter fails the read below.
	c.conn.SetPongHandler(func(string) error {
		return c.conn.SetReadDeadline(time.Now().Add(dead))
	})
	_ = c.conn.SetReadDeadline(time.Now().Add(dead))
	for {
		typ, data, err := c.conn.ReadMessage()
		if err != nil {
			cause = c.readFailed(err)
			return
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(dead))
		if c.isClosing() || !c.admit() {
			continue // closing: only the client's close reply matters now
		}
		if typ != websocket.TextMessage {
			c.sendError(nil, codeBadJSON, "messages are JSON text frames")
			continue
		}
		m, err := decodeMsg(data)
		if err != nil {
			c.sendError(m.ID, codeBadJSON, err.Error())
			continue
		}
		c.srv.handle(c, m)
	}
}

// authenticate waits for the auth message. It returns false when the
// socket must end: bad token, timeout, or the socket failed.
func (c *session) authenticate() bool {
	for {
		typ, data, err := c.conn.ReadMessage()
		if err != nil {
			if isTimeout(err) && !c.isClosing() {
				c.log.Info("no sign-in in time")
				c.close(closeAuthTimeout, "auth timeout")
			}
			return false
		}
		if c.isClosing() || !c.admit() {
			continue
		}
		if typ != websocket.TextMessage {
			c.sendError(nil, codeBadJSON, "messages are JSON text frames")
			continue
		}
		m, err := decodeMsg(data)
		if err != nil {
			c.sendError(m.ID, codeBadJSON, err.Error())
			continue
		}
		if m.Type != typeAuth {
			c.sendError(m.ID, codeForbidden, "sign in first: the first message must be auth")
			continue
		}
		u := c.srv.lookupToken(m.Token)
		if u == nil {
			c.log.Info("sign-in refused: invalid token")
			// Keep reading: the read ends with the client's close reply
			// or when the writer gives up waiting for it.
			c.close(closeInvalidToken, "invalid token")
			continue
		}
		if c.srv.signIn(c, u, m.ID) {
			return true
		}
	}
}

// admit applies the rate limit to one message.
func (c *session) admit() bool {
	switch c.limiter.take(time.Now()) {
	case admit:
		return true
	case rejectNotify:
		c.log.Info("rate limited")
		c.sendError(nil, codeRateLimited, "more than 50 messages per second; messages are being dropped")
	case disconnect:
		c.log.Warn("closing a socket that keeps flooding")
		c.close(websocket.ClosePolicyViolation, "rate limit exceeded")
	case rejectQuiet:
	}
	return false
}

// readFailed classifies why the read loop ended, for the log.
func (c *session) readFailed(err error) string {
	var ce *websocket.CloseError
	switch {
	case c.isClosing():
		return "closed by server"
	case errors.As(err, &ce):
		if ce.Code == websocket.CloseMessageTooBig {
			c.log.Info("message too big: socket closed", "limit", c.srv.cfg.MaxMessage)
			return "message too big"
		}
		return "closed by client"
	case errors.Is(err, websocket.ErrReadLimit):
		c.log.Info("message too big: socket closed", "limit", c.srv.cfg.MaxMessage)
		return "message too big"
	case isTimeout(err):
		c.log.Info("socket dead: no pong or message in time", "dead_after", c.srv.cfg.DeadAfter)
		return "dead"
	default:
		return "connection lost"
	}
}

// finish tears the session down once the read loop has ended.
func (c *session) finish(why string) {
	close(c.gone)
	// Let the writer send a pending close frame, but do not wait on a
	// write stuck on a dead peer: closing the connection unblocks it.
	select {
	case <-c.writerDone:
	case <-time.After(closeGrace):
	}
	_ = c.conn.Close()
	<-c.writerDone
	c.cancel()
	c.srv.removeSession(c)
	if c.user != nil {
		c.log.Info("tab disconnected", "user", c.user.ID, "why", why)
	}
}

// writeLoop sends queued messages and pings until the session closes.
func (c *session) writeLoop() {
	defer close(c.writerDone)
	ping := time.NewTicker(c.srv.cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case b := <-c.out:
			if !c.write(b, time.Now().Add(writeTimeout)) {
				return
			}
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout)); err != nil {
				_ = c.conn.Close()
				return
			}
		case <-c.closing:
			c.sendClose()
			return
		case <-c.gone:
			select {
			case <-c.closing:
				c.sendClose()
			default:
			}
			return
		}
	}
}

func (c *session) write(b []byte, deadline time.Time) bool {
	_ = c.conn.SetWriteDeadline(deadline)
	if err := c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		// Ends the read loop too.
		_ = c.conn.Close()
		return false
	}
	return true
}

// sendClose flushes what is queued (an error explaining the close, say),
// then starts the close handshake and bounds it.
func (c *session) sendClose() {
	// One deadline for the whole flush: a tab closed for being too slow
	// must not hold the writer for a timeout per queued message.
	deadline := time.Now().Add(closeGrace)
	for flushing := true; flushing; {
		select {
		case b := <-c.out:
			if !c.write(b, deadline) {
				return
			}
		default:
			flushing = false
		}
	}
	_ = c.conn.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(c.closeCode, c.closeText), time.Now().Add(closeGrace))
	// RFC 6455 §7.1.1: after the close handshake the server drops the TCP
	// connection; a client that never replies gets it dropped anyway.
	time.AfterFunc(closeGrace, func() { _ = c.conn.Close() })
}

// close starts closing the socket with code and reason. Safe from any
// goroutine; only the first call counts.
func (c *session) close(code int, reason string) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeText = code, reason
		close(c.closing)
	})
}

func (c *session) isClosing() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}

// send queues one message for the tab. It never blocks: a tab too slow to
// take its messages is disconnected instead.
func (c *session) send(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		c.log.Error("cannot encode a message", "err", err)
		return
	}
	select {
	case <-c.closing:
		return
	case <-c.gone:
		return
	default:
	}
	select {
	case c.out <- b:
	default:
		c.log.Warn("tab does not keep up with its messages; closing it")
		c.close(websocket.ClosePolicyViolation, "too slow")
	}
}

func (c *session) sendOK(id json.RawMessage) {
	c.send(okMsg{Type: typeOK, ID: id})
}

func (c *session) sendError(id json.RawMessage, code, message string) {
	c.send(errorMsg{Type: typeError, ID: id, Code: code, Message: message})
}

// async runs f for this session outside its read loop (media negotiation
// must not stop the loop from reading pongs and candidates); Close waits
// for it.
func (c *session) async(f func()) {
	c.srv.wg.Add(1)
	go func() {
		defer c.srv.wg.Done()
		f()
	}()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
