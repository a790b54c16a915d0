package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"switchboard/call"
	"switchboard/livestream"
	"switchboard/metrics"
)

// liveStreams starts the live media stream of each recorded call
// (recording.stream_url) for the call engine.
type liveStreams struct {
	url string
	// ctx is cancelled only at shutdown: a stream outlives the call's own
	// context long enough to send its stop event.
	ctx context.Context
	log *slog.Logger
	// running counts streams not yet stopped, so shutdown can let the
	// last stop events go out.
	running *sync.WaitGroup
}

// newLiveStreams returns the streams of recording.stream_url, or nil if it
// is not set; stop ends them at shutdown.
func newLiveStreams(url string, log *slog.Logger) (ls *liveStreams, stop func(wait time.Duration)) {
	if url == "" {
		return nil, func(time.Duration) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	ls = &liveStreams{url: url, ctx: ctx, log: log, running: &sync.WaitGroup{}}
	return ls, func(wait time.Duration) {
		// The drained calls' streams are sending their stop events; give
		// them a moment, then close whatever is left.
		done := make(chan struct{})
		go func() { ls.running.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(wait):
			log.Warn("live streams still sending at shutdown; closing them")
		}
		cancel()
	}
}

// StartStream implements call.LiveStreams.
func (l *liveStreams) StartStream(_ context.Context, info call.StreamInfo) (call.LiveStream, error) {
	s, err := livestream.Start(l.ctx, livestream.Config{URL: l.url, Logger: l.log.With("call", info.CallID)},
		livestream.CallInfo{
			CallID: info.CallID, Number: info.Number, Caller: info.Caller, Callee: info.Callee,
			Direction: info.Direction, StartedAt: info.StartedAt,
		})
	if err != nil {
		return nil, err
	}
	l.running.Add(1)
	return liveStream{Stream: s, running: l.running}, nil
}

// liveStream counts how each stream ended.
type liveStream struct {
	*livestream.Stream
	running *sync.WaitGroup
}

// Stop implements call.LiveStream.
func (l liveStream) Stop(reason string) {
	defer l.running.Done()
	st := l.Stream.Stop(reason)
	metrics.LiveStreamDropped.Add(float64(st.FramesDropped))
	switch {
	case !st.Connected:
		metrics.LiveStreams.WithLabelValues("failed").Inc()
	case st.Err != nil || st.FramesDropped > 0:
		metrics.LiveStreams.WithLabelValues("incomplete").Inc()
	default:
		metrics.LiveStreams.WithLabelValues("complete").Inc()
	}
}
