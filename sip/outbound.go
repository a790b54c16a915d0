package sip

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/call"
	"switchboard/media"
	"switchboard/metrics"
	"switchboard/store"
)

// ErrUnknownTrunk is returned by Dial for a trunk that is not configured.
var ErrUnknownTrunk = errors.New("unknown trunk")

// Dial places a call out through a trunk's proxy (implements call.Dialer).
func (s *Server) Dial(ctx context.Context, r call.DialRequest) (call.Leg, error) {
	t, ok := s.trunks[r.Trunk]
	if !ok || t.Proxy == "" {
		return nil, &call.DialError{Cause: call.CauseFailed, Reason: fmt.Sprintf("%v %q has no outbound proxy", ErrUnknownTrunk, r.Trunk)}
	}
	var proxy sip.Uri
	if err := sip.ParseUri(t.Proxy, &proxy); err != nil {
		return nil, &call.DialError{Cause: call.CauseFailed, Reason: "trunk proxy: " + err.Error()}
	}
	ep, err := media.OpenEndpoint(s.cfg.RTPAddress, s.ports)
	if err != nil {
		metrics.Rejected.WithLabelValues("no_ports").Inc()
		return nil, &call.DialError{Cause: call.CauseFailed, Reason: err.Error()}
	}
	leg := &outLeg{s: s, legMedia: newLegMedia(ep, s.mediaAddr, s.nextSessionID()), done: make(chan struct{}), to: r.To}

	recipient := sip.Uri{Scheme: "sip", User: r.To, Host: proxy.Host, Port: proxy.Port, UriParams: proxy.UriParams}
	domain := t.FromDomain
	if domain == "" {
		domain = proxy.Host
	}
	from := &sip.FromHeader{
		DisplayName: r.FromName,
		Address:     sip.Uri{Scheme: "sip", User: r.From, Host: domain},
		Params:      sip.NewParams(),
	}
	from.Params.Add("tag", sip.GenerateTagN(16))
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: r.To, Host: domain}, Params: sip.NewParams()}

	req := sip.NewRequest(sip.INVITE, recipient)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.AppendHeader(sip.NewHeader("Allow", allowed))
	req.SetBody(leg.offerSDP(r.Prefer.PayloadType))
	if tr, ok := proxy.UriParams.Get("transport"); ok && tr != "" {
		req.SetTransport(tr)
	}

	metrics.SIPRequests.WithLabelValues("INVITE", "out").Inc()
	dlg, err := s.dua.WriteInvite(ctx, req)
	if err != nil {
		ep.Close()
		return nil, &call.DialError{Cause: call.CauseFailed, Reason: "INVITE not sent: " + err.Error()}
	}
	leg.dlg = dlg
	leg.callID = req.CallID().Value()

	var progressed, early bool
	err = dlg.WaitAnswer(ctx, sipgo.AnswerOptions{
		Username: t.Username,
		Password: t.Password,
		OnResponse: func(res *sip.Response) error {
			metrics.SIPResponses.WithLabelValues(strconv.Itoa(res.StatusCode), "in").Inc()
			if res.StatusCode == 180 || res.StatusCode == 183 {
				gotSDP := false
				if len(res.Body()) > 0 && !early {
					if m, err := parseSDP(res.Body()); err == nil {
						leg.applyRemote(m) // early media (RFC 3960)
						gotSDP, early = true, true
					}
				}
				if r.Progress != nil && (gotSDP || !progressed) {
					progressed = true
					r.Progress(leg, gotSDP)
				}
			}
			return nil
		},
	})
	if err != nil {
		// CANCEL/200 race (RFC 3261 §9.1): the callee may have answered while we
		// cancelled. A 2xx makes a dialog we must ACK and then end with BYE.
		if res := dlg.InviteResponse; res != nil && res.IsSuccess() {
			// sipgo sets dlg.ID only when WaitAnswer succeeds; without it the
			// leg would be registered under "" and never removed.
			if id, err := sip.DialogIDFromResponse(res); err == nil {
				dlg.ID = id
			}
			leg.establish()
			_ = leg.ackAndBye(context.Background())
		} else {
			leg.release()
		}
		var dr *sipgo.ErrDialogResponse
		if errors.As(err, &dr) {
			return nil, dialErrorFor(dr.Res)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("dial cancelled: %w", context.Cause(ctx))
		}
		return nil, &call.DialError{Cause: call.CauseFailed, Reason: err.Error()}
	}
	leg.establish()
	metrics.SIPRequests.WithLabelValues("ACK", "out").Inc()
	if err := dlg.Ack(context.Background()); err != nil {
		_ = leg.Hangup(context.Background(), call.CauseFailed)
		return nil, &call.DialError{Cause: call.CauseFailed, Reason: "ACK not sent: " + err.Error()}
	}
	if body := dlg.InviteResponse.Body(); len(body) > 0 {
		m, err := parseSDP(body)
		if err != nil {
			_ = leg.Hangup(context.Background(), call.CauseIncompatible)
			return nil, &call.DialError{Cause: call.CauseIncompatible, Code: 488, Reason: "callee's SDP answer: " + err.Error()}
		}
		leg.applyRemote(m)
	}
	if !leg.negotiated() {
		_ = leg.Hangup(context.Background(), call.CauseIncompatible)
		return nil, &call.DialError{Cause: call.CauseIncompatible, Code: 488, Reason: "callee answered without SDP"}
	}
	if ctx.Err() != nil {
		// Answered after the caller gave up or the ring timed out.
		_ = leg.Hangup(context.Background(), call.CauseCancelled)
		return nil, fmt.Errorf("dial cancelled: %w", context.Cause(ctx))
	}
	return leg, nil
}

