package sip

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/call"
	"switchboard/media"
	"switchboard/metrics"
	"switchboard/store"
)

// onInvite takes a new INVITE (a call) or a re-INVITE within a dialog.
func (s *Server) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if err := validate(req); err != nil {
		s.reject(tx, req, err)
		return
	}
	if to := req.To(); to != nil && to.Params.Has("tag") {
		// RFC 3261 §12.2.2: a To tag makes this a request within a dialog.
		if d := s.findDialog(req); d != nil {
			d.handleRequest(req, tx)
			return
		}
		s.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	trunk, src := s.trunkFor(req)
	if trunk == nil {
		// Toll-fraud guard: nothing from an unknown source ever reaches a trunk.
		metrics.Rejected.WithLabelValues("source_not_allowed").Inc()
		s.log.Warn("INVITE from a source outside every trunk's allow list", "source", src, "to", req.Recipient.User)
		s.respond(tx, req, 403, "Forbidden")
		return
	}
	if !s.handler.Accepting() {
		metrics.Rejected.WithLabelValues("draining").Inc()
		s.respond(tx, req, 503, "Service Unavailable", sip.NewHeader("Retry-After", "30"))
		return
	}
	if req.Contact() == nil {
		s.reject(tx, req, &errInvalid{code: 400, reason: "Missing Contact"}) // §8.1.1.8
		return
	}
	// RFC 3261 §17.2.1: answer 100 at once so the trunk stops retransmitting.
	s.respond(tx, req, 100, "Trying")

	var offer *sessionMedia
	if len(req.Body()) > 0 {
		m, err := parseSDP(req.Body())
		switch {
		case errors.Is(err, ErrNoCodec):
			metrics.Rejected.WithLabelValues("no_codec").Inc()
			// §13.3.1.1: 488 with a Warning saying what we speak (RFC 3261 §20.43 code 305).
			s.respond(tx, req, 488, "Not Acceptable Here", sip.NewHeader("Warning", `305 switchboard "Incompatible media format: we speak PCMU, PCMA"`))
			return
		case err != nil:
			s.reject(tx, req, &errInvalid{code: 400, reason: "Bad SDP"})
			return
		}
		offer = m
	}
	ep, err := media.OpenEndpoint(s.cfg.RTPAddress, s.ports)
	if err != nil {
		metrics.Rejected.WithLabelValues("no_ports").Inc()
		s.log.Error("no RTP port for a call", "error", err)
		s.respond(tx, req, 503, "Service Unavailable", sip.NewHeader("Retry-After", "5"))
		return
	}
	dlg, err := s.dua.ReadInvite(req, tx)
	if err != nil {
		ep.Close()
		s.log.Debug("INVITE not usable as a dialog", "error", err)
		s.respond(tx, req, 400, "Bad Request")
		return
	}
	leg := &inLeg{
		s:        s,
		dlg:      dlg,
		req:      req,
		tx:       tx,
		trunk:    trunk.Name,
		legMedia: newLegMedia(ep, s.mediaAddr, s.nextSessionID()),
		done:     make(chan struct{}),
		txDone:   make(chan struct{}),
	}
	if offer != nil {
		leg.applyRemote(offer)
	}
	dlg.OnState(func(st sip.DialogState) {
		if st == sip.DialogStateEnded {
			// CANCEL (sipgo already answered 200 and 487), BYE, or our own end.
			leg.end(call.CauseCancelled, true)
		}
	})
	s.addDialog(dlg.ID, leg)
	if err := s.handler.HandleInbound(leg); err != nil {
		_ = leg.Reject(context.Background(), call.CauseShutdown, 503)
	}
	// sipgo ends the INVITE transaction when this handler returns, so stay
	// until the final response is out (and a 2xx ACKed) or the caller cancelled.
	select {
	case <-leg.txDone:
	case <-tx.Done():
	}
}

// inLeg is the caller's leg: the UAS side of an inbound INVITE.
type inLeg struct {
	s     *Server
	dlg   *sipgo.DialogServerSession
	req   *sip.Request
	tx    sip.ServerTransaction
	trunk string
	legMedia

	answered   bool
	finalSent  bool
	cause      call.Cause
	byRemote   bool
	updates    chan call.MediaUpdate
	done       chan struct{}
	txDone     chan struct{} // closed once the INVITE transaction has its final response
	txOnce     sync.Once
	endOnce    sync.Once
	answerOnce sync.Once
}

func (l *inLeg) Trunk() string   { return l.trunk }
func (l *inLeg) Dialled() string { return l.req.Recipient.User }
func (l *inLeg) Caller() string {
	if f := l.req.From(); f != nil && f.Address.User != "" {
		return f.Address.User
	}
	return "anonymous"
}

func (l *inLeg) Info() store.Leg {
	return store.Leg{Role: "caller", Kind: "sip", Peer: l.req.From().Address.String(),
		CallID: l.req.CallID().Value(), Remote: l.req.Source(), Codec: l.codecName()}
}

func (l *inLeg) Done() <-chan struct{} { return l.done }

func (l *inLeg) EndCause() (call.Cause, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cause, l.byRemote
}

// end records the first reason the leg ended and releases it.
func (l *inLeg) end(cause call.Cause, remote bool) {
	l.endOnce.Do(func() {
		l.mu.Lock()
		if l.answered && remote && cause == call.CauseCancelled {
			cause = call.CauseNormal // ended after answer: that was a BYE
		}
		l.cause, l.byRemote = cause, remote
		l.mu.Unlock()
		l.s.removeDialog(l.dlg.ID)
		l.ep.Close()
		close(l.done)
	})
}

