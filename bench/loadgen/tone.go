package main

import (
	"fmt"
	"math"
)

// The caller's voice in voicemail runs. The gateway counts a 20 ms frame
// as speech when its level is above -45 dBFS and ends a message after a
// stretch of silence, so a caller streaming digital silence would be cut
// off; a steady tone well above that threshold keeps every message
// recording for the whole hold. 400 Hz fits exactly eight periods into a
// 160-sample frame, so sending the same frame every 20 ms is a continuous
// tone with no click at the frame edges (440 Hz would not line up).
const (
	toneHz   = 400
	toneDBFS = -20.0 // peak level, relative to a full-scale sine
)

// toneFrame returns one 20 ms G.711 frame (frameSamples bytes) of a sine
// at hz with its peak at dbfs relative to full scale, encoded for pt. The
// tone starts at phase 0; hz must be a multiple of 50 for the frame to
// repeat seamlessly.
func toneFrame(pt uint8, hz int, dbfs float64) ([]byte, error) {
	if hz <= 0 || hz >= 4000 || hz%50 != 0 {
		return nil, fmt.Errorf("tone: %d Hz is not a multiple of 50 Hz below 4 kHz", hz)
	}
	if dbfs > 0 || math.IsNaN(dbfs) {
		return nil, fmt.Errorf("tone: level %v dBFS is above full scale", dbfs)
	}
	var encode func(int16) byte
	switch pt {
	case ptPCMU:
		encode = linearToULaw
	case ptPCMA:
		encode = linearToALaw
	default:
		return nil, fmt.Errorf("tone: payload type %d is not G.711", pt)
	}
	amp := math.Pow(10, dbfs/20) * 32767
	frame := make([]byte, frameSamples)
	for i := range frame {
		s := amp * math.Sin(2*math.Pi*float64(hz)*float64(i)/8000)
		frame[i] = encode(int16(math.Round(s)))
	}
	return frame, nil
}

// µ-law constants (ITU-T G.711 §3.2): the bias shifts the segment
// boundaries to powers of two; clip is the largest magnitude that still
// fits after adding it.
const (
	ulawBias = 0x84
	ulawClip = 32635
)

// linearToULaw encodes a 16-bit linear sample as µ-law: sign, 3-bit
// segment and 4-bit step, all bits inverted for transmission (G.711 §3.2).
func linearToULaw(s int16) byte {
	v := int32(s)
	var sign byte
	if v < 0 {
		v = -v
		sign = 0x80
	}
	v = min(v, ulawClip) + ulawBias
	// The segment is the position of the highest set bit above bit 7.
	var seg byte
	for t := v >> 8; t != 0; t >>= 1 {
		seg++
	}
	return ^(sign | seg<<4 | byte(v>>(seg+3))&0x0F)
}

// linearToALaw encodes a 16-bit linear sample as A-law: the 13-bit
// magnitude is segmented and the even bits are inverted with 0x55 for
// transmission (G.711 §3.3). Positive samples carry the sign bit.
func linearToALaw(s int16) byte {
	v := int32(s) >> 3
	mask := byte(0xD5)
	if v < 0 {
		mask = 0x55
		v = -v - 1
	}
	var seg byte
	for t := v >> 5; t != 0 && seg < 8; t >>= 1 {
		seg++
	}
	if seg >= 8 {
		return 0x7F ^ mask // clipped to the largest magnitude
	}
	// Segments 0 and 1 have the same step size (G.711 table 1a).
	a := seg << 4
	if seg < 2 {
		a |= byte(v>>1) & 0x0F
	} else {
		a |= byte(v>>seg) & 0x0F
	}
	return a ^ mask
}
