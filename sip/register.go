package sip

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/metrics"
)

// registerLoop keeps the trunk's binding at its registrar current
// (RFC 3261 §10.2): REGISTER with digest credentials, refresh before the
// granted expiry, back off after failures, and unregister (Expires: 0) on stop.
func (s *Server) registerLoop(ctx context.Context, t *Trunk) {
	log := s.log.With("trunk", t.Name)
	gauge := metrics.RegisterState.WithLabelValues(t.Name)
	// RFC 3261 §10.2: a UA SHOULD use the same Call-ID for all registrations
	// to a registrar, with CSeq increasing by one each time.
	reg := &registration{callID: sip.CallIDHeader(sip.GenerateTagN(24))}
	backoff := 5 * time.Second
	for {
		granted, err := s.register(ctx, t, t.RegisterExpiry, reg)
		wait := backoff
		if err != nil {
			gauge.Set(0)
			log.Warn("trunk registration failed", "error", err, "retry_in", backoff)
			backoff = min(backoff*2, 5*time.Minute)
		} else {
			gauge.Set(1)
			backoff = 5 * time.Second
			// Refresh well before expiry: at 80%, but at least 5 s ahead.
			wait = max(granted*8/10, granted-granted/10-5*time.Second, time.Second)
			log.Info("trunk registered", "expires", granted, "refresh_in", wait.Round(time.Second))
		}
		select {
		case <-ctx.Done():
			gauge.Set(0)
			uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if _, err := s.register(uctx, t, 0, reg); err != nil {
				log.Info("trunk unregister failed", "error", err)
			}
			cancel()
			return
		case <-time.After(wait):
		}
	}
}

// registration is the state one trunk's REGISTERs share.
type registration struct {
	callID sip.CallIDHeader
	cseq   uint32
}

// register sends one REGISTER (expires 0 removes the binding) and returns the
// expiry the registrar granted.
func (s *Server) register(ctx context.Context, t *Trunk, expires time.Duration, reg *registration) (time.Duration, error) {
	var proxy sip.Uri
	if err := sip.ParseUri(t.Proxy, &proxy); err != nil {
		return 0, fmt.Errorf("proxy %q: %w", t.Proxy, err)
	}
	domain := t.FromDomain
	if domain == "" {
		domain = proxy.Host
	}
	aor := sip.Uri{Scheme: "sip", User: t.Username, Host: domain}
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: proxy.Host, Port: proxy.Port, UriParams: proxy.UriParams})
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: t.Username, Host: s.host, Port: s.port}})
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	callID := reg.callID
	req.AppendHeader(&callID)
	reg.cseq += 2 // room for the authenticated retry, which sipgo numbers +1
	req.AppendHeader(&sip.CSeqHeader{SeqNo: reg.cseq, MethodName: sip.REGISTER})
	if tr, ok := proxy.UriParams.Get("transport"); ok && tr != "" {
		req.SetTransport(tr)
	}
	ctx, cancel := context.WithTimeout(ctx, 32*time.Second)
	defer cancel()
	metrics.SIPRequests.WithLabelValues("REGISTER", "out").Inc()
	res, err := s.client.Do(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("REGISTER: %w", err)
	}
	metrics.SIPResponses.WithLabelValues(strconv.Itoa(res.StatusCode), "in").Inc()
	if (res.StatusCode == 401 || res.StatusCode == 407) && t.Password != "" {
		metrics.SIPRequests.WithLabelValues("REGISTER", "out").Inc()
		res, err = s.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: t.Username, Password: t.Password})
		if err != nil {
			return 0, fmt.Errorf("REGISTER with credentials: %w", err)
		}
		metrics.SIPResponses.WithLabelValues(strconv.Itoa(res.StatusCode), "in").Inc()
	}
	if !res.IsSuccess() {
		return 0, fmt.Errorf("registrar answered %d %s", res.StatusCode, res.Reason)
	}
	return grantedExpiry(res, expires), nil
}

// grantedExpiry reads the expiry the registrar chose: the Contact's expires
// parameter, else the Expires header, else what we asked (RFC 3261 §10.2.4).
func grantedExpiry(res *sip.Response, asked time.Duration) time.Duration {
	if c := res.Contact(); c != nil {
		if v, ok := c.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				return time.Duration(n) * time.Second
			}
		}
	}
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(h.Value()); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	return asked
}
