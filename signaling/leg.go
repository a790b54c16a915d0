package signaling

import (
	"context"
	"encoding/json"
	"sync"

	"switchboard/call"
	"switchboard/media"
	"switchboard/store"
)

// browserLeg is a call leg in a browser tab: the engine drives it like a SIP
// leg (call.Leg) and reports progress to it (call.StateListener), which the
// tab sees as call_state messages.
type browserLeg struct {
	srv     *Server
	sess    *session
	user    string
	peer    Peer
	inbound bool // rung by an inbound call (callee) or placed by the tab (caller)
	updates chan call.MediaUpdate
	done    chan struct{}

	// key and registered are guarded by srv.mu: the call id under which
	// the leg is in srv.legs, counted in its user's presence.
	key        string
	registered bool

	mu        sync.Mutex
	callID    string       // "" until the engine named the call (outbound)
	pending   []callScoped // messages held until the call id is known
	answered  bool         // the call was connected (hangup then is normal clearing)
	endedSent bool         // the tab was told the call ended
	ended     bool
	cause     call.Cause
	byRemote  bool
}

var (
	_ call.Leg           = (*browserLeg)(nil)
	_ call.StateListener = (*browserLeg)(nil)
)

func newBrowserLeg(srv *Server, c *session, peer Peer, inbound bool) *browserLeg {
	return &browserLeg{
		srv:     srv,
		sess:    c,
		user:    c.user.ID,
		peer:    peer,
		inbound: inbound,
		updates: make(chan call.MediaUpdate, 4),
		done:    make(chan struct{}),
	}
}

// watch ends the leg when its peer connection dies (ICE failed, or the
// browser closed it). A silent peer does not die: silence is not a failure.
func (l *browserLeg) watch() {
	go func() {
		select {
		case <-l.peer.Done():
			l.notifyEnded(call.CauseFailed)
			l.end(call.CauseFailed, true)
		case <-l.done:
		}
	}()
}

// Info describes the leg for the call record.
func (l *browserLeg) Info() store.Leg {
	role := call.SideCaller
	if l.inbound {
		role = call.SideCallee
	}
	return store.Leg{
		Role:   role,
		Kind:   "webrtc",
		Peer:   "user:" + l.user,
		Remote: l.peer.RemoteAddr(),
		Codec:  codecName(l.peer.Direction().PayloadType),
	}
}

// Media returns the peer connection as the bridge's port and its codec.
// A browser leg exists only once offer/answer is done, so ok is true.
func (l *browserLeg) Media() (media.Port, media.Direction, bool) {
	return l.peer, l.peer.Direction(), true
}

// Updates delivers the tab's hold and resume.
func (l *browserLeg) Updates() <-chan call.MediaUpdate { return l.updates }

// Done is closed when the leg ended: the tab hung up or closed, its peer
// connection died, or the engine hung it up.
func (l *browserLeg) Done() <-chan struct{} { return l.done }

// EndCause reports why the leg ended and whether the browser side ended it.
func (l *browserLeg) EndCause() (call.Cause, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cause, l.byRemote
}

// Hangup ends the leg from the gateway's side: the tab hears call_state
// ended with the cause. It is idempotent.
func (l *browserLeg) Hangup(_ context.Context, cause call.Cause) error {
	l.notifyEnded(cause)
	l.end(cause, false)
	return nil
}

// CallState forwards the call's progress to the tab.
func (l *browserLeg) CallState(state string, cause call.Cause) {
	if state == "ended" {
		l.notifyEnded(cause)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.endedSent {
		return
	}
	if state == "answered" {
		l.answered = true
	}
	l.emitLocked(callStateMsg{Type: typeCallState, State: state, Direction: l.direction()})
}

// notifyEnded tells the tab the call ended, once.
func (l *browserLeg) notifyEnded(cause call.Cause) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.endedSent {
		return
	}
	l.endedSent = true
	l.emitLocked(callStateMsg{Type: typeCallState, State: "ended", Cause: cause.String(), Direction: l.direction()})
}

