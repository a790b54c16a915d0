package recorder

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"switchboard/media"
)

// memSink collects the aligner's output frames.
type memSink struct{ frames []int16 }

func (m *memSink) Write(b []int16) error {
	m.frames = append(m.frames, b...)
	return nil
}

// channel returns channel c of the collected stereo frames.
func (m *memSink) channel(c int) []int16 {
	out := make([]int16, 0, len(m.frames)/2)
	for i := c; i < len(m.frames); i += 2 {
		out = append(out, m.frames[i])
	}
	return out
}

// lateMark as a packet's expected position means "must not be placed".
const lateMark = math.MinInt64

// ap is one packet pushed straight into an aligner in a scenario.
type ap struct {
	ch   int
	ts   uint32
	ssrc uint32
	arr  time.Duration // arrival, relative to the scenario's start
	want int64         // expected position (first packet at 0), or lateMark
}

// seqPackets returns count 20 ms packets of one stream starting at packet
// index first: timestamps ts0+160k, arrivals arr0+20ms·k, expected positions
// pos0+160k.
func seqPackets(ch int, ssrc, ts0 uint32, arr0 time.Duration, pos0 int64, count int) []ap {
	out := make([]ap, count)
	for k := range out {
		out[k] = ap{ch: ch, ts: ts0 + uint32(160*k), ssrc: ssrc,
			arr: arr0 + time.Duration(k)*20*time.Millisecond, want: pos0 + int64(160*k)}
	}
	return out
}

// interleave merges packet lists by arrival, stable for equal arrivals.
func interleave(lists ...[]ap) []ap {
	var all []ap
	for _, l := range lists {
		all = append(all, l...)
	}
	slices.SortStableFunc(all, func(a, b ap) int { return cmp.Compare(a.arr, b.arr) })
	return all
}

// payloadFor returns a 160-byte µ-law payload unique to packet i, with no
// byte that decodes to 0 so that misplaced or missing audio always shows.
func payloadFor(i int) []byte {
	rng := rand.New(rand.NewPCG(uint64(i), 7))
	b := make([]byte, 160)
	for k := range b {
		for {
			b[k] = byte(rng.UintN(256))
			if media.ULawToLinear[b[k]] != 0 {
				break
			}
		}
	}
	return b
}

func TestAlignerPlacement(t *testing.T) {
	const s1, s2 = 0x1111, 0x2222
	ms := time.Millisecond
	tests := []struct {
		name string
		pkts []ap
		late int // packets the aligner must report late
	}{
		{name: "in order", pkts: seqPackets(0, s1, 1000, 0, 0, 20)},
		{
			name: "loss leaves silence of the lost length",
			pkts: slices.Concat(seqPackets(0, s1, 1000, 0, 0, 8), seqPackets(0, s1, 1000+160*18, 18*20*ms, 18*160, 8)),
		},
		{
			name: "adjacent packets swapped throughout",
			pkts: func() []ap {
				p := seqPackets(0, s1, 50, 0, 0, 20)
				for i := 0; i+1 < len(p); i += 2 {
					p[i], p[i+1] = p[i+1], p[i]
					p[i].arr, p[i+1].arr = p[i+1].arr, p[i].arr
				}
				return p
			}(),
		},
		{
			name: "timestamps wrap around 2^32",
			pkts: seqPackets(0, s1, math.MaxUint32-800, 0, 0, 20),
		},
		{
			name: "second channel starts 100 ms later by arrival",
			pkts: interleave(seqPackets(0, s1, 7, 0, 0, 20), seqPackets(1, s2, 900000, 100*ms, 800, 15)),
		},
		{
			name: "new SSRC continues the channel seamlessly",
			pkts: slices.Concat(seqPackets(0, s1, 1000, 0, 0, 10), seqPackets(0, s2, 123456789, 200*ms, 1600, 10)),
		},
		{
			name: "new SSRC arriving with jitter still continues seamlessly",
			pkts: slices.Concat(seqPackets(0, s1, 1000, 0, 0, 10), seqPackets(0, s2, 123456789, 235*ms, 1600, 10)),
		},
		{
			name: "new SSRC after a pause starts at its arrival time",
			pkts: slices.Concat(seqPackets(0, s1, 1000, 0, 0, 10), seqPackets(0, s2, 5, 180*ms+2*time.Second, 1440+16000, 10)),
		},
		{
			name: "hold with a frozen clock becomes silence of the hold's length",
			pkts: slices.Concat(seqPackets(0, s1, 1000, 0, 0, 10), seqPackets(0, s1, 1000+1600, 180*ms+3*time.Second, 1440+24000, 10)),
		},
		{
			name: "hold with a running clock longer than the rings",
			pkts: slices.Concat(seqPackets(0, s1, 1000, 0, 0, 10), seqPackets(0, s1, 1000+80000, 10*time.Second, 80000, 10)),
		},
		{
			name: "timestamp leap without time passing continues seamlessly",
			pkts: slices.Concat(seqPackets(0, s1, 1000, 0, 0, 10), seqPackets(0, s1, 1000+3_000_000, 200*ms, 1600, 10)),
		},
		{
			name: "timestamp reset: one packet lost, then seamless",
			pkts: func() []ap {
				p := slices.Concat(seqPackets(0, s1, 4_000_000, 0, 0, 10), seqPackets(0, s1, 1000, 200*ms, 1440, 10))
				p[10].want = lateMark
				return p
			}(),
			late: 1,
		},
		{
			name: "straggler behind the window is late, audio around it intact",
			pkts: func() []ap {
				p := seqPackets(0, s1, 1000, 0, 0, 20)
				straggler := p[5]
				straggler.arr = 250 * ms
				straggler.want = lateMark
				p = slices.Delete(p, 5, 6)
				return interleave(p, []ap{straggler})
			}(),
			late: 1,
		},
		{
			name: "packet two behind lands in place",
			pkts: func() []ap {
				p := seqPackets(0, s1, 1000, 0, 0, 20)
				p[5].arr = 130 * ms
				return interleave(p)
			}(),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := &memSink{}
			a := newAligner(sink)
			var gotLate int
			for i, p := range tc.pkts {
				res, err := a.push(p.ch, &media.ULawToLinear, p.ts, p.ssrc, int64(p.arr), payloadFor(i))
				if err != nil {
					t.Fatal(err)
				}
				if res == late {
					gotLate++
					if p.want != lateMark {
						t.Fatalf("packet %d (ts %d) reported late", i, p.ts)
					}
				}
			}
			if err := a.finish(); err != nil {
				t.Fatal(err)
			}
			if gotLate != tc.late {
				t.Fatalf("%d packets late, want %d", gotLate, tc.late)
			}

			// The expected timeline: every placed packet's samples at its
			// position, silence elsewhere, from the earliest audio on.
			lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
			for _, p := range tc.pkts {
				if p.want != lateMark {
					lo, hi = min(lo, p.want), max(hi, p.want+160)
				}
			}
			want := [2][]int16{make([]int16, hi-lo), make([]int16, hi-lo)}
			for i, p := range tc.pkts {
				if p.want == lateMark {
					continue
				}
				for k, b := range payloadFor(i) {
					want[p.ch][p.want-lo+int64(k)] = media.ULawToLinear[b]
				}
			}
			for c := range 2 {
				got := sink.channel(c)
				if len(got) != len(want[c]) {
					t.Fatalf("channel %d: %d samples, want %d", c, len(got), len(want[c]))
				}
				if i := firstDiff(got, want[c]); i >= 0 {
					t.Fatalf("channel %d differs first at sample %d (%.3f s): got %d, want %d",
						c, i, float64(i)/8000, got[i], want[c][i])
				}
			}
		})
	}
}

