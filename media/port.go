package media

// Port is one leg's media as the bridge sees it: a plain RTP socket toward a
// SIP far end (*Endpoint) or a browser's WebRTC peer connection
// (*WebRTCPeer).
type Port interface {
	// ReadRTP blocks for the next RTP packet from the leg and copies it
	// into b, returning its length. It returns an error only when the port
	// is closed or dead; the bridge then stops reading it.
	ReadRTP(b []byte) (int, error)
	// WriteRTP sends one RTP packet to the leg. It must not retain b: the
	// bridge reuses the buffer for the next packet.
	WriteRTP(b []byte) error
	// Close releases the port and unblocks a pending ReadRTP.
	Close() error
}

// Compile-time check that the UDP endpoint is a Port.
var _ Port = (*Endpoint)(nil)
