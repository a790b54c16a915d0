package call

import (
	"context"
	"log/slog"
	"time"

	"switchboard/media"
	"switchboard/metrics"
	"switchboard/store"
)

// shutdownHangupWait bounds how long a call hung up by the drain waits for
// the far ends' answers to its BYE or CANCEL.
const shutdownHangupWait = 2 * time.Second

// session is one call while it runs, in either direction: the caller's leg,
// the callee's leg once one answered, the bridge between them and the record.
type session struct {
	e      *Engine
	log    *slog.Logger
	caller Leg
	in     InboundLeg // the caller as a SIP INVITE still to answer; nil for calls from a browser
	callee Leg
	rec    store.CallRecord
	bridge *media.Bridge
	// line drives the caller's media while no bridge does (consent,
	// ringback, voicemail); startBridge hands its stream over.
	line *media.Line
	// bridged is the callee leg the bridge connects (early media may come
	// from a target that then loses to another).
	bridged Leg
	// contA is the stream toward the caller a detached bridge left.
	contA media.StreamState
	// contB is the stream toward the callee a prompt left (outbound consent),
	// for the bridge to continue.
	contB media.StreamState
	// callerAnswered is set once the gateway itself answered the caller
	// (voicemail, or consent for a late-offer INVITE): a person may not have.
	callerAnswered bool
	// consentPlayed records that the caller (or the called party, outbound)
	// heard the whole recording-consent announcement.
	consentPlayed bool
	// recordIt says the call is to be recorded once answered (recording
	// allowed, and the number or the user records); num is the number whose
	// consent was played.
	recordIt  bool
	num       *Number
	recording *callRecording
}

// startBridge connects the caller's and callee's media once both are known.
func (s *session) startBridge(callee Leg) bool {
	if s.bridge != nil {
		return true
	}
	aPort, aDir, ok := s.caller.Media()
	if !ok {
		return false
	}
	bPort, bDir, ok := callee.Media()
	if !ok {
		return false
	}
	contA := s.contA
	if s.line != nil {
		// The caller heard a prompt: the bridge continues its stream.
		contA = s.line.Release()
		s.line = nil
	}
	s.bridge = media.NewBridge(aPort, bPort, aDir, bDir, s.e.stats)
	s.bridge.Continue(media.SideA, contA)
	s.bridge.Continue(media.SideB, s.contB)
	s.bridge.Start()
	s.bridged = callee
	return true
}

// connected records the answer and relays until either side hangs up or
// media stops.
func (s *session) connected(ctx context.Context) {
	// The 200's SDP is final: it may differ from an earlier 183's (RFC 3264 §8).
	if _, bDir, ok := s.callee.Media(); ok {
		s.bridge.SetDirection(media.SideB, bDir)
	}
	// Recording starts before the record's synced update, so the
	// conversation's first words are tapped.
	if s.num != nil {
		s.startRecording(ctx, s.num.E164, s.num.Consent)
	}
	now := time.Now().UTC()
	s.rec.AnsweredAt = &now
	s.rec.Legs[0] = s.caller.Info() // a late offer learnt its codec from the ACK
	s.rec.Legs = append(s.rec.Legs, s.callee.Info())
	rec := s.rec
	if err := s.e.store.UpdateCall(s.rec.ID, func(r *store.CallRecord) error {
		r.AnsweredAt = rec.AnsweredAt
		r.Legs = rec.Legs
		r.Callee = rec.Callee
		return nil
	}); err != nil {
		s.log.Error("call record not updated on answer", "error", err)
	}
	notify(s.caller, "answered", CauseNone)
	notify(s.callee, "answered", CauseNone)
	s.log.Info("call answered", "callee", s.rec.Callee)
	s.talk(ctx)
}

