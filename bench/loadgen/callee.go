package main

import (
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// callee plays the far end the gateway forwards calls to (the trunk's
// outbound proxy): it answers every INVITE with SDP, streams RTP to the
// gateway's second leg once the ACK arrives, and stops on BYE.
type callee struct {
	ag     *agent
	cache  *sipgo.DialogServerCache
	eng    *rtpEngine
	prefer uint8

	streams  sync.Map // Call-ID -> *stream
	answered atomic.Uint64
	rejected atomic.Uint64
	ended    atomic.Uint64
}

// newCallee makes a callee on ag that answers with prefer when the gateway
// offers it (and with the gateway's first codec otherwise).
func newCallee(ag *agent, eng *rtpEngine, prefer uint8) *callee {
	c := &callee{
		ag:     ag,
		cache:  sipgo.NewDialogServerCache(ag.client, ag.contact),
		eng:    eng,
		prefer: prefer,
	}
	ag.srv.OnInvite(c.onInvite)
	ag.srv.OnAck(c.onAck)
	ag.srv.OnBye(c.onBye)
	return c
}

// onInvite answers a forwarded call. RespondSDP returns once the ACK has
// arrived (RFC 3261 §13.3.1.4: the 2xx is retransmitted until then), and
// only then does RTP start, as a phone would after answering.
func (c *callee) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	ra, err := parseAudio(req.Body())
	if err != nil {
		c.rejected.Add(1)
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotAcceptableHere, "Not Acceptable Here", nil))
		return
	}
	pt, ok := ra.pick(c.prefer)
	if !ok {
		pt = ra.Codecs[0]
	}
	dlg, err := c.cache.ReadInvite(req, tx)
	if err != nil {
		c.rejected.Add(1)
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBadRequest, err.Error(), nil))
		return
	}
	sock := c.eng.socket()
	body := buildSDP(rand.Uint64()>>1, sock.LocalAddr().(*net.UDPAddr).AddrPort(), pt)
	if err := dlg.RespondSDP(body); err != nil {
		c.rejected.Add(1)
		dlg.Close()
		return
	}
	st := c.eng.add(sock, ra.Addr, pt, rand.Uint32())
	callID := req.CallID().Value()
	c.streams.Store(callID, st)
	c.answered.Add(1)
	// The BYE may have raced the ACK handling above; then the dialog has
	// ended already and the stream must not outlive it.
	if dlg.LoadState() == sip.DialogStateEnded {
		if v, ok := c.streams.LoadAndDelete(callID); ok {
			c.eng.remove(v.(*stream))
		}
	}
}

// onAck confirms the dialog, which lets RespondSDP return.
func (c *callee) onAck(req *sip.Request, tx sip.ServerTransaction) {
	_ = c.cache.ReadAck(req, tx)
}

// onBye ends a forwarded call.
func (c *callee) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if err := c.cache.ReadBye(req, tx); err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
		return
	}
	if v, ok := c.streams.LoadAndDelete(req.CallID().Value()); ok {
		c.eng.remove(v.(*stream))
	}
	c.ended.Add(1)
}

// live reports how many answered calls have not ended yet.
func (c *callee) live() int {
	n := 0
	c.streams.Range(func(any, any) bool { n++; return true })
	return n
}
