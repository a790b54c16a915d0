package livestream

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestAppendMediaDecodes(t *testing.T) {
	payload := make([]byte, FrameSamples)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	for _, tt := range []struct {
		channel int
		seq     uint64
	}{{0, 0}, {1, 0}, {0, 1}, {1, 12345678901}} {
		b := appendMedia([]byte("junk"), tt.channel, tt.seq, payload)
		if !bytes.HasPrefix(b, []byte("junk")) {
			t.Fatalf("appendMedia overwrote the buffer: %q", b[:8])
		}
		b = b[len("junk"):]
		var got MediaEvent
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
		want := MediaEvent{Event: EventMedia, Channel: tt.channel, Seq: tt.seq, TimestampMS: tt.seq * FrameMS, Payload: payload}
		if got.Event != want.Event || got.Channel != want.Channel || got.Seq != want.Seq ||
			got.TimestampMS != want.TimestampMS || !bytes.Equal(got.Payload, want.Payload) {
			t.Fatalf("decoded %+v, want %+v", got, want)
		}
		// encoding/json writes the same bytes: the hand-written form
		// is the canonical one.
		std, _ := json.Marshal(want)
		if !bytes.Equal(b, std) {
			t.Fatalf("appendMedia = %s\njson.Marshal = %s", b, std)
		}
	}
}

func TestEncodeStart(t *testing.T) {
	info := CallInfo{
		CallID: "c1", Number: "+4930111", Caller: "+4917222", Callee: "bob", Direction: "outbound",
		StartedAt: time.Date(2025, 1, 2, 3, 4, 5, 600e6, time.FixedZone("X", 2*3600)),
	}
	var m map[string]any
	if err := json.Unmarshal(encodeStart("s1", info), &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"event": "start", "stream_id": "s1", "call_id": "c1", "number": "+4930111", "caller": "+4917222",
		"callee": "bob", "direction": "outbound", "started_at": "2025-01-02T01:04:05.600Z",
		"media_format": map[string]any{"encoding": "audio/x-mulaw", "sample_rate": 8000.0, "frame_ms": 20.0},
		"channels": []any{
			map[string]any{"index": 0.0, "role": "caller"},
			map[string]any{"index": 1.0, "role": "answering"},
		},
	}
	gotJSON, _ := json.Marshal(m)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Fatalf("start event\n got %s\nwant %s", gotJSON, wantJSON)
	}
}

func TestEncodeStop(t *testing.T) {
	got := string(encodeStop("hangup", 10, 2))
	want := `{"event":"stop","reason":"hangup","frames_sent":10,"frames_dropped":2}`
	if got != want {
		t.Fatalf("stop event %s, want %s", got, want)
	}
}
