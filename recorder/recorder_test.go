package recorder

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"switchboard/internal/testaudio"
	"switchboard/media"
	"switchboard/wavfile"
)

const ptCN, ptDTMF = 13, 101

// wavData is a WAV file read back independently of package wavfile.
type wavData struct {
	channels, rate, bits int
	ch                   [2][]int16
}

// readWAV parses a canonical PCM WAV, checking that both size fields match
// the file, and splits it into channels.
func readWAV(t *testing.T, path string) wavData {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 44 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" || string(b[12:16]) != "fmt " ||
		string(b[36:40]) != "data" {
		t.Fatalf("%s: not a canonical WAV header: % x", path, b[:min(len(b), 44)])
	}
	le := binary.LittleEndian
	if le.Uint32(b[16:]) != 16 || le.Uint16(b[20:]) != 1 {
		t.Fatalf("%s: fmt chunk is not 16-byte PCM", path)
	}
	w := wavData{channels: int(le.Uint16(b[22:])), rate: int(le.Uint32(b[24:])), bits: int(le.Uint16(b[34:]))}
	if riff := le.Uint32(b[4:]); int(riff) != len(b)-8 {
		t.Fatalf("%s: RIFF size %d, file has %d bytes", path, riff, len(b))
	}
	if data := le.Uint32(b[40:]); int(data) != len(b)-44 {
		t.Fatalf("%s: data size %d, file has %d audio bytes", path, data, len(b)-44)
	}
	if w.bits != 16 || w.channels < 1 || w.channels > 2 || (len(b)-44)%(2*w.channels) != 0 {
		t.Fatalf("%s: %d channels of %d bits, %d audio bytes", path, w.channels, w.bits, len(b)-44)
	}
	for i := 44; i < len(b); i += 2 {
		c := (i - 44) / 2 % w.channels
		w.ch[c] = append(w.ch[c], int16(le.Uint16(b[i:])))
	}
	return w
}

func encode(pt uint8, s int16) byte {
	if pt == media.PayloadPCMA {
		return media.LinearToALaw(s)
	}
	return media.LinearToULaw(s)
}

// tonePackets returns count 20 ms packets of a -6 dBFS sine at freq on
// channel ch, in payload type pt, arriving every 20 ms from 0.
func tonePackets(ch int, pt uint8, freq float64, count int, ssrc, ts0 uint32) []Packet {
	var phase float64
	pkts := make([]Packet, count)
	for k := range pkts {
		payload := make([]byte, 160)
		for i, s := range testaudio.Sine(freq, 8000, 160, 0.5, &phase) {
			payload[i] = encode(pt, s)
		}
		pkts[k] = Packet{Channel: ch, PT: pt, Seq: uint16(1000 + k), TS: ts0 + uint32(160*k), SSRC: ssrc,
			Arrival: int64(k) * int64(20*time.Millisecond), Payload: payload}
	}
	return pkts
}

// decoded returns the linear audio of in-order packets laid end to end.
func decoded(pkts []Packet) []int16 {
	var out []int16
	for _, p := range pkts {
		law := lawFor(p.PT)
		for _, b := range p.Payload {
			out = append(out, law[b])
		}
	}
	return out
}

// zip interleaves two legs in arrival order (a first on a tie), as a bridge
// relaying both directions offers them.
func zip(a, b []Packet) []Packet {
	out := slices.Concat(a, b)
	slices.SortStableFunc(out, func(p, q Packet) int { return cmp.Compare(p.Arrival, q.Arrival) })
	return out
}

// record runs a recording of pkts, offered in order, and reads the file back.
func record(t *testing.T, cfg Config, pkts []Packet) (Stats, wavData) {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), "call.wav")
	}
	if cfg.QueuePackets == 0 {
		cfg.QueuePackets = len(pkts) + 1 // these tests are about placement, not drops
	}
	r, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range pkts {
		if !r.Offer(&pkts[i]) {
			t.Fatalf("Offer refused packet %d", i)
		}
	}
	st, err := r.Stop()
	if err != nil {
		t.Fatal(err)
	}
	return st, readWAV(t, cfg.Path)
}