// localSDP is our SDP toward the caller: an answer to its offer, or an offer
// when its INVITE had none (RFC 3261 §13.2.1 late offer).
func (l *inLeg) localSDP() []byte {
	if l.negotiated() {
		return l.answerSDP()
	}
	return l.offerSDP(media.PayloadPCMU)
}

func (l *inLeg) Progress(ctx context.Context, early bool) error {
	if early && l.negotiated() {
		// 183 with SDP: early media from the callee reaches the caller (RFC 3960 §3).
		res := sip.NewSDPResponseFromRequest(l.dlg.InviteRequest, l.localSDP())
		res.StatusCode, res.Reason = 183, "Session Progress"
		return l.write(res)
	}
	return l.write(sip.NewResponseFromRequest(l.dlg.InviteRequest, 180, "Ringing", nil))
}

func (l *inLeg) write(res *sip.Response) error {
	metrics.SIPResponses.WithLabelValues(strconv.Itoa(res.StatusCode), "out").Inc()
	return l.dlg.WriteResponse(res)
}

func (l *inLeg) Answer(ctx context.Context) error {
	select {
	case <-l.done:
		return errors.New("caller leg already ended")
	default:
	}
	l.mu.Lock()
	l.answered = true
	l.finalSent = true
	l.mu.Unlock()
	// WriteResponse retransmits the 2xx until the ACK (RFC 6026 §8.1) and
	// returns when it arrives, or with an error after 64*T1.
	err := l.write(sip.NewSDPResponseFromRequest(l.dlg.InviteRequest, l.localSDP()))
	l.finishTx()
	if err != nil {
		l.mu.Lock()
		l.answered = false
		l.mu.Unlock()
		if errors.Is(err, sip.ErrTransactionCanceled) {
			// The CANCEL crossed our 200; sipgo answered it 487 (RFC 3261 §9.2).
			l.end(call.CauseCancelled, true)
		} else if cause, remote := l.EndCause(); remote && cause == call.CauseNormal {
			// RFC 3261 §15: the caller's BYE overtook its ACK. The call was
			// answered; Done tells the engine it has already ended.
			l.mu.Lock()
			l.answered = true
			l.mu.Unlock()
			return nil
		}
		return err
	}
	if !l.negotiated() {
		// Late offer and the ACK carried no usable answer.
		_ = l.Hangup(ctx, call.CauseIncompatible)
		return errors.New("caller's ACK carried no usable SDP answer")
	}
	return nil
}

func (l *inLeg) Reject(ctx context.Context, cause call.Cause, code int) error {
	l.mu.Lock()
	sent, answered := l.finalSent, l.answered
	l.finalSent = true
	l.mu.Unlock()
	if sent {
		if answered {
			return l.Hangup(ctx, cause)
		}
		// A final response already went out, or failed to (Answer then
		// cleared answered): the transaction has nothing more to say.
		l.end(cause, false)
		return nil
	}
	if code == 0 {
		code = cause.SIPStatus()
	}
	res := sip.NewResponseFromRequest(l.dlg.InviteRequest, code, reasonPhrase(code), nil)
	if r := reasonHeader(cause); r != nil {
		res.AppendHeader(r)
	}
	l.end(cause, false)
	// WriteResponse waits for the ACK of a failure response; do not block the engine on it.
	go func() {
		_ = l.write(res)
		l.finishTx()
	}()
	return nil
}

// finishTx lets the INVITE handler return.
func (l *inLeg) finishTx() { l.txOnce.Do(func() { close(l.txDone) }) }

func (l *inLeg) Hangup(ctx context.Context, cause call.Cause) error {
	select {
	case <-l.done:
		return nil
	default:
	}
	l.mu.Lock()
	answered := l.answered
	l.mu.Unlock()
	if !answered {
		return l.Reject(ctx, cause, 0)
	}
	l.end(cause, false)
	// RFC 3261 §12.1.1: the UAS's route set is the INVITE's Record-Route, in order.
	var routes []sip.Header
	for _, rr := range l.dlg.InviteRequest.GetHeaders("Record-Route") {
		routes = append(routes, sip.NewHeader("Route", rr.Value()))
	}
	return sendBye(ctx, l.dlg.InviteRequest.Contact().Address, cause, l.dlg.WriteBye, routes...)
}

// handleRequest serves requests within the caller's dialog.
func (l *inLeg) handleRequest(req *sip.Request, tx sip.ServerTransaction) {
	switch req.Method {
	case sip.ACK:
		l.ackReceived(req.CSeq().SeqNo)
		if len(req.Body()) > 0 {
			if !l.negotiated() {
				// Late offer: the ACK carries the caller's answer (RFC 3261 §13.2.1).
				if m, err := parseSDP(req.Body()); err == nil {
					l.applyRemote(m)
				} else {
					l.s.log.Info("unusable SDP answer in ACK", "error", err)
				}
			}
		}
		_ = l.dlg.ReadAck(req, tx)
	case sip.BYE:
		l.end(call.CauseNormal, true)
		metrics.SIPResponses.WithLabelValues("200", "out").Inc()
		if err := l.dlg.ReadBye(req, tx); err != nil {
			l.s.respond(tx, req, 200, "OK")
		}
	case sip.INVITE, sip.UPDATE:
		l.renegotiate(l.s, req, tx)
	case sip.INFO:
		l.onInfo(l.s, req, tx)
	case sip.CANCEL:
		l.s.respond(tx, req, 481, "Call/Transaction Does Not Exist")
	default:
		l.s.respond(tx, req, 405, "Method Not Allowed", sip.NewHeader("Allow", allowed))
	}
}
