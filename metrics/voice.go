package metrics

import "github.com/prometheus/client_golang/prometheus"

var (
	// PromptFrames counts requests for encoded prompt frames: served from
	// memory (hit) or rendered/decoded (miss). Per call, a cached prompt is a hit.
	PromptFrames = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_prompt_frames_total",
		Help: "Encoded prompt requests by result: hit (served from memory) or miss (rendered or decoded).",
	}, []string{"result"})
	// TTSRenders counts text-to-speech syntheses (cache misses on disk too).
	TTSRenders = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "switchboard_tts_renders_total",
		Help: "Text-to-speech renderings run (prompts not yet in the on-disk cache).",
	})
	// VoicemailsRecording is the number of voicemail messages being recorded.
	VoicemailsRecording = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "switchboard_voicemails_recording",
		Help: "Voicemail messages being recorded now.",
	})
	// Voicemails counts finished voicemail attempts: kept, or discarded (less than a second of speech).
	Voicemails = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_voicemails_total",
		Help: "Voicemail recordings finished, by result: kept or discarded (too short).",
	}, []string{"result"})
	// VoicemailBytes counts bytes of voicemail audio written to disk.
	VoicemailBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "switchboard_voicemail_bytes_total",
		Help: "Bytes of voicemail audio files written (WAV, headers included).",
	})
)

func init() {
	Registry.MustRegister(PromptFrames, TTSRenders, VoicemailsRecording, Voicemails, VoicemailBytes)
	for _, r := range []string{"hit", "miss"} {
		PromptFrames.WithLabelValues(r)
	}
	for _, r := range []string{"kept", "discarded"} {
		Voicemails.WithLabelValues(r)
	}
	CallsTotal.WithLabelValues("voicemail")
}

var (
	// RecordingsActive is the number of calls being recorded.
	RecordingsActive = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "switchboard_recordings_active",
		Help: "Calls being recorded now.",
	})
	// RecordingDropped counts RTP packets a recorder could not take (its
	// queue was full: the disk or the writer fell behind); the relay never waits.
	RecordingDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "switchboard_recording_dropped_packets_total",
		Help: "RTP packets not recorded because a recorder's queue was full (the call itself was not affected).",
	})
)

var (
	// LiveStreams counts live media streams by how they ended: "complete"
	// (the consumer had every frame), "incomplete" (connected, but frames
	// were dropped or the consumer went away) or "failed" (never connected).
	LiveStreams = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_livestreams_total",
		Help: "Live media streams of recorded calls, by how they ended: complete, incomplete or failed.",
	}, []string{"result"})
	// LiveStreamDropped counts 20 ms frames (per channel) a live stream did
	// not deliver; the call and its recording were not affected.
	LiveStreamDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "switchboard_livestream_dropped_frames_total",
		Help: "20 ms audio frames (per channel) a live media stream did not deliver (slow or failed consumer).",
	})
)

func init() {
	Registry.MustRegister(RecordingsActive, RecordingDropped, LiveStreams, LiveStreamDropped)
	for _, r := range []string{"complete", "incomplete", "failed"} {
		LiveStreams.WithLabelValues(r)
	}
}
