package sip

import (
	"errors"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"switchboard/metrics"
)

// allowed lists the methods we implement, for Allow headers (RFC 3261 §20.5).
const allowed = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO"

// knownMethods are RFC methods we recognise but do not serve here: 405, not 501
// (RFC 3261 §8.2.1).
var knownMethods = map[string]bool{
	"REGISTER": true, "SUBSCRIBE": true, "NOTIFY": true, "REFER": true,
	"MESSAGE": true, "PUBLISH": true, "PRACK": true,
}

func (s *Server) routes() {
	s.srv.OnInvite(s.counted(s.onInvite))
	s.srv.OnAck(s.counted(s.onAck))
	s.srv.OnBye(s.counted(s.onInDialog))
	s.srv.OnCancel(s.counted(s.onInDialog)) // sipgo answers CANCELs matching a transaction; these did not
	s.srv.OnUpdate(s.counted(s.onInDialog))
	s.srv.OnInfo(s.counted(s.onInDialog))
	s.srv.OnOptions(s.counted(s.onOptions))
	s.srv.OnNoRoute(s.counted(s.onOther))
	for m := range knownMethods {
		s.srv.OnRequest(sip.RequestMethod(m), s.counted(s.onOther))
	}
}

// counted counts every request by method and recovers from a panic in a
// handler, answering 500: one bad message must never take the gateway down.
func (s *Server) counted(h func(*sip.Request, sip.ServerTransaction)) func(*sip.Request, sip.ServerTransaction) {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		method := string(req.Method)
		if !knownMethods[method] && !strings.Contains(allowed, method) {
			method = "other" // bound label cardinality against invented methods
		}
		metrics.SIPRequests.WithLabelValues(method, "in").Inc()
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("panic handling SIP request", "method", req.Method, "panic", r)
				metrics.Rejected.WithLabelValues("internal_error").Inc()
				s.respond(tx, req, 500, "Server Internal Error")
			}
		}()
		h(req, tx)
	}
}

// respond sends a stateful response to req and counts it.
func (s *Server) respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	s.send(tx, res)
}

// send writes a prepared response and counts it.
func (s *Server) send(tx sip.ServerTransaction, res *sip.Response) {
	metrics.SIPResponses.WithLabelValues(strconv.Itoa(res.StatusCode), "out").Inc()
	if err := tx.Respond(res); err != nil {
		s.log.Debug("response not sent", "code", res.StatusCode, "error", err)
	}
}

// errInvalid carries the status a malformed request gets.
type errInvalid struct {
	code   int
	reason string
	hdrs   []sip.Header
}

func (e *errInvalid) Error() string { return strconv.Itoa(e.code) + " " + e.reason }

