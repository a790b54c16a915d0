package recorder

import (
	"math"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"switchboard/internal/testaudio"
	"switchboard/media"
)

// TestRecordCodecChangeMidCall switches the caller from PCMU to PCMA halfway,
// as a re-INVITE may: the second half is recorded, decoded with its own law,
// on the same timeline.
func TestRecordCodecChangeMidCall(t *testing.T) {
	caller := tonePackets(0, media.PayloadPCMU, 440, 100, 1, 0)
	pcma := tonePackets(0, media.PayloadPCMA, 440, 100, 1, 0)
	copy(caller[50:], pcma[50:]) // same SSRC, timestamps and arrivals; A-law from packet 50
	answer := tonePackets(1, media.PayloadPCMU, 1000, 100, 2, 0)
	st, got := record(t, Config{}, zip(caller, answer))
	if st.Ignored != 0 {
		t.Fatalf("%d packets ignored after the codec change, want 0", st.Ignored)
	}
	if i := firstDiff(got.ch[0], decoded(caller)); i >= 0 {
		t.Fatalf("caller channel differs from the decoded packets at sample %d", i)
	}
	second := got.ch[0][8000:16000]
	if f := testaudio.DominantFrequency(second, 8000, 100, 3500, 5); math.Abs(f-440) > 5 {
		t.Fatalf("after the switch to PCMA the caller channel's tone is %.0f Hz, want 440", f)
	}
	if lvl := testaudio.ToneLevelDBFS(second, 8000, 440); lvl < -7.5 {
		t.Fatalf("after the switch to PCMA the 440 Hz level is %.1f dBFS, want about -6", lvl)
	}
}

// liveRecorder is a LiveSink that keeps everything it is given.
type liveRecorder struct {
	mu     sync.Mutex
	frames []int16
	calls  int
}

func (l *liveRecorder) Audio(interleaved []int16) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.frames = append(l.frames, interleaved...)
	l.calls++
}

// TestLiveSinkGetsTheFileAudio: the live sink receives exactly the audio the
// file holds after the prelude, aligned and interleaved the same way.
func TestLiveSinkGetsTheFileAudio(t *testing.T) {
	live := &liveRecorder{}
	caller := tonePackets(0, media.PayloadPCMU, 440, 100, 1, 0)
	answer := tonePackets(1, media.PayloadPCMA, 1000, 100, 2, 77)
	prelude := make([]int16, 4000)
	for i := range prelude {
		prelude[i] = int16(i % 100)
	}
	cfg := Config{Path: filepath.Join(t.TempDir(), "call.wav"), Live: live, Prelude: [2][]int16{nil, prelude}}
	st, got := record(t, cfg, zip(caller, answer))
	if st.Frames != 4000+16000 {
		t.Fatalf("file holds %d frames, want 20000", st.Frames)
	}
	if live.calls == 0 {
		t.Fatal("the live sink was never called")
	}
	if len(live.frames) != 2*16000 {
		t.Fatalf("live sink got %d frames, want 16000 (the call, without the prelude)", len(live.frames)/2)
	}
	var ch [2][]int16
	for i := 0; i < len(live.frames); i += 2 {
		ch[0] = append(ch[0], live.frames[i])
		ch[1] = append(ch[1], live.frames[i+1])
	}
	for c := range 2 {
		if !slices.Equal(ch[c], got.ch[c][4000:]) {
			t.Fatalf("live channel %d differs from the file after the prelude", c)
		}
	}
}
