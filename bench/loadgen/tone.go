package main

import (
	"fmt"
	"math"

	"switchboard/media"
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
		encode = media.LinearToULaw
	case ptPCMA:
		encode = media.LinearToALaw
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