// validate applies RFC 3261 §8.2 checks a UAS makes before acting on a request.
func validate(req *sip.Request) error {
	if req.SipVersion != "SIP/2.0" {
		return &errInvalid{code: 505, reason: "Version Not Supported"} // §8.2.1 / §21.5.7
	}
	if req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil || req.Via() == nil {
		return &errInvalid{code: 400, reason: "Missing Mandatory Header"}
	}
	if req.CSeq().MethodName != req.Method {
		return &errInvalid{code: 400, reason: "CSeq Method Mismatch"} // §8.1.1.5
	}
	switch strings.ToLower(req.Recipient.Scheme) {
	case "sip", "sips":
	default:
		return &errInvalid{code: 416, reason: "Unsupported URI Scheme"} // §8.2.2.1
	}
	// RFC 3261 §19.1.5: headers in a Request-URI are not allowed; a request
	// carrying them (RFC 4475 §3.1.2.11) is malformed.
	if req.Recipient.Headers != nil && req.Recipient.Headers.Length() > 0 {
		return &errInvalid{code: 400, reason: "Headers Not Allowed In Request-URI"}
	}
	// RFC 4475 §3.3.9: with two Content-Length values nobody can know where
	// the body ends.
	if len(req.GetHeaders("Content-Length")) > 1 {
		return &errInvalid{code: 400, reason: "Multiple Content-Length Values"}
	}
	// RFC 3261 §25.1: SIP-date is always GMT (RFC 4475 §3.1.2.12).
	if d := req.GetHeader("Date"); d != nil && !strings.HasSuffix(strings.TrimSpace(d.Value()), " GMT") {
		return &errInvalid{code: 400, reason: "Date Not In GMT"}
	}
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 && req.Method != sip.OPTIONS {
		return &errInvalid{code: 483, reason: "Too Many Hops"} // §16.3 step 3, applied as a UAS
	}
	// §8.2.2.3: we support no extension a peer may require.
	if reqs := req.GetHeaders("Require"); len(reqs) > 0 && req.Method != sip.ACK && req.Method != sip.CANCEL {
		var unsupported []string
		for _, h := range reqs {
			for _, opt := range strings.Split(h.Value(), ",") {
				if opt = strings.TrimSpace(opt); opt != "" {
					unsupported = append(unsupported, opt)
				}
			}
		}
		if len(unsupported) > 0 {
			return &errInvalid{code: 420, reason: "Bad Extension",
				hdrs: []sip.Header{sip.NewHeader("Unsupported", strings.Join(unsupported, ", "))}}
		}
	}
	if req.Method == sip.INVITE && len(req.Body()) > 0 {
		ct := req.ContentType()
		if ct == nil || !strings.EqualFold(strings.TrimSpace(strings.Split(ct.Value(), ";")[0]), "application/sdp") {
			return &errInvalid{code: 415, reason: "Unsupported Media Type",
				hdrs: []sip.Header{sip.NewHeader("Accept", "application/sdp")}} // §8.2.3
		}
	}
	return nil
}

// reject answers an invalid request with the status validate chose.
func (s *Server) reject(tx sip.ServerTransaction, req *sip.Request, err error) {
	var inv *errInvalid
	if !errors.As(err, &inv) {
		inv = &errInvalid{code: 400, reason: "Bad Request"}
	}
	metrics.Rejected.WithLabelValues("invalid").Inc()
	s.log.Debug("invalid SIP request", "method", req.Method, "source", req.Source(), "status", inv.code, "reason", inv.reason)
	if req.IsAck() {
		return // ACK gets no response (RFC 3261 §17.2.3)
	}
	s.respond(tx, req, inv.code, inv.reason, inv.hdrs...)
}

func (s *Server) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	if err := validate(req); err != nil {
		s.reject(tx, req, err)
		return
	}
	if t, _ := s.trunkFor(req); t == nil && s.findDialog(req) == nil {
		// Scanners probe with OPTIONS; we only tell trunks we are here.
		metrics.Rejected.WithLabelValues("source_not_allowed").Inc()
		s.respond(tx, req, 403, "Forbidden")
		return
	}
	code, reason := 200, "OK"
	if !s.handler.Accepting() {
		code, reason = 503, "Service Unavailable"
	}
	s.respond(tx, req, code, reason,
		sip.NewHeader("Allow", allowed),
		sip.NewHeader("Accept", "application/sdp"),
		sip.NewHeader("Supported", ""),
	)
}

func (s *Server) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if d := s.findDialog(req); d != nil {
		d.handleRequest(req, tx)
	}
	// An ACK matching nothing is dropped (RFC 3261 §17.2.3: it gets no response).
}

// onInDialog serves BYE, CANCEL, UPDATE and INFO: requests that only make
// sense within a dialog or transaction we know.
func (s *Server) onInDialog(req *sip.Request, tx sip.ServerTransaction) {
	if err := validate(req); err != nil {
		s.reject(tx, req, err)
		return
	}
	if d := s.findDialog(req); d != nil {
		d.handleRequest(req, tx)
		return
	}
	// RFC 3261 §15.1.2 (BYE), §9.2 (CANCEL): no matching dialog or transaction.
	s.respond(tx, req, 481, "Call/Transaction Does Not Exist")
}

func (s *Server) onOther(req *sip.Request, tx sip.ServerTransaction) {
	if req.IsAck() {
		return
	}
	if knownMethods[string(req.Method)] {
		s.respond(tx, req, 405, "Method Not Allowed", sip.NewHeader("Allow", allowed))
		return
	}
	s.respond(tx, req, 501, "Not Implemented", sip.NewHeader("Allow", allowed))
}
