package contacts

import (
	"testing"
)

func TestPhoneIndexInsertGet(t *testing.T) {
	// Many table sizes, so short probe runs, long ones and wrap-arounds
	// all occur whatever the random seed is.
	for n := 0; n < 200; n++ {
		x := newPhoneIndex(n)
		for i := range n {
			if _, ok := x.insert(testKey(i), uint32(i)); !ok {
				t.Fatalf("n=%d: insert(%d) reported a duplicate", n, i)
			}
		}
		for i := range n {
			if e, ok := x.get(testKey(i)); !ok || e != uint32(i) {
				t.Fatalf("n=%d: get(%d) = %d, %t; want %d, true", n, i, e, ok, i)
			}
			if e, ok := x.insert(testKey(i), 999); ok || e != uint32(i) {
				t.Fatalf("n=%d: second insert(%d) = %d, %t; want %d, false", n, i, e, ok, i)
			}
			if e, _ := x.get(testKey(i)); e != uint32(i) {
				t.Fatalf("n=%d: duplicate insert replaced entry %d with %d", n, i, e)
			}
		}
		for i := n; i < n+50; i++ {
			if e, ok := x.get(testKey(i)); ok {
				t.Fatalf("n=%d: get(absent %d) = %d, true", n, i, e)
			}
		}
	}
}

func TestPhoneIndexWrapsAround(t *testing.T) {
	x := phoneIndex{slots: make([]slot, 4), seed: 0}
	var last []uint64 // keys whose probe run starts at the last slot
	for i := 0; len(last) < 2; i++ {
		if k := testKey(i); x.home(k) == len(x.slots)-1 {
			last = append(last, k)
		}
	}
	for i, k := range last {
		if _, ok := x.insert(k, uint32(i+1)); !ok {
			t.Fatalf("insert(%#x) failed", k)
		}
	}
	if s := x.slots[0]; uint64(s.keyHi)<<32|uint64(s.keyLo) != last[1] || s.entry != 2 {
		t.Errorf("slot 0 = %+v, want the second key wrapped around from the end", s)
	}
	for i, k := range last {
		if e, ok := x.get(k); !ok || e != uint32(i+1) {
			t.Errorf("get(%#x) = %d, %t; want %d", k, e, ok, i+1)
		}
	}
}

func TestPhoneIndexSpreadsKeys(t *testing.T) {
	// Phone numbers differ in their last digits; the hash must still spread
	// them, or probe runs grow long. With load 3/4 and a good hash the mean
	// run for a hit is about 2.5 slots; 4 leaves room for chance.
	const n = 100_000
	x := newPhoneIndex(n)
	for i := range n {
		x.insert(testKey(i), uint32(i))
	}
	probes := 0
	for i := range n {
		k := testKey(i)
		for j := x.home(k); ; j = (j + 1) % len(x.slots) {
			probes++
			if s := x.slots[j]; uint64(s.keyHi)<<32|uint64(s.keyLo) == k {
				break
			}
		}
	}
	if mean := float64(probes) / n; mean > 4 {
		t.Errorf("mean probes per hit = %.2f, want at most 4", mean)
	}
}

func TestPhoneIndexEmpty(t *testing.T) {
	var zero phoneIndex
	if _, ok := zero.get(testKey(1)); ok {
		t.Error("zero index found a key")
	}
}

// testKey is the key of the synthetic number "+4860" + i in seven digits.
func testKey(i int) uint64 {
	k, ok := key(syntheticPhone("+4860", i))
	if !ok {
		panic("bad synthetic phone")
	}
	return k
}
