package call

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"switchboard/ivr"
	"switchboard/media"
	"switchboard/metrics"
	"switchboard/recorder"
	"switchboard/store"
)

// callRecording is a call being recorded: the recorder fed by the bridge's
// tap, and the record kept about it.
type callRecording struct {
	r      *recorder.Recorder
	callID string
	live   LiveStream // nil: not streamed
}

// tap adapts the recorder to the bridge's Tap: side A (the caller) is the
// left channel, side B (the answering side) the right. It runs on the relay
// path; the recorder copies the packet into its bounded queue.
type tap struct{ r *recorder.Recorder }

// TapRTP implements media.Tap.
func (t tap) TapRTP(from media.Side, pkt []byte, at int64) {
	h, payload, ok := media.ParseRTP(pkt)
	if !ok {
		return
	}
	p := recorder.Packet{
		Channel: int(from), PT: h.PayloadType, Seq: h.Seq, TS: h.TS, SSRC: h.SSRC,
		Marker: h.Marker, Arrival: at, Payload: payload,
	}
	t.r.Offer(&p)
}

// startRecording records the answered call when it is to be recorded and
// its consent was heard: nothing is recorded before the announcement. The
// consent itself is the recording's first seconds, on the channel of the
// side it was played for: an inbound caller heard it as the answering
// side's audio (right channel), the called party of an outbound call as the
// caller's (left channel).
func (s *session) startRecording(ctx context.Context, number string, consent ivr.Source) {
	if !s.recordIt || !s.consentPlayed || s.bridge == nil {
		return
	}
	heardBy, channel := s.caller, 1
	if s.rec.Direction == store.DirectionOutbound {
		heardBy, channel = s.callee, 0
	}
	_, dir, _ := heardBy.Media()
	var prelude [2][]int16
	if s.e.prompts != nil {
		// The consent as it was heard: the frames already encoded and
		// cached for that leg's codec, decoded. Prompts.Samples would read
		// the prompt from disk again on every recorded call.
		if frames, err := s.e.prompts.Frames(ctx, consent, dir.PayloadType); err == nil {
			prelude[channel] = decodeFrames(frames, dir.PayloadType)
		}
	}
	rel := "recordings/" + strings.TrimPrefix(number, "+") + "/" + s.rec.ID + ".wav"
	rec := store.Recording{
		CallID: s.rec.ID, Number: number, File: rel, StartedAt: time.Now().UTC(),
		Channels: 2, State: store.RecordingActive, ConsentPlayed: true,
	}
	live := s.startStream(ctx, number)
	r, err := recorder.Start(recorder.Config{
		Path:    filepath.Join(s.e.cfg.DataDir, filepath.FromSlash(rel)),
		Prelude: prelude,
		Live:    live, // a nil LiveStream converts to a nil LiveSink
	})
	if err != nil {
		s.log.Error("call not recorded", "error", err)
		if live != nil {
			go live.Stop("error")
		}
		return
	}
	// Tap first: the recorder's queue holds the packets while the record
	// is written (a synced store write).
	s.bridge.SetTap(tap{r})
	if err := s.e.store.CreateRecording(&rec); err != nil {
		s.log.Error("call not recorded: no record", "error", err)
		s.bridge.SetTap(nil)
		_, _ = r.Stop()
		if live != nil {
			go live.Stop("error")
		}
		return
	}
	s.recording = &callRecording{r: r, callID: s.rec.ID, live: live}
	metrics.RecordingsActive.Inc()
	s.log.Info("recording the call", "file", rel)
}

// stopRecording ends the recording: no more packets, the queue drained, the
// WAV closed and the record completed.
func (s *session) stopRecording() {
	cr := s.recording
	if cr == nil {
		return
	}
	s.recording = nil
	if s.bridge != nil {
		s.bridge.SetTap(nil)
	}
	st, err := cr.r.Stop()
	if cr.live != nil {
		// After the recorder stopped: the stream has had all the audio.
		// The stop event may wait on a slow consumer; the call does not.
		go cr.live.Stop("hangup")
	}
	metrics.RecordingsActive.Dec()
	metrics.RecordingDropped.Add(float64(st.Dropped))
	if err != nil {
		s.log.Error("recording not closed cleanly", "error", err)
	}
	if _, uerr := s.e.store.UpdateRecording(cr.callID, func(r *store.Recording) error {
		r.State = store.RecordingComplete
		r.DurationSeconds = st.Duration.Round(time.Millisecond).Seconds()
		r.Bytes = st.Bytes
		r.DroppedPackets = st.Dropped
		return nil
	}); uerr != nil {
		s.log.Error("recording record not completed", "error", uerr)
	}
	s.log.Info("recording finished", "duration", st.Duration.Round(10*time.Millisecond), "dropped", st.Dropped)
}

// decodeFrames turns G.711 frames of payload type pt into linear samples.
func decodeFrames(frames [][]byte, pt uint8) []int16 {
	table := &media.ULawToLinear
	if pt == media.PayloadPCMA {
		table = &media.ALawToLinear
	}
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	out := make([]int16, 0, n)
	for _, f := range frames {
		for _, b := range f {
			out = append(out, table[b])
		}
	}
	return out
}