func TestRecordTwoTones(t *testing.T) {
	tests := []struct {
		name string
		pt   [2]uint8
	}{
		{"PCMU both", [2]uint8{media.PayloadPCMU, media.PayloadPCMU}},
		{"PCMA both", [2]uint8{media.PayloadPCMA, media.PayloadPCMA}},
		{"PCMU caller, PCMA answerer", [2]uint8{media.PayloadPCMU, media.PayloadPCMA}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			caller := tonePackets(0, tc.pt[0], 440, 100, 0xCA11, 3_000_000_000)
			answer := tonePackets(1, tc.pt[1], 1000, 100, 0xA115, 17)
			path := filepath.Join(t.TempDir(), "call.wav")
			// All 200 packets are offered at once, faster than real time.
			r, err := Start(Config{Path: path, QueuePackets: 256})
			if err != nil {
				t.Fatal(err)
			}
			// Both directions offer concurrently, as the bridge's two relay
			// goroutines do, kept in step packet by packet.
			for k := range caller {
				var wg sync.WaitGroup
				for _, p := range []*Packet{&caller[k], &answer[k]} {
					wg.Go(func() {
						if !r.Offer(p) {
							t.Errorf("Offer refused channel %d packet %d", p.Channel, k)
						}
					})
				}
				wg.Wait()
			}
			st, err := r.Stop()
			if err != nil {
				t.Fatal(err)
			}
			w := readWAV(t, path)
			if w.channels != 2 || w.rate != 8000 || w.bits != 16 {
				t.Fatalf("format %d ch %d Hz %d bit, want stereo 8000 Hz 16 bit", w.channels, w.rate, w.bits)
			}
			dur := time.Duration(len(w.ch[0])) * time.Second / 8000
			if d := dur - 2*time.Second; d < -40*time.Millisecond || d > 40*time.Millisecond {
				t.Fatalf("duration %v, want 2s ± 40ms", dur)
			}
			if st.Duration != dur || st.Frames != int64(len(w.ch[0])) || st.Bytes != int64(44+4*len(w.ch[0])) {
				t.Fatalf("stats %+v disagree with the file (%d frames)", st, len(w.ch[0]))
			}
			if st.Packets != 200 || st.Dropped != 0 || st.Late != 0 || st.Ignored != 0 {
				t.Fatalf("stats %+v, want 200 packets, none dropped, late or ignored", st)
			}
			for c, f := range []float64{440, 1000} {
				other := []float64{1000, 440}[c]
				if got := testaudio.DominantFrequency(w.ch[c], 8000, 100, 3500, 5); math.Abs(got-f) > 5 {
					t.Errorf("channel %d dominant %.0f Hz, want %.0f", c, got, f)
				}
				if lvl := testaudio.ToneLevelDBFS(w.ch[c], 8000, f); lvl < -7.5 || lvl > -4.5 {
					t.Errorf("channel %d: %.0f Hz at %.1f dBFS, want about -6", c, f, lvl)
				}
				if lvl := testaudio.ToneLevelDBFS(w.ch[c], 8000, other); lvl > -40 {
					t.Errorf("channel %d: the other channel's %.0f Hz leaks in at %.1f dBFS", c, other, lvl)
				}
			}
		})
	}
}

// longestZeroRun returns the start and length of the longest run of zeros.
func longestZeroRun(s []int16) (start, length int) {
	run := 0
	for i, v := range s {
		if v != 0 {
			run = 0
			continue
		}
		if run++; run > length {
			start, length = i-run+1, run
		}
	}
	return start, length
}

