package contacts

import (
	"math/bits"
	"math/rand/v2"
)

// phoneIndex is a hash table from a phone key (see key) to an entry index.
// It exists instead of a Go map for memory: a map[uint64]uint32 holding two
// million numbers takes about 70 MiB (16-byte slots, tables rounded up to
// powers of two, often half empty), while this table packs each slot into 12
// bytes at a fixed 3/4 load, about 30 MiB. It is written once by New and
// then only read.
//
// Open addressing with linear probing: a lookup reads one run of adjacent
// slots, usually within one or two cache lines. At load 3/4 a hit probes
// about 2.5 slots and a miss about 8.5 on average (Knuth, TAOCP vol. 3,
// §6.4), a few hundred nanoseconds at worst.
type phoneIndex struct {
	slots []slot
	seed  uint64
}

// slot holds a key split in two halves, so the struct is 12 bytes rather
// than a uint64 padded to 16. A zero key marks an empty slot; key never
// returns zero because the digit count is stored in the high bits.
type slot struct {
	keyHi, keyLo uint32
	entry        uint32
}

// newPhoneIndex returns an empty table with room for n keys at load 3/4
// at most, which also guarantees every probe sequence reaches an empty slot.
func newPhoneIndex(n int) phoneIndex {
	// A random seed per table keeps a crafted list of numbers (a CRM import)
	// from piling into one probe run.
	return phoneIndex{slots: make([]slot, n+n/3+1), seed: rand.Uint64()}
}

// home is the slot where k's probe run starts: a 64-bit mix of k scaled to
// the table size by a multiply-high (Lemire's reduction), which needs no
// power-of-two size and so no rounding up of memory.
func (x *phoneIndex) home(k uint64) int {
	h := k ^ x.seed
	// SplitMix64 finaliser: phone keys differ in a few low digits, and this
	// spreads every input bit over the whole word.
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	i, _ := bits.Mul64(h, uint64(len(x.slots)))
	return int(i)
}

// insert adds k with entry e and reports true. When k is already present it
// leaves the table as it was and returns k's entry and false. The caller
// must not insert more keys than newPhoneIndex was sized for.
func (x *phoneIndex) insert(k uint64, e uint32) (uint32, bool) {
	hi, lo := uint32(k>>32), uint32(k)
	for i := x.home(k); ; i++ {
		if i == len(x.slots) {
			i = 0
		}
		s := &x.slots[i]
		switch {
		case s.keyHi == 0 && s.keyLo == 0:
			*s = slot{keyHi: hi, keyLo: lo, entry: e}
			return e, true
		case s.keyHi == hi && s.keyLo == lo:
			return s.entry, false
		}
	}
}

// get returns the entry stored for k.
func (x *phoneIndex) get(k uint64) (uint32, bool) {
	if len(x.slots) == 0 {
		return 0, false
	}
	hi, lo := uint32(k>>32), uint32(k)
	for i := x.home(k); ; i++ {
		if i == len(x.slots) {
			i = 0
		}
		s := &x.slots[i]
		switch {
		case s.keyHi == 0 && s.keyLo == 0:
			return 0, false
		case s.keyHi == hi && s.keyLo == lo:
			return s.entry, true
		}
	}
}
