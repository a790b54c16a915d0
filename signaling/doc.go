// Package signaling is the WebSocket protocol browsers use to sign in, show
// presence, ring, answer and place calls (docs/signaling.md describes it for
// client authors). It turns a browser tab's WebRTC offer into a call leg the
// call engine drives, and implements call.Ringer so the engine can ring a
// user's open tabs. It knows nothing about SIP: the engine connects its legs
// to the phone network.
package signaling