// dialErrorFor maps the callee's final response to a cause (RFC 3398 §8.2 spirit).
func dialErrorFor(res *sip.Response) *call.DialError {
	de := &call.DialError{Code: res.StatusCode, Reason: res.Reason}
	switch res.StatusCode {
	case 486, 600:
		de.Cause = call.CauseBusy
	case 603, 607:
		de.Cause = call.CauseDeclined
	case 408, 480, 487:
		de.Cause = call.CauseNoAnswer
	case 404, 410, 484, 485, 604:
		de.Cause = call.CauseUnavailable
	case 488, 606:
		de.Cause = call.CauseIncompatible
	default:
		de.Cause = call.CauseFailed
	}
	return de
}

// outLeg is a callee leg: the UAC side of an INVITE we sent through a trunk.
type outLeg struct {
	s      *Server
	dlg    *sipgo.DialogClientSession
	to     string
	callID string
	legMedia

	done     chan struct{}
	endOnce  sync.Once
	cause    call.Cause
	byRemote bool
	id       string
}

// establish registers the confirmed dialog so the callee's BYE and re-INVITEs find it.
func (l *outLeg) establish() {
	l.id = l.dlg.ID
	l.s.addDialog(l.id, l)
}

func (l *outLeg) Info() store.Leg {
	info := store.Leg{Role: "callee", Kind: "sip", Peer: "sip:" + l.to, CallID: l.callID, Codec: l.codecName()}
	if l.dlg != nil && l.dlg.InviteResponse != nil {
		info.Remote = l.dlg.InviteResponse.Source()
	}
	return info
}

func (l *outLeg) Done() <-chan struct{} { return l.done }

func (l *outLeg) EndCause() (call.Cause, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cause, l.byRemote
}

func (l *outLeg) end(cause call.Cause, remote bool) bool {
	first := false
	l.endOnce.Do(func() {
		first = true
		l.mu.Lock()
		l.cause, l.byRemote = cause, remote
		l.mu.Unlock()
		l.release()
		close(l.done)
	})
	return first
}

// release frees the dialog entry and the RTP ports.
func (l *outLeg) release() {
	if l.id != "" {
		l.s.removeDialog(l.id)
	}
	l.ep.Close()
	if l.dlg != nil {
		_ = l.dlg.Close()
	}
}

func (l *outLeg) ackAndBye(ctx context.Context) error {
	if err := l.dlg.Ack(ctx); err != nil {
		l.end(call.CauseCancelled, false)
		return err
	}
	return l.Hangup(ctx, call.CauseCancelled)
}

func (l *outLeg) Hangup(ctx context.Context, cause call.Cause) error {
	if !l.end(cause, false) {
		return nil
	}
	res := l.dlg.InviteResponse
	if res == nil || !res.IsSuccess() {
		return nil
	}
	target := l.dlg.InviteRequest.Recipient
	if c := res.Contact(); c != nil {
		target = c.Address // RFC 3261 §12.1.2: the remote target
	}
	return sendBye(ctx, target, cause, l.dlg.WriteBye)
}

// handleRequest serves the callee's requests within our dialog.
func (l *outLeg) handleRequest(req *sip.Request, tx sip.ServerTransaction) {
	switch req.Method {
	case sip.BYE:
		l.end(call.CauseNormal, true)
		metrics.SIPResponses.WithLabelValues("200", "out").Inc()
		if err := l.dlg.ReadBye(req, tx); err != nil {
			l.s.respond(tx, req, 200, "OK")
		}
	case sip.INVITE, sip.UPDATE:
		l.renegotiate(l.s, req, tx)
	case sip.ACK:
		l.ackReceived(req.CSeq().SeqNo)
		// ACK for a re-INVITE 200 we sent; a late answer in it updates media.
		if len(req.Body()) > 0 {
			if m, err := parseSDP(req.Body()); err == nil {
				l.applyRemote(m)
			}
		}
	case sip.INFO:
		l.onInfo(l.s, req, tx)
	default:
		l.s.respond(tx, req, 405, "Method Not Allowed", sip.NewHeader("Allow", allowed))
	}
}