// talk runs the answered call.
func (s *session) talk(ctx context.Context) {
	started := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var aHeld, bHeld bool
	for {
		select {
		case <-s.caller.Done():
			s.finish(ctx, store.OutcomeAnswered, CauseNormal, SideCaller, 0)
			return
		case <-s.callee.Done():
			s.finish(ctx, store.OutcomeAnswered, CauseNormal, SideCallee, 0)
			return
		case u := <-s.caller.Updates():
			aHeld = u.Held
			s.bridge.SetDirection(media.SideA, u.Dir)
			s.bridge.SetSendEnabled(media.SideA, u.Send)
			s.held(aHeld || bHeld)
		case u := <-s.callee.Updates():
			bHeld = u.Held
			s.bridge.SetDirection(media.SideB, u.Dir)
			s.bridge.SetSendEnabled(media.SideB, u.Send)
			s.held(aHeld || bHeld)
		case <-s.e.stop:
			s.finish(ctx, store.OutcomeAnswered, CauseShutdown, SideSystem, 0)
			return
		case now := <-tick.C:
			if aHeld || bHeld || s.e.cfg.RTPTimeout <= 0 {
				continue
			}
			last := s.bridge.LastPacket()
			if last.Before(started) {
				last = started
			}
			if now.Sub(last) >= s.e.cfg.RTPTimeout {
				s.log.Warn("no RTP: hanging up", "silent_for", now.Sub(last).Round(time.Second))
				s.finish(ctx, store.OutcomeAnswered, CauseRTPTimeout, SideSystem, 0)
				return
			}
		}
	}
}

// held tells browser legs the call went on or off hold.
func (s *session) held(on bool) {
	state := "answered"
	if on {
		state = "held"
	}
	notify(s.caller, state, CauseNone)
	notify(s.callee, state, CauseNone)
}

// finish ends the call: rejects an unanswered SIP caller, hangs up both
// legs, stops media and closes the record.
func (s *session) finish(ctx context.Context, outcome store.Outcome, cause Cause, side string, code int) {
	if s.rec.AnsweredAt != nil {
		// Legs learn details while they run (a browser's ICE pair is chosen
		// after the answer): record them as they are before hanging up.
		s.rec.Legs = []store.Leg{s.caller.Info(), s.callee.Info()}
	}
	if s.line != nil {
		s.line.Release()
		s.line = nil
	}
	s.stopRecording()
	if s.bridge != nil {
		s.bridge.Stop()
	}
	// Shutting down, a far end that no longer answers must not hold the
	// drain for the 32 s a BYE may wait (RFC 3261 Timer F): the record
	// is written once the legs are hung up, so bound the wait.
	select {
	case <-s.e.stop:
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, shutdownHangupWait)
		defer cancel()
	default:
	}
	answered := s.rec.AnsweredAt != nil
	callerUp := answered || s.callerAnswered
	if code == 0 && !callerUp {
		code = cause.SIPStatus()
	}
	switch {
	case s.in != nil && !callerUp && cause != CauseCancelled:
		_ = s.in.Reject(ctx, cause, code)
	default:
		notify(s.caller, "ended", cause)
		_ = s.caller.Hangup(ctx, cause)
	}
	if s.callee != nil {
		notify(s.callee, "ended", cause)
		_ = s.callee.Hangup(ctx, cause)
	}
	now := time.Now().UTC()
	s.rec.EndedAt = &now
	s.rec.Outcome = outcome
	s.rec.HangupCause = cause.String()
	s.rec.HangupSide = side
	if code != 0 {
		s.rec.SIPCode = code
	}
	if answered {
		s.rec.DurationSeconds = now.Sub(*s.rec.AnsweredAt).Seconds()
	}
	if callerUp && s.rec.SIPCode == 0 {
		s.rec.SIPCode = 200
	}
	rec := s.rec
	if err := s.e.store.UpdateCall(rec.ID, func(r *store.CallRecord) error {
		*r = rec
		return nil
	}); err != nil {
		s.log.Error("call record not closed", "error", err)
	}
	metrics.CallsTotal.WithLabelValues(string(outcome)).Inc()
	s.log.Info("call ended", "outcome", outcome, "cause", cause, "side", side, "duration_s", rec.DurationSeconds)
}

// open writes the record of a starting call; the call goes on if it fails
// (a caller must not lose the call because the disk is full; /healthz turns red).
func (s *session) open() {
	if err := s.e.store.CreateCall(&s.rec); err != nil {
		s.e.log.Error("call record not written", "error", err, "number", s.rec.Number)
	}
	s.log = s.e.log.With("call", s.rec.ID, "direction", s.rec.Direction, "number", s.rec.Number, "caller", s.rec.Caller)
}
