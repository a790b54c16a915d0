package signaling

import (
	"context"

	"switchboard/media"
)

// Peer is one browser tab's negotiated WebRTC peer connection, as a call leg
// needs it. *media.WebRTCPeer implements it.
type Peer interface {
	media.Port
	// Direction is the negotiated audio payload type and the RFC 4733
	// telephone-event payload type (0 when the browser offered none).
	Direction() media.Direction
	// AddICECandidate adds a candidate the browser trickled: the JSON of an
	// RTCIceCandidateInit.
	AddICECandidate(candidate []byte) error
	// OnLocalCandidate registers f to receive our own candidates (as
	// RTCIceCandidateInit JSON) gathered after the answer was produced.
	OnLocalCandidate(f func(candidate []byte))
	// Done is closed when the peer connection failed or was closed. Silence
	// alone never closes it.
	Done() <-chan struct{}
	// RemoteAddr is the browser's address on the selected candidate pair,
	// for the call record.
	RemoteAddr() string
}

// MediaAnswerer turns a browser's WebRTC offer into a negotiated peer and
// the answer SDP to send back. prefer is the payload type to put first so
// the common path relays without transcoding (zero value: no preference).
type MediaAnswerer interface {
	Answer(ctx context.Context, offer string, prefer media.Direction) (Peer, string, error)
}

// AnswerFunc adapts a function to MediaAnswerer.
type AnswerFunc func(ctx context.Context, offer string, prefer media.Direction) (Peer, string, error)

// Answer implements MediaAnswerer.
func (f AnswerFunc) Answer(ctx context.Context, offer string, prefer media.Direction) (Peer, string, error) {
	return f(ctx, offer, prefer)
}

// AnswerWith adapts an Answer method that returns a concrete peer type, such
// as (*media.WebRTC).Answer, to MediaAnswerer:
//
//	srv := signaling.New(cfg, signaling.AnswerWith(rtc.Answer), log)
//
// It exists because Go does not convert func results to interfaces: a nil
// *media.WebRTCPeer returned with an error must not become a non-nil Peer.
func AnswerWith[P Peer](answer func(ctx context.Context, offer string, prefer media.Direction) (P, string, error)) MediaAnswerer {
	return AnswerFunc(func(ctx context.Context, offer string, prefer media.Direction) (Peer, string, error) {
		p, sdp, err := answer(ctx, offer, prefer)
		if err != nil {
			return nil, "", err
		}
		return p, sdp, nil
	})
}
