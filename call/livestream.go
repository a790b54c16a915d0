package call

import (
	"context"
	"time"

	"switchboard/recorder"
)

// StreamInfo describes a recorded call whose audio is streamed live.
type StreamInfo struct {
	CallID, Number, Caller, Callee, Direction string
	StartedAt                                 time.Time // when the call started
}

// LiveStream is one call's live media stream: it receives the recording's
// aligned audio (recorder.LiveSink, never blocking) and is stopped when the
// recording stops.
type LiveStream interface {
	recorder.LiveSink
	// Stop ends the stream, telling the consumer why; it may take up to
	// the stream's write timeout, so the engine does not wait for it.
	Stop(reason string)
}

// LiveStreams starts live media streams of recorded calls (config
// recording.stream_url). A consumer that is down or slow costs its stream,
// never the call: StartStream returns at once and the stream connects in
// the background.
type LiveStreams interface {
	StartStream(ctx context.Context, info StreamInfo) (LiveStream, error)
}

// SetLiveStreams streams every recorded call's audio through ls; nil (the
// default) streams nothing. Call it before calls arrive.
func (e *Engine) SetLiveStreams(ls LiveStreams) { e.streams = ls }

// startStream starts the live stream of the call being recorded, or returns
// nil when there is none or it cannot start.
func (s *session) startStream(ctx context.Context, number string) LiveStream {
	if s.e.streams == nil {
		return nil
	}
	ls, err := s.e.streams.StartStream(ctx, StreamInfo{
		CallID: s.rec.ID, Number: number, Caller: s.rec.Caller, Callee: s.rec.Callee,
		Direction: string(s.rec.Direction), StartedAt: s.rec.StartedAt,
	})
	if err != nil {
		s.log.Warn("call recorded without its live stream", "error", err)
		return nil
	}
	return ls
}
