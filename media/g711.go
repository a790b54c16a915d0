package media

// G.711 (ITU-T G.711) µ-law and A-law companding.
//
// The decode tables give 16-bit linear samples (µ-law peaks at ±32124,
// A-law at ±32256). The direct µ-law<->A-law tables are built by going
// through linear, which is what the relay uses to transcode a payload in
// place: one table lookup per byte, the packet keeps its length.

// ULawToLinear decodes a µ-law byte to a 16-bit linear sample.
var ULawToLinear [256]int16

// ALawToLinear decodes an A-law byte to a 16-bit linear sample.
var ALawToLinear [256]int16

// ULawToALaw transcodes a µ-law byte to the A-law byte of the nearest level.
var ULawToALaw [256]byte

// ALawToULaw transcodes an A-law byte to the µ-law byte of the nearest level.
var ALawToULaw [256]byte

func init() {
	for i := range 256 {
		ULawToLinear[i] = decodeULaw(byte(i))
		ALawToLinear[i] = decodeALaw(byte(i))
	}
	for i := range 256 {
		ULawToALaw[i] = LinearToALaw(ULawToLinear[i])
		ALawToULaw[i] = LinearToULaw(ALawToLinear[i])
	}
}

const (
	ulawBias = 0x84  // 132: shifts the segment boundaries to powers of two
	ulawClip = 32635 // largest magnitude that still fits after adding the bias
)

// LinearToULaw encodes a 16-bit linear sample as µ-law (G.711 §3.2: sign,
// 3-bit segment, 4-bit step, all bits inverted for transmission).
func LinearToULaw(s int16) byte {
	v := int32(s)
	var sign byte
	if v < 0 {
		v = -v
		sign = 0x80
	}
	v = min(v, ulawClip) + ulawBias
	// Segment = position of the highest set bit above bit 7 (v >= 132 > 128).
	seg := byte(0)
	for t := v >> 8; t != 0; t >>= 1 {
		seg++
	}
	mant := byte(v>>(seg+3)) & 0x0f
	return ^(sign | seg<<4 | mant)
}

func decodeULaw(u byte) int16 {
	u = ^u
	seg := (u >> 4) & 0x07
	mant := int32(u & 0x0f)
	// Reconstruct at the middle of the step (the +bias carries the half step).
	v := ((mant << 3) + ulawBias) << seg
	v -= ulawBias
	if u&0x80 != 0 {
		return int16(-v)
	}
	return int16(v)
}

// LinearToALaw encodes a 16-bit linear sample as A-law (G.711 §3.3: the
// 13-bit magnitude is segmented, and even bits are inverted for
// transmission with 0x55).
func LinearToALaw(s int16) byte {
	v := int32(s) >> 3 // A-law works on 13 bits
	mask := byte(0xd5) // sign bit set for positive samples
	if v < 0 {
		mask = 0x55
		v = -v - 1
	}
	seg := byte(0)
	for t := v >> 5; t != 0 && seg < 8; t >>= 1 {
		seg++
	}
	if seg >= 8 {
		return 0x7f ^ mask
	}
	// Segments 0 and 1 share the same step size (G.711 Table 1a); the
	// segment number tells them apart.
	a := seg << 4
	if seg < 2 {
		a |= byte(v>>1) & 0x0f
	} else {
		a |= byte(v>>seg) & 0x0f
	}
	return a ^ mask
}

func decodeALaw(a byte) int16 {
	a ^= 0x55
	t := int32(a&0x0f) << 4
	seg := (a & 0x70) >> 4
	switch seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}