func TestRecordLossBecomesSilence(t *testing.T) {
	caller := tonePackets(0, media.PayloadPCMU, 440, 100, 1, 0)
	answer := tonePackets(1, media.PayloadPCMU, 1000, 100, 2, 0)
	lost := slices.Concat(caller[:45], caller[55:]) // 200 ms lost mid-call
	st, w := record(t, Config{}, zip(lost, answer))
	if len(w.ch[0]) != 16000 || len(w.ch[1]) != 16000 {
		t.Fatalf("channels %d and %d samples, want 16000 (2 s) each", len(w.ch[0]), len(w.ch[1]))
	}
	start, n := longestZeroRun(w.ch[0])
	if n < 1600 || n > 1610 || start < 7195 || start > 7200 {
		t.Fatalf("longest silence on channel 0: %d samples at %d, want ~1600 (200 ms) at 7200", n, start)
	}
	want := decoded(caller)
	if firstDiff(w.ch[0][:7200], want[:7200]) >= 0 || firstDiff(w.ch[0][8800:], want[8800:]) >= 0 {
		t.Fatal("audio around the loss is not where it was sent")
	}
	if _, n := longestZeroRun(w.ch[1]); n > 2 {
		t.Fatalf("channel 1 has %d zeros in a row; the loss on channel 0 leaked across", n)
	}
	if st.Late != 0 {
		t.Fatalf("%d late packets", st.Late)
	}
}

// maxJump returns the largest difference between consecutive samples.
func maxJump(s []int16) int {
	m := 0
	for i := 1; i < len(s); i++ {
		m = max(m, int(math.Abs(float64(s[i])-float64(s[i-1]))))
	}
	return m
}

func TestRecordReorderedLandsInPlace(t *testing.T) {
	caller := tonePackets(0, media.PayloadPCMU, 440, 100, 1, 500)
	answer := tonePackets(1, media.PayloadPCMA, 1000, 100, 2, 9_000)
	_, inOrder := record(t, Config{}, zip(caller, answer))

	swapped := func(in []Packet) []Packet {
		out := slices.Clone(in)
		for k := 0; k+1 < len(out); k += 2 {
			out[k], out[k+1] = out[k+1], out[k]
			out[k].Arrival, out[k+1].Arrival = out[k+1].Arrival, out[k].Arrival // arrival follows delivery
		}
		return out
	}
	st, got := record(t, Config{}, zip(swapped(caller), swapped(answer)))
	for c := range 2 {
		if i := firstDiff(got.ch[c], inOrder.ch[c]); i >= 0 {
			t.Fatalf("channel %d differs from the in-order recording at sample %d", c, i)
		}
	}
	// A 440 Hz sine at amplitude 16384 moves at most ~5700 per sample; a
	// misplaced packet would jump much further.
	if j := maxJump(got.ch[0]); j > 7000 {
		t.Fatalf("discontinuity of %d between samples", j)
	}
	if len(got.ch[0]) != 16000 || st.Late != 0 {
		t.Fatalf("%d frames, %d late; want 16000, 0", len(got.ch[0]), st.Late)
	}
}

func TestRecordIgnoresComfortNoiseAndDTMF(t *testing.T) {
	caller := tonePackets(0, media.PayloadPCMU, 440, 100, 1, 0)
	answer := tonePackets(1, media.PayloadPCMU, 1000, 100, 2, 0)
	clean := zip(caller, answer)
	_, want := record(t, Config{}, clean)

	var mixed []Packet
	var extra uint64
	for i, p := range clean {
		mixed = append(mixed, p)
		k := i / 2
		switch {
		case p.Channel == 0 && k%10 == 3:
			// RFC 3389 comfort noise: one noise-level byte, same stream.
			mixed = append(mixed, Packet{Channel: 0, PT: ptCN, TS: p.TS + 160, SSRC: p.SSRC, Arrival: p.Arrival, Payload: []byte{0x40}})
			extra++
		case p.Channel == 1 && k >= 40 && k < 46:
			// RFC 4733 §2.5.1: every packet of an event carries the event's
			// start timestamp; the last three repeat the end bit.
			ev := []byte{5, 10, 0, byte(160 * (k - 39))}
			if k >= 43 {
				ev[1] |= 0x80
			}
			mixed = append(mixed, Packet{Channel: 1, PT: ptDTMF, TS: answer[40].TS, SSRC: p.SSRC, Marker: k == 40,
				Arrival: p.Arrival, Payload: ev})
			extra++
		}
	}
	st, got := record(t, Config{}, mixed)
	for c := range 2 {
		if i := firstDiff(got.ch[c], want.ch[c]); i >= 0 {
			t.Fatalf("channel %d changed at sample %d by CN/DTMF packets", c, i)
		}
	}
	if st.Ignored != extra || st.Packets != 200+extra {
		t.Fatalf("stats %+v, want %d ignored of %d", st, extra, 200+extra)
	}
}

