// Package media moves RTP for calls.
//
// It knows nothing about SIP, calls or numbers: the signalling layer
// negotiates SDP, then hands this package addresses and payload types.
//
//   - PortPool hands out even RTP ports (RTCP on port+1, RFC 3550 §11).
//   - Endpoint is one leg's RTP/RTCP socket pair, with symmetric RTP
//     latching (RFC 4961) toward the far end.
//   - Port is one leg's media as a bridge sees it: an Endpoint, or a
//     WebRTCPeer.
//   - WebRTC answers browsers' offers: DTLS-SRTP peer connections
//     (pion/webrtc) limited to PCMU, PCMA and telephone-event, so a browser
//     leg relays like a SIP one; each WebRTCPeer is a Port.
//   - Bridge relays RTP between two ports: G.711 transcoding in place,
//     RFC 4733 DTMF payload type mapping, and SSRC/sequence/timestamp
//     rewriting so each far end sees one continuous stream for the whole call.
//   - Stats aggregates counters and a relay latency histogram for all bridges
//     of the process, without depending on any metrics library.
//
// The relay path is built for many concurrent calls: one goroutine per
// socket reading into a preallocated buffer, the RTP header parsed in place,
// atomics for counters, and no allocation per packet.
package media