func firstDiff(a, b []int16) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// A channel whose network delay grows for good (a route change) would land
// every packet behind what is written; after a few it is re-based onto the
// arrival timeline and heard again, rather than silent for the rest of the call.
func TestAlignerDelayIncreaseRebases(t *testing.T) {
	ms := time.Millisecond
	ch0 := seqPackets(0, 1, 0, 0, 0, 100)
	ch1 := seqPackets(1, 2, 0, 0, 0, 100)
	for k := 30; k < len(ch1); k++ {
		ch1[k].arr += 300 * ms
	}
	pkts := interleave(ch0, ch1)
	sink := &memSink{}
	a := newAligner(sink)
	var lates int
	for i, p := range pkts {
		res, err := a.push(p.ch, &media.ULawToLinear, p.ts, p.ssrc, int64(p.arr), payloadFor(i))
		if err != nil {
			t.Fatal(err)
		}
		if res == late {
			lates++
		}
	}
	if err := a.finish(); err != nil {
		t.Fatal(err)
	}
	if lates != lateRebase-1 {
		t.Fatalf("%d late packets, want %d before the re-base", lates, lateRebase-1)
	}
	// Channel 1's last packet lands by its arrival: 300 ms after channel 0's.
	got := sink.channel(1)
	if len(got) != 16000+2400 {
		t.Fatalf("channel 1 is %d samples, want %d (shifted 300 ms)", len(got), 16000+2400)
	}
	if nz := countZero(got[16000+2400-160:]); nz != 0 {
		t.Fatalf("channel 1's last packet has %d zero samples: not placed at its arrival", nz)
	}
}

func countZero(s []int16) int {
	n := 0
	for _, v := range s {
		if v == 0 {
			n++
		}
	}
	return n
}

// Placing packets allocates nothing, so a recording's memory is fixed however
// long the call and its gaps.
func TestAlignerPushDoesNotAllocate(t *testing.T) {
	a := newAligner(discard{})
	payload := payloadFor(1)
	var ts uint32
	var arr int64
	allocs := testing.AllocsPerRun(1000, func() {
		for c := range 2 {
			if _, err := a.push(c, &media.ULawToLinear, ts, uint32(c), arr, payload); err != nil {
				t.Fatal(err)
			}
		}
		ts += 160
		arr += int64(20 * time.Millisecond)
		if ts%(160*50) == 0 {
			ts += 8000 * 3 // a 3 s gap now and then
			arr += int64(3 * time.Second)
		}
	})
	if allocs != 0 {
		t.Fatalf("push allocates %.1f times per packet pair", allocs)
	}
}

type discard struct{}

func (discard) Write([]int16) error { return nil }
