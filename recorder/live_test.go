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

// Test60msPacketsTakeThreeSlots: a 60 ms packet is queued as three 20 ms
// parts and recorded exactly as the same audio in 20 ms packets; a queue
// without room for all three parts refuses the packet whole.
func Test60msPacketsTakeThreeSlots(t *testing.T) {
	short := tonePackets(0, media.PayloadPCMA, 440, 30, 7, 1000)
	var long []Packet
	for k := 0; k < len(short); k += 3 {
		p := short[k]
		p.Payload = slices.Concat(short[k].Payload, short[k+1].Payload, short[k+2].Payload)
		long = append(long, p)
	}
	_, want := record(t, Config{}, short)
	st, got := record(t, Config{QueuePackets: 3 * len(long)}, long)
	if st.Packets != uint64(len(long)) || st.Dropped != 0 {
		t.Fatalf("stats %+v, want %d packets, none dropped", st, len(long))
	}
	if i := firstDiff(got.ch[0], want.ch[0]); i >= 0 || len(got.ch[0]) != len(want.ch[0]) {
		t.Fatalf("60 ms packets recorded differently from 20 ms ones (first difference at %d, lengths %d/%d)",
			i, len(got.ch[0]), len(want.ch[0]))
	}

	r, err := newRecorder(Config{Path: filepath.Join(t.TempDir(), "call.wav"), QueuePackets: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer r.wf.Close()
	if !r.Offer(&long[0]) {
		t.Fatal("a 60 ms packet was refused by an empty 4-slot queue")
	}
	if r.Offer(&long[1]) {
		t.Fatal("a 60 ms packet was taken by a queue with one free slot")
	}
	if !r.Offer(&short[0]) {
		t.Fatal("a 20 ms packet was refused with one slot free")
	}
	if st := r.Stats(); st.Packets != 2 || st.Dropped != 1 {
		t.Fatalf("stats %+v, want 2 taken and 1 dropped", st)
	}
}
