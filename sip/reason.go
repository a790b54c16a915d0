package sip

import (
	"context"
	"fmt"

	"github.com/emiago/sipgo/sip"

	"switchboard/call"
	"switchboard/metrics"
)

// byeTimeout bounds waiting for the 200 to our BYE (RFC 3261 Timer F, 64*T1).
var byeTimeout = 64 * sip.T1

// reasonHeader tells the far end why we end a leg (RFC 3326). Causes that
// are a plain hang-up carry none.
func reasonHeader(c call.Cause) sip.Header {
	var v string
	switch c {
	case call.CauseRTPTimeout:
		// Q.850 cause 102: recovery on timer expiry.
		v = `Q.850;cause=102;text="RTP timeout"`
	case call.CauseShutdown:
		v = `Q.850;cause=41;text="gateway shutting down"`
	case call.CauseCancelled:
		v = `SIP;cause=487;text="caller hung up"`
	case call.CauseNoAnswer:
		v = `SIP;cause=480;text="no answer"`
	case call.CauseIncompatible:
		v = `SIP;cause=488;text="no common codec"`
	case call.CauseNormal, call.CauseNone:
		return nil
	default:
		v = fmt.Sprintf(`SIP;cause=%d;text=%q`, c.SIPStatus(), c.String())
	}
	return sip.NewHeader("Reason", v)
}

// reasonPhrase is the RFC 3261 §21 phrase for the codes we send.
func reasonPhrase(code int) string {
	switch code {
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 480:
		return "Temporarily Unavailable"
	case 486:
		return "Busy Here"
	case 487:
		return "Request Terminated"
	case 488:
		return "Not Acceptable Here"
	case 500:
		return "Server Internal Error"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 603:
		return "Decline"
	}
	return "Failed"
}

// sendBye ends a confirmed dialog toward target, saying why (RFC 3326), and
// waits (bounded) for the 200. write is the dialog's WriteBye, which adds the
// dialog's From, To, Call-ID and CSeq.
func sendBye(ctx context.Context, target sip.Uri, cause call.Cause, write func(context.Context, *sip.Request) error, hdrs ...sip.Header) error {
	bye := sip.NewRequest(sip.BYE, *target.Clone())
	for _, h := range hdrs {
		bye.AppendHeader(h)
	}
	if r := reasonHeader(cause); r != nil {
		bye.AppendHeader(r)
	}
	ctx, cancel := context.WithTimeout(ctx, byeTimeout)
	defer cancel()
	metrics.SIPRequests.WithLabelValues("BYE", "out").Inc()
	return write(ctx, bye)
}
