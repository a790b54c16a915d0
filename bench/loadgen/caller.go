package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// caller plays the trunk side that calls in: it sends INVITEs to the
// gateway, streams RTP to the gateway's first leg once answered, and hangs
// up with BYE.
type caller struct {
	ag     *agent
	cache  *sipgo.DialogClientCache
	eng    *rtpEngine
	target sip.Uri
	offer  []uint8

	calls         sync.Map // Call-ID -> *outCall, for BYEs from the gateway
	remoteHangups atomic.Uint64
}

// outCall is one answered call placed by the caller.
type outCall struct {
	dlg    *sipgo.DialogClientSession
	stream *stream
	once   sync.Once
	// setupTook is the time from sending the INVITE to receiving the
	// 200 OK, before the ACK: what the caller waited for the call to connect.
	setupTook time.Duration
}

// newCaller makes a caller on ag that dials number at gateway, offering
// the codecs in offer.
func newCaller(ag *agent, eng *rtpEngine, gateway netip.AddrPort, number string, offer []uint8) *caller {
	c := &caller{
		ag:     ag,
		cache:  sipgo.NewDialogClientCache(ag.client, ag.contact),
		eng:    eng,
		target: sip.Uri{Scheme: "sip", User: number, Host: gateway.Addr().String(), Port: int(gateway.Port())},
		offer:  offer,
	}
	ag.srv.OnBye(c.onBye)
	return c
}

// place sends one INVITE from caller ID from and, once answered and
// acknowledged, starts the call's RTP toward the gateway.
func (c *caller) place(ctx context.Context, from string) (*outCall, error) {
	return c.placeTo(ctx, c.target.User, from)
}

// placeTo is place with the number dialled given per call (WebRTC runs
// ring a different user's number on every call).
func (c *caller) placeTo(ctx context.Context, number, from string) (*outCall, error) {
	target := c.target
	target.User = number
	sock := c.eng.socket()
	rtpAddr := sock.LocalAddr().(*net.UDPAddr).AddrPort()

	req := sip.NewRequest(sip.INVITE, target)
	fromHdr := &sip.FromHeader{
		Address: sip.Uri{Scheme: "sip", User: from, Host: c.ag.addr.Addr().String()},
		Params:  sip.NewParams(),
	}
	fromHdr.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(fromHdr)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: number, Host: target.Host}, Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(buildSDP(rand.Uint64()>>1, rtpAddr, c.offer...))

	sentAt := time.Now()
	dlg, err := c.cache.WriteInvite(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("INVITE: %w", err)
	}
	if err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		dlg.Close()
		var dr *sipgo.ErrDialogResponse
		if errors.As(err, &dr) {
			return nil, fmt.Errorf("INVITE answered %d %s", dr.Res.StatusCode, dr.Res.Reason)
		}
		return nil, fmt.Errorf("INVITE: %w", err)
	}
	setupTook := time.Since(sentAt)
	if err := dlg.Ack(ctx); err != nil {
		dlg.Close()
		return nil, fmt.Errorf("ACK: %w", err)
	}
	ra, err := parseAudio(dlg.InviteResponse.Body())
	if err != nil {
		_ = dlg.Bye(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("gateway's answer: %w", err)
	}
	// RFC 3264 §6.1: the answer lists the codec(s) the answerer will use,
	// the first being the one to send.
	oc := &outCall{dlg: dlg, stream: c.eng.add(sock, ra.Addr, ra.Codecs[0], rand.Uint32()), setupTook: setupTook}
	c.calls.Store(req.CallID().Value(), oc)
	return oc, nil
}

// hangup stops the call's RTP and sends BYE.
func (c *caller) hangup(ctx context.Context, oc *outCall) error {
	var err error
	oc.once.Do(func() {
		c.eng.remove(oc.stream)
		c.calls.Delete(oc.dlg.InviteRequest.CallID().Value())
		err = oc.dlg.Bye(ctx)
	})
	return err
}

// onBye handles the gateway hanging up (RTP timeout, drain): the call ends
// early and is counted, since in a benchmark it means something went wrong.
func (c *caller) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if err := c.cache.ReadBye(req, tx); err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
		return
	}
	if v, ok := c.calls.LoadAndDelete(req.CallID().Value()); ok {
		oc := v.(*outCall)
		oc.once.Do(func() { c.eng.remove(oc.stream) })
		c.remoteHangups.Add(1)
	}
}