func (l *browserLeg) direction() string {
	if l.inbound {
		return string(store.DirectionInbound)
	}
	return string(store.DirectionOutbound)
}

// emitLocked sends a message about this call to the tab, or holds it until
// the call has an id.
func (l *browserLeg) emitLocked(m callScoped) {
	if l.callID == "" {
		l.pending = append(l.pending, m)
		return
	}
	l.sess.send(m.withCallID(l.callID))
}

// localCandidate forwards one of our trickled ICE candidates.
func (l *browserLeg) localCandidate(cand []byte) {
	if !json.Valid(cand) {
		l.sess.log.Error("media produced an invalid ICE candidate")
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.emitLocked(iceMsg{Type: typeICE, Candidate: append(json.RawMessage(nil), cand...)})
}

// named gives an outbound leg its call id: the tab gets dial_sdp, then what
// happened meanwhile.
func (l *browserLeg) named(callID string, reply sdpMsg) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.callID = callID
	reply.CallID = callID
	l.sess.send(reply)
	for _, m := range l.pending {
		l.sess.send(m.withCallID(callID))
	}
	l.pending = nil
}

// hangupByTab handles the tab's "hangup": a connected call clears normally,
// one still ringing out is cancelled.
func (l *browserLeg) hangupByTab() {
	l.mu.Lock()
	cause := call.CauseCancelled
	if l.answered {
		cause = call.CauseNormal
	}
	l.mu.Unlock()
	l.notifyEnded(cause)
	l.end(cause, true)
}

// setHeld reports the tab's hold or resume to the engine. Only the latest
// state matters, so an unread older one is replaced.
func (l *browserLeg) setHeld(held bool) {
	u := call.MediaUpdate{Dir: l.peer.Direction(), Send: !held, Held: held}
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		select {
		case l.updates <- u:
			return
		default:
		}
		select {
		case <-l.updates:
		default:
		}
	}
}

// end finishes the leg once: presence forgets it, the peer connection is
// released, then Done closes (so whoever sees Done finds the media gone).
func (l *browserLeg) end(cause call.Cause, byRemote bool) {
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		return
	}
	l.ended = true
	l.cause, l.byRemote = cause, byRemote
	l.mu.Unlock()
	l.srv.unregisterLeg(l)
	_ = l.peer.Close()
	close(l.done)
}

func (l *browserLeg) isEnded() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ended
}

// registerLegLocked makes a leg findable by its call id and counts it in
// its user's presence; the caller announces the presence once it has told
// the tab about the call. It returns false when the leg or its tab is
// already gone.
func (s *Server) registerLegLocked(l *browserLeg, callID string) bool {
	if l.isEnded() || l.sess.removed {
		return false
	}
	u := s.users[l.user]
	if u == nil {
		return false
	}
	l.key, l.registered = callKey(callID, l.user), true
	s.legs[l.key] = l
	u.legs++
	return true
}

// unregisterLeg undoes registerLegLocked.
func (s *Server) unregisterLeg(l *browserLeg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !l.registered {
		return
	}
	l.registered = false
	if s.legs[l.key] == l {
		delete(s.legs, l.key)
	}
	if u := s.users[l.user]; u != nil {
		u.legs--
		s.announceLocked(u)
		s.forgetIdleLocked(u)
	}
}

// legOf returns the live leg callID of tab c, or nil.
func (s *Server) legOf(c *session, callID string) *browserLeg {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.legs[callKey(callID, c.user.ID)]; l != nil && l.sess == c {
		return l
	}
	return nil
}

// callKey keys rings and legs by call and user: one call may ring several
// users' browsers at once (a team), each with its own ring and tabs.
func callKey(callID, user string) string { return callID + "\x00" + user }

func codecName(pt uint8) string {
	switch pt {
	case media.PayloadPCMU:
		return media.PCMU.Name
	case media.PayloadPCMA:
		return media.PCMA.Name
	default:
		return ""
	}
}