func TestRecordPreludeAtStart(t *testing.T) {
	announcement := testaudio.Sine(600, 8000, 8000, 0.3, nil) // 1 s
	caller := tonePackets(0, media.PayloadPCMU, 440, 100, 1, 0)
	answer := tonePackets(1, media.PayloadPCMU, 1000, 100, 2, 0)
	st, w := record(t, Config{Prelude: [2][]int16{nil, announcement}}, zip(caller, answer))
	if len(w.ch[0]) != 24000 || st.Frames != 24000 {
		t.Fatalf("%d frames (stats %d), want 24000: 1 s prelude + 2 s call", len(w.ch[0]), st.Frames)
	}
	if i := firstDiff(w.ch[1][:8000], announcement); i >= 0 {
		t.Fatalf("the announcement differs at sample %d", i)
	}
	if _, n := longestZeroRun(w.ch[0][:8000]); n != 8000 {
		t.Fatal("channel 0 is not silent during the announcement")
	}
	// The live audio follows the announcement at once, sample-exact.
	for c, pkts := range [][]Packet{caller, answer} {
		if i := firstDiff(w.ch[c][8000:], decoded(pkts)); i >= 0 {
			t.Fatalf("channel %d's live audio differs at sample %d after the prelude", c, i)
		}
	}
}

// waitFor polls cond, which observes the file on disk, until it holds.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// headerFrames returns the frames the file's header claims, or -1.
func headerFrames(path string) int64 {
	_, _, frames, err := wavfile.Info(path)
	if err != nil {
		return -1
	}
	return frames
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRecordCrashLeavesRepairableFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "call.wav")
	r, err := Start(Config{Path: path, FlushEvery: 200 * time.Millisecond, QueuePackets: 256})
	if err != nil {
		t.Fatal(err)
	}
	caller := tonePackets(0, media.PayloadPCMU, 440, 100, 1, 0)
	pkts := zip(caller, tonePackets(1, media.PayloadPCMU, 1000, 100, 2, 0))
	for i := range pkts {
		if !r.Offer(&pkts[i]) {
			t.Fatalf("Offer refused packet %d", i)
		}
	}
	// Everything but the 60 ms reordering window reaches the file, header
	// included, at the next flush, while the call goes on.
	settled := int64(16000 - jitterWindow)
	waitFor(t, 5*time.Second, "a flush", func() bool { return headerFrames(path) >= settled })

	// The crash: the process dies now, so the file stays as it is on disk.
	crashed := filepath.Join(dir, "crashed.wav")
	copyFile(t, path, crashed)
	dur, err := wavfile.Repair(crashed)
	if err != nil {
		t.Fatal(err)
	}
	if dur < time.Second {
		t.Fatalf("repaired file holds %v, want >= 1s", dur)
	}
	w := readWAV(t, crashed)
	if i := firstDiff(w.ch[0], decoded(caller)[:len(w.ch[0])]); i >= 0 {
		t.Fatalf("repaired audio differs at sample %d", i)
	}
	if _, err := r.Stop(); err != nil {
		t.Fatal(err)
	}
}

