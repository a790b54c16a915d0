package ivr

import "switchboard/media"

// FrameSamples is the number of 8 kHz samples in one 20 ms RTP packet, the
// default packetisation for PCMU/PCMA (RFC 3551 §4.5).
const FrameSamples = media.ClockRate / 50

// EncodeFrames encodes 8 kHz mono samples as G.711 payloads of FrameSamples
// bytes each, for payloadType media.PayloadPCMU (0) or media.PayloadPCMA (8).
// The last frame is padded with encoded silence so every packet carries
// exactly 20 ms and the RTP timestamp advances evenly. Prompts are encoded
// once per codec and shared by every leg that plays them, so the frames share
// one backing array and must not be modified. Other payload types, and empty
// input, return nil.
func EncodeFrames(samples []int16, payloadType uint8) [][]byte {
	var encode func(int16) byte
	switch payloadType {
	case media.PayloadPCMU:
		encode = media.LinearToULaw
	case media.PayloadPCMA:
		encode = media.LinearToALaw
	default:
		return nil
	}
	if len(samples) == 0 {
		return nil
	}
	n := (len(samples) + FrameSamples - 1) / FrameSamples
	buf := make([]byte, n*FrameSamples)
	for i, s := range samples {
		buf[i] = encode(s)
	}
	silence := encode(0)
	for i := len(samples); i < len(buf); i++ {
		buf[i] = silence
	}
	frames := make([][]byte, n)
	for i := range frames {
		frames[i] = buf[i*FrameSamples : (i+1)*FrameSamples : (i+1)*FrameSamples]
	}
	return frames
}
