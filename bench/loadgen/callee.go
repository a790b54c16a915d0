package main

import (
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// callee plays the far end the gateway forwards calls to (the trunk's
// outbound proxy): it answers every INVITE with SDP, streams RTP to the
// gateway's second leg once the ACK arrives, and stops on BYE. With an
// answer delay it rings first (180) and answers after the delay unless the
// gateway cancels the call meanwhile, as a phone that lost a race to
// another device does.
type callee struct {
	ag          *agent
	cache       *sipgo.DialogServerCache
	eng         *rtpEngine
	prefer      uint8
	answerDelay time.Duration

	streams   sync.Map // Call-ID -> *stream
	answered  atomic.Uint64
	cancelled atomic.Uint64 // CANCELled before our 200 OK
	// lateAnswered counts 200 OKs that crossed the gateway's CANCEL: the
	// gateway ACKs and at once sends BYE (RFC 3261 §9.1), and the BYE was
	// handled before the ACK, so RespondSDP saw the dialog end unconfirmed.
	lateAnswered atomic.Uint64
	rejected     atomic.Uint64
	ended        atomic.Uint64
}

// newCallee makes a callee on ag that answers with prefer when the gateway
// offers it (and with the gateway's first codec otherwise), answerDelay
// after the INVITE arrives (0: at once, without ringing first).
func newCallee(ag *agent, eng *rtpEngine, prefer uint8, answerDelay time.Duration) *callee {
	c := &callee{
		ag:          ag,
		cache:       sipgo.NewDialogServerCache(ag.client, ag.contact),
		eng:         eng,
		prefer:      prefer,
		answerDelay: answerDelay,
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
	if c.answerDelay > 0 && !c.ring(dlg, tx) {
		return
	}
	// A CANCEL racing our 200 OK (another device answered first) may end
	// the transaction in several ways; seeing the CANCEL is what counts.
	var sawCancel atomic.Bool
	tx.OnCancel(func(*sip.Request) { sawCancel.Store(true) })
	sock := c.eng.socket()
	body := buildSDP(rand.Uint64()>>1, sock.LocalAddr().(*net.UDPAddr).AddrPort(), pt)
	if err := dlg.RespondSDP(body); err != nil {
		// A CANCEL that arrived just before our 200 OK (after it, the
		// gateway ACKs and sends BYE instead: RFC 3261 §9.1).
		switch {
		case sawCancel.Load():
			c.cancelled.Add(1)
		case dlg.LoadState() == sip.DialogStateEnded:
			// The gateway's BYE ended the dialog: it took our 200 after
			// another device had won. A lost race, not a rejection.
			c.lateAnswered.Add(1)
		default:
			c.countEnded(tx)
		}
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

// ring sends 180 Ringing and waits answerDelay. It reports false when the
// gateway cancelled the call meanwhile (sipgo's transaction layer has then
// answered the CANCEL 200 and the INVITE 487, RFC 3261 §9.2) or the
// transaction failed. The CANCEL is seen through OnCancel: the transaction
// itself only ends once the 487 is acknowledged and Timer I has run.
func (c *callee) ring(dlg *sipgo.DialogServerSession, tx sip.ServerTransaction) bool {
	cancelled := make(chan struct{})
	var once sync.Once
	if !tx.OnCancel(func(*sip.Request) { once.Do(func() { close(cancelled) }) }) {
		c.countEnded(tx)
		dlg.Close()
		return false
	}
	if err := dlg.Respond(sip.StatusRinging, "Ringing", nil); err != nil {
		c.countEnded(tx)
		dlg.Close()
		return false
	}
	t := time.NewTimer(c.answerDelay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-cancelled:
	case <-tx.Done():
	}
	c.countEnded(tx)
	dlg.Close()
	return false
}

// countEnded counts an INVITE transaction that ended before we answered:
// cancelled by the gateway, or failed.
func (c *callee) countEnded(tx sip.ServerTransaction) {
	if errors.Is(tx.Err(), sip.ErrTransactionCanceled) {
		c.cancelled.Add(1)
		return
	}
	c.rejected.Add(1)
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