// TestRecordSurvivesKill9 records paced, real-time audio in a child process,
// kills it with SIGKILL mid-call and repairs what it left: at most about
// FlushEvery (1 s) before the kill may be missing.
func TestRecordSurvivesKill9(t *testing.T) {
	if path := os.Getenv("RECORDER_KILL9_CHILD"); path != "" {
		killChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), "call.wav")
	cmd := exec.Command(os.Args[0], "-test.run=^TestRecordSurvivesKill9$")
	cmd.Env = append(os.Environ(), "RECORDER_KILL9_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	// The child says when its first packet goes out.
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	if line != "started\n" {
		t.Fatalf("child said %q", line)
	}
	started := time.Now()
	time.Sleep(2500 * time.Millisecond) // the call runs; the kill comes at an arbitrary moment
	if err := cmd.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	killedAfter := time.Since(started)
	var exit *exec.ExitError
	if err := cmd.Wait(); !errors.As(err, &exit) {
		t.Fatalf("child exit: %v, want killed", err)
	}

	dur, err := wavfile.Repair(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed after %v of the call; the repaired file holds %v", killedAfter, dur)
	// Lost: at most FlushEvery since the last flush plus the reordering
	// window, and some scheduling slack for a loaded test machine.
	if minimum := killedAfter - DefaultFlushEvery - 400*time.Millisecond; dur < minimum {
		t.Fatalf("after kill -9 at %v the file holds %v, want >= %v", killedAfter, dur, minimum)
	}
	w := readWAV(t, path)
	if f := testaudio.DominantFrequency(w.ch[0], 8000, 100, 3500, 5); math.Abs(f-440) > 5 {
		t.Fatalf("channel 0 dominant %.0f Hz after repair, want 440", f)
	}
	if f := testaudio.DominantFrequency(w.ch[1], 8000, 100, 3500, 5); math.Abs(f-1000) > 5 {
		t.Fatalf("channel 1 dominant %.0f Hz after repair, want 1000", f)
	}
}

// killChild is the process TestRecordSurvivesKill9 kills: it relays 20 ms
// packets of both legs in real time until it is killed.
func killChild(path string) {
	r, err := Start(Config{Path: path})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	caller := tonePackets(0, media.PayloadPCMU, 440, 1000, 1, 0)
	answer := tonePackets(1, media.PayloadPCMU, 1000, 1000, 2, 0)
	epoch := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	fmt.Println("started")
	for k := range caller {
		now := int64(time.Since(epoch))
		caller[k].Arrival, answer[k].Arrival = now, now
		r.Offer(&caller[k])
		r.Offer(&answer[k])
		<-tick.C
	}
	os.Exit(3) // 20 s without being killed
}

func TestOfferNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	stalled := make(chan struct{}, 1)
	r, err := Start(Config{
		Path:         filepath.Join(t.TempDir(), "call.wav"),
		QueuePackets: 4,
		beforeDrain: func() {
			select {
			case stalled <- struct{}{}:
			default:
			}
			<-release // the disk hangs
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	pkts := tonePackets(0, media.PayloadPCMU, 440, 10, 1, 0)
	if !r.Offer(&pkts[0]) {
		t.Fatal("first Offer refused")
	}
	<-stalled // the writer woke for the first packet and is stuck
	for i := 1; i < 4; i++ {
		if !r.Offer(&pkts[i]) {
			t.Fatalf("Offer %d refused with room in the queue", i)
		}
	}
	for i := 4; i < 10; i++ {
		done := make(chan bool)
		go func() { done <- r.Offer(&pkts[i]) }()
		select {
		case ok := <-done:
			if ok {
				t.Fatalf("Offer %d accepted into a full queue", i)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Offer blocked on a stalled writer")
		}
	}
	if st := r.Stats(); st.Dropped != 6 || st.Packets != 4 {
		t.Fatalf("stats %+v, want 6 dropped, 4 queued", st)
	}
	close(release)
	st, err := r.Stop()
	if err != nil {
		t.Fatal(err)
	}
	// The queued packets are recorded once the disk is back.
	if st.Frames != 4*160 || st.Dropped != 6 {
		t.Fatalf("stats %+v, want the 4 queued packets (640 frames) recorded", st)
	}
}

func TestOfferRefuses(t *testing.T) {
	r, err := Start(Config{Path: filepath.Join(t.TempDir(), "call.wav")})
	if err != nil {
		t.Fatal(err)
	}
	good := tonePackets(0, media.PayloadPCMU, 440, 1, 1, 0)[0]
	tests := []struct {
		name string
		p    Packet
	}{
		{"payload over MaxPayload", Packet{Channel: 0, Payload: make([]byte, MaxPayload+1)}},
		{"channel 2", Packet{Channel: 2, Payload: good.Payload}},
		{"channel -1", Packet{Channel: -1, Payload: good.Payload}},
	}
	for i, tc := range tests {
		if r.Offer(&tc.p) {
			t.Errorf("%s: accepted", tc.name)
		}
		if got := r.Stats().Dropped; got != uint64(i+1) {
			t.Errorf("%s: Dropped %d, want %d", tc.name, got, i+1)
		}
	}
	full := good
	full.Payload = make([]byte, MaxPayload)
	if !r.Offer(&full) {
		t.Error("a MaxPayload packet was refused")
	}
	st1, err1 := r.Stop()
	if err1 != nil {
		t.Fatal(err1)
	}
	if r.Offer(&good) {
		t.Error("Offer after Stop accepted")
	}
	st2, err2 := r.Stop()
	if st2 != st1 || err2 != nil {
		t.Fatalf("second Stop = %+v, %v; want %+v, nil", st2, err2, st1)
	}
	if st1.Frames != MaxPayload {
		t.Fatalf("%d frames, want %d", st1.Frames, MaxPayload)
	}
}

// Many producers contend for a small queue: every packet is either taken or
// counted as dropped, and every packet taken is processed.
func TestOfferConcurrentAccounting(t *testing.T) {
	r, err := Start(Config{Path: filepath.Join(t.TempDir(), "call.wav"), QueuePackets: 8})
	if err != nil {
		t.Fatal(err)
	}
	const producers, each = 4, 2000
	var wg sync.WaitGroup
	var accepted [producers]uint64
	for g := range producers {
		wg.Go(func() {
			p := Packet{Channel: g % 2, PT: ptCN, SSRC: uint32(g), Payload: []byte{0x40}}
			for k := range each {
				p.Seq, p.TS = uint16(k), uint32(160*k)
				if r.Offer(&p) {
					accepted[g]++
				}
			}
		})
	}
	wg.Wait()
	st, err := r.Stop()
	if err != nil {
		t.Fatal(err)
	}
	var sum uint64
	for _, a := range accepted {
		sum += a
	}
	if st.Packets != sum || st.Packets+st.Dropped != producers*each || st.Ignored != sum {
		t.Fatalf("stats %+v; %d accepted of %d", st, sum, producers*each)
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no path", Config{}},
		{"negative queue", Config{Path: filepath.Join(dir, "b.wav"), QueuePackets: -1}},
		{"negative flush interval", Config{Path: filepath.Join(dir, "c.wav"), FlushEvery: -time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Start(tc.cfg); !errors.Is(err, ErrConfig) {
				t.Fatalf("Start = %v, want ErrConfig", err)
			}
		})
	}
	// A path that cannot be created is an I/O error, not a config error.
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(Config{Path: filepath.Join(blocker, "x.wav")}); err == nil || errors.Is(err, ErrConfig) {
		t.Fatalf("Start under a regular file = %v, want an I/O error", err)
	}
}

// BenchmarkOffer measures what recording a packet costs the relay: Offer
// copying it into the queue. The queue is emptied between timed bursts (the
// writer is not running), so every timed Offer takes the accepting path.
func BenchmarkOffer(b *testing.B) {
	r, err := newRecorder(Config{Path: filepath.Join(b.TempDir(), "call.wav")})
	if err != nil {
		b.Fatal(err)
	}
	defer r.wf.Close()
	p := tonePackets(0, media.PayloadPCMU, 440, 1, 1, 0)[0] // 20 ms of audio, copied whole
	var full uint64
	b.ReportAllocs()
	for b.Loop() {
		if !r.Offer(&p) {
			full++
			b.StopTimer()
			for r.drain() {
			}
			b.StartTimer()
			if !r.Offer(&p) {
				b.Fatal("Offer refused into an empty queue")
			}
		}
		// The packet repeats one position, so the untimed draining
		// writes next to nothing however long the benchmark runs.
	}
	if st := r.Stats(); st.Dropped != full {
		b.Fatalf("%d dropped, %d of them with the queue full", st.Dropped, full)
	}
}

// BenchmarkOfferLiveWriter offers both legs' packets as fast as possible while
// the writer takes them concurrently, so most offers find the queue full: the
// cost of both paths, and of sharing the queue with the writer. The writer
// decodes and places every packet it takes; the packets repeat one position,
// so the file stays small however long the benchmark runs.
func BenchmarkOfferLiveWriter(b *testing.B) {
	r, err := Start(Config{Path: filepath.Join(b.TempDir(), "call.wav")})
	if err != nil {
		b.Fatal(err)
	}
	pkts := [2]Packet{
		tonePackets(0, media.PayloadPCMU, 440, 1, 1, 0)[0],
		tonePackets(1, media.PayloadPCMU, 1000, 1, 2, 0)[0],
	}
	var accepted, i int
	b.ReportAllocs()
	for b.Loop() {
		if r.Offer(&pkts[i&1]) {
			accepted++
		}
		i++
	}
	b.ReportMetric(float64(accepted)/float64(i)*100, "%accepted")
	if _, err := r.Stop(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkOfferParallel is BenchmarkOfferLiveWriter with producers on every
// CPU contending for the queue's tail.
func BenchmarkOfferParallel(b *testing.B) {
	r, err := Start(Config{Path: filepath.Join(b.TempDir(), "call.wav")})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		p := tonePackets(0, media.PayloadPCMU, 440, 1, 1, 0)[0]
		for pb.Next() {
			r.Offer(&p)
		}
	})
	if st, err := r.Stop(); err != nil || st.Frames != 160 {
		b.Fatalf("Stop = %+v, %v", st, err)
	}
}

// BenchmarkWriterCallSecond measures the writer's work for one second of a
// call: 50 packets a leg offered, taken off the queue, decoded, placed and
// written, and the once-a-second flush. It is the CPU a recording adds per
// call-second beyond the relay's copies (BenchmarkOffer).
func BenchmarkWriterCallSecond(b *testing.B) {
	r, err := newRecorder(Config{Path: filepath.Join(b.TempDir(), "call.wav")})
	if err != nil {
		b.Fatal(err)
	}
	defer r.wf.Close()
	legs := [2]Packet{
		tonePackets(0, media.PayloadPCMU, 440, 1, 1, 0)[0],
		tonePackets(1, media.PayloadPCMU, 1000, 1, 2, 5000)[0],
	}
	b.ReportAllocs()
	var sec int
	for b.Loop() {
		if sec++; sec%300 == 0 {
			// A new five-minute call: a file growing without end would
			// measure the page cache's writeback, not the recorder.
			b.StopTimer()
			if err := r.wf.Truncate(0); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		for range 10 { // ten drains of 100 ms
			for range 5 {
				for c := range legs {
					if !r.Offer(&legs[c]) {
						b.Fatal("queue full")
					}
					legs[c].TS += 160
					legs[c].Arrival += int64(20 * time.Millisecond)
				}
			}
			for r.drain() {
			}
		}
		if err := r.wf.Flush(); err != nil {
			b.Fatal(err)
		}
		if r.err != nil {
			b.Fatal(r.err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/packet")
}
