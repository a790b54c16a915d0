package livestream

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
)

// The wire format: every message is one JSON object in one WebSocket text
// frame (RFC 6455 §5.6), with an "event" field saying which of the three it
// is. docs/livestream.md describes it for consumer authors; the types below
// are exported so a Go consumer can decode it with encoding/json.

// Event names, the "event" field of each message.
const (
	EventStart = "start"
	EventMedia = "media"
	EventStop  = "stop"
)

// Encoding is the media_format encoding of every stream: G.711 µ-law.
const Encoding = "audio/x-mulaw"

// Channel roles, as listed in the start event.
const (
	RoleCaller    = "caller"
	RoleAnswering = "answering"
)

// StartEvent is the first message of a stream: which call it is and how the
// media that follows is encoded.
type StartEvent struct {
	Event       string        `json:"event"`
	StreamID    string        `json:"stream_id"`
	CallID      string        `json:"call_id"`
	Number      string        `json:"number"`
	Caller      string        `json:"caller"`
	Callee      string        `json:"callee"`
	Direction   string        `json:"direction"`
	StartedAt   string        `json:"started_at"`
	MediaFormat MediaFormat   `json:"media_format"`
	Channels    []ChannelInfo `json:"channels"`
}

// MediaFormat describes the audio in media events.
type MediaFormat struct {
	Encoding   string `json:"encoding"`
	SampleRate int    `json:"sample_rate"`
	FrameMS    int    `json:"frame_ms"`
}

// ChannelInfo names one audio channel of the stream.
type ChannelInfo struct {
	Index int    `json:"index"`
	Role  string `json:"role"`
}

// MediaEvent is one 20 ms frame of one channel. Seq counts the channel's
// frames from 0, dropped ones included, so a gap in Seq is audio the
// consumer did not get; TimestampMS is where the frame starts, in ms from the
// start of the stream, and is the same for both channels' frames of one
// 20 ms step. Payload is FrameSamples µ-law bytes (base64 in JSON).
type MediaEvent struct {
	Event       string `json:"event"`
	Channel     int    `json:"channel"`
	Seq         uint64 `json:"seq"`
	TimestampMS uint64 `json:"timestamp_ms"`
	Payload     []byte `json:"payload"`
}

// StopEvent is the last message of a stream that ended normally: why it
// ended and how many media frames (counting each channel's frames
// separately) were sent and dropped.
type StopEvent struct {
	Event         string `json:"event"`
	Reason        string `json:"reason"`
	FramesSent    uint64 `json:"frames_sent"`
	FramesDropped uint64 `json:"frames_dropped"`
}

// startTimeLayout is RFC 3339 with milliseconds, always in UTC.
const startTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// encodeStart returns the start event of a stream.
func encodeStart(streamID string, info CallInfo) []byte {
	b, err := json.Marshal(StartEvent{
		Event:     EventStart,
		StreamID:  streamID,
		CallID:    info.CallID,
		Number:    info.Number,
		Caller:    info.Caller,
		Callee:    info.Callee,
		Direction: info.Direction,
		StartedAt: info.StartedAt.UTC().Format(startTimeLayout),
		MediaFormat: MediaFormat{
			Encoding:   Encoding,
			SampleRate: SampleRate,
			FrameMS:    FrameMS,
		},
		Channels: []ChannelInfo{{Index: 0, Role: RoleCaller}, {Index: 1, Role: RoleAnswering}},
	})
	if err != nil {
		// Only strings and ints: Marshal cannot fail.
		panic("livestream: encoding the start event: " + err.Error())
	}
	return b
}

// encodeStop returns the stop event of a stream.
func encodeStop(reason string, sent, dropped uint64) []byte {
	b, err := json.Marshal(StopEvent{Event: EventStop, Reason: reason, FramesSent: sent, FramesDropped: dropped})
	if err != nil {
		panic("livestream: encoding the stop event: " + err.Error())
	}
	return b
}

// appendMedia appends the media event of one frame to b. It writes the JSON
// by hand, in MediaEvent's field order, so the sender does not allocate per
// frame (100 frames a second per call); TestAppendMediaDecodes holds it to
// what encoding/json reads back.
func appendMedia(b []byte, channel int, seq uint64, payload []byte) []byte {
	b = append(b, `{"event":"media","channel":`...)
	b = strconv.AppendInt(b, int64(channel), 10)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"timestamp_ms":`...)
	b = strconv.AppendUint(b, seq*FrameMS, 10)
	b = append(b, `,"payload":"`...)
	b = base64.StdEncoding.AppendEncode(b, payload)
	return append(b, `"}`...)
}
