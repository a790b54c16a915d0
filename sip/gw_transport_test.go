package sip_test

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"switchboard/store"
)

// TestGatewayCallerTCPGoneBefore200 has a trunk place its call over TCP and
// drop the connection while the call rings. When the callee answers, the
// gateway's 200 cannot be delivered (RFC 3261 §18.2.2: the UAS may try a new
// connection to the Via address, which refuses it). The caller leg is lost:
// the gateway must end the callee's answered dialog with BYE, close the
// record as failed, and keep serving.
//
// This file sorts after the others on purpose: if the gateway crashes here,
// the other tests have already reported.
func TestGatewayCallerTCPGoneBefore200(t *testing.T) {
	g := startGateway(t, gwOptions{})
	g.callee.autoRespond("BYE", 200)
	conn, err := net.Dial("tcp4", g.addr.String())
	if err != nil {
		t.Fatalf("dial the gateway over TCP: %v", err)
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	callerRTP, calleeRTP := newRTPPeer(t), newRTPPeer(t)
	invite := request{
		Method: "INVITE", URI: "sip:" + ourNumber + "@" + g.addr.String() + ";transport=tcp", Via: local, Branch: newBranch(),
		From: "<sip:+15557770123@127.0.0.1>;tag=" + newTag(), To: "<sip:" + ourNumber + "@" + g.addr.String() + ">",
		CallID: newID(10), CSeq: 1, Contact: "<sip:trunk@" + local + ";transport=tcp>",
		Body: sdpOffer(callerRTP.port, "sendrecv", 0, 101),
	}.text()
	invite = strings.Replace(invite, "SIP/2.0/UDP", "SIP/2.0/TCP", 1)
	if _, err := conn.Write([]byte(invite)); err != nil {
		t.Fatalf("write INVITE: %v", err)
	}

	callee := g.callee.expectInvite(5 * time.Second)
	callee.respond(180, "")
	// Read the stream until the 180 has been relayed, then hang up the link.
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewReader(conn)
	for {
		line, err := lines.ReadString('\n')
		if err != nil {
			t.Fatalf("no 180 on the TCP connection: %v", err)
		}
		if strings.HasPrefix(line, "SIP/2.0 180") {
			break
		}
	}
	conn.Close()

	callee.respond(200, sdpOffer(calleeRTP.port, "sendrecv", 0, 101))
	expectAckThenBye(t, g, callee)
	rec := expectClean(t, g)
	if rec.Outcome == store.OutcomeAnswered {
		t.Errorf("record outcome %q: the caller never got the 200", rec.Outcome)
	}
	if res := g.options(t, g.trunk); res.StatusCode != 200 {
		t.Errorf("OPTIONS after the lost caller: got %s, want 200", describe(res))
	}
}
