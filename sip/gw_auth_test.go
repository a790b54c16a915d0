package sip_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

const (
	trunkUser = "acct-4711"
	trunkPass = "s3cret-pass"
)

// verifyDigest checks the credentials in header value creds answer chal for
// method and the Request-URI of req, with the trunk's username and password
// (RFC 3261 §22.4, RFC 2617 §3.2.2).
func verifyDigest(t *testing.T, chal *digest.Challenge, creds string, req *sip.Request) {
	t.Helper()
	if creds == "" {
		t.Fatalf("%s carries no credentials", req.Method)
	}
	got, err := digest.ParseCredentials(creds)
	if err != nil {
		t.Fatalf("credentials %q do not parse: %v", creds, err)
	}
	ruri := strings.Fields(req.StartLine())[1]
	if got.URI != ruri {
		t.Errorf("digest uri %q, Request-URI is %q", got.URI, ruri)
	}
	if got.Username != trunkUser || got.Realm != chal.Realm || got.Nonce != chal.Nonce {
		t.Errorf("digest username/realm/nonce %q/%q/%q, want %q/%q/%q", got.Username, got.Realm, got.Nonce, trunkUser, chal.Realm, chal.Nonce)
	}
	want, err := digest.Digest(chal, digest.Options{
		Method: string(req.Method), URI: got.URI, Username: trunkUser, Password: trunkPass,
		Cnonce: got.Cnonce, Count: got.Nc,
	})
	if err != nil {
		t.Fatalf("computing the expected digest: %v", err)
	}
	if got.Response != want.Response {
		t.Errorf("digest response %s, want %s for %s %s", got.Response, want.Response, req.Method, got.URI)
	}
}

// TestGatewayDigestAuthOnCallsOut checks a carrier proxy that challenges our
// INVITE with 407 (RFC 3261 §22.3): the gateway ACKs the 407 within its
// transaction and resends the INVITE, same dialog identifiers and a higher
// CSeq (§8.1.3.5), with correct Proxy-Authorization; the call then goes up.
func TestGatewayDigestAuthOnCallsOut(t *testing.T) {
	g := startGateway(t, gwOptions{Username: trunkUser, Password: trunkPass})
	callerRTP, calleeRTP := newRTPPeer(t), newRTPPeer(t)
	caller := g.trunk.newUAC(g.addr, ourNumber)
	caller.sendInvite(sdpOffer(callerRTP.port, "sendrecv", 0, 101))

	first := g.callee.expectInvite(5 * time.Second)
	chal := &digest.Challenge{Realm: "carrier.test", Nonce: newID(12), Algorithm: "MD5", QOP: []string{"auth"}, Opaque: newID(4)}
	first.respond(407, "", "Proxy-Authenticate: "+chal.String())
	ack := g.callee.wait(5*time.Second, "ACK of the 407", isRequest("ACK", first.callID())).msg.(*sip.Request)
	fb, _ := first.invite.Via().Params.Get("branch")
	if ab, _ := ack.Via().Params.Get("branch"); ab != fb {
		t.Errorf("ACK of the 407 has branch %q, want the INVITE's %q (RFC 3261 §17.1.1.3)", ab, fb)
	}
	if ack.CSeq().SeqNo != first.invite.CSeq().SeqNo {
		t.Errorf("ACK of the 407 has CSeq %d, INVITE had %d", ack.CSeq().SeqNo, first.invite.CSeq().SeqNo)
	}

	second := g.callee.expectInvite(5 * time.Second)
	if second.callID() != first.callID() {
		t.Errorf("authenticated INVITE has Call-ID %q, first had %q", second.callID(), first.callID())
	}
	if a, b := second.invite.From().Params, first.invite.From().Params; a.GetOr("tag", "") != b.GetOr("tag", "") {
		t.Errorf("authenticated INVITE has From tag %q, first had %q", a.GetOr("tag", ""), b.GetOr("tag", ""))
	}
	if second.invite.CSeq().SeqNo <= first.invite.CSeq().SeqNo {
		t.Errorf("authenticated INVITE has CSeq %d, not above the first's %d", second.invite.CSeq().SeqNo, first.invite.CSeq().SeqNo)
	}
	if sb, _ := second.invite.Via().Params.Get("branch"); sb == fb {
		t.Errorf("authenticated INVITE reuses the branch %q of the challenged one", sb)
	}
	verifyDigest(t, chal, header(second.invite, "Proxy-Authorization"), second.invite)

	second.respond(200, sdpOffer(calleeRTP.port, "sendrecv", 0, 101))
	g.callee.wait(5*time.Second, "ACK of the 200", isRequest("ACK", second.callID()))
	res := caller.inviteFinal(5 * time.Second)
	if res.StatusCode != 200 {
		t.Fatalf("caller got %s, want 200", describe(res))
	}
	caller.ack("")
	e := &established{caller: caller, callee: second, callerRTP: callerRTP, calleeRTP: calleeRTP,
		gwA: parseAudio(t, res.Body()).Addr, gwB: parseAudio(t, second.invite.Body()).Addr}
	e.callerRTP.flowsTo(e.gwA, e.calleeRTP, 3*time.Second)
	g.hangupFromCaller(t, e)
}

// TestGatewayTrunkRegistration checks trunk registration (RFC 3261 §10.2):
// REGISTER with our Contact and the configured expiry, credentials after a
// 401 challenge, and a refresh before the expiry the registrar granted
// (2 s here, much shorter than the 60 s asked for, §10.2.4).
func TestGatewayTrunkRegistration(t *testing.T) {
	g := startGateway(t, gwOptions{Username: trunkUser, Password: trunkPass, Register: true, RegisterExpiry: 60 * time.Second})
	registrar := g.callee
	chal := &digest.Challenge{Realm: "carrier.test", Nonce: newID(12), Algorithm: "MD5", QOP: []string{"auth"}}

	// serve answers one registration like the registrar: a challenge unless
	// req already has credentials, then a 2 s grant once they check out.
	serve := func(req *sip.Request, src netip.AddrPort) (granted time.Time) {
		t.Helper()
		if header(req, "Authorization") == "" {
			registrar.send(responseText(req, 401, "", newTag(), []string{"WWW-Authenticate: " + chal.String()}, ""), src)
			req, src = registrar.expectRequest("REGISTER", 5*time.Second)
		}
		verifyDigest(t, chal, header(req, "Authorization"), req)
		contact := "Contact: <sip:" + trunkUser + "@" + g.addr.String() + ">;expires=2"
		registrar.send(responseText(req, 200, "", newTag(), []string{contact, "Expires: 2"}, ""), src)
		return time.Now()
	}

	// The first REGISTER goes out as the gateway starts, not after a retry.
	req, src := registrar.expectRequest("REGISTER", 2*time.Second)
	if got := header(req, "Expires"); got != "60" {
		t.Errorf("REGISTER Expires %q, want 60", got)
	}
	if c := req.Contact(); c == nil || c.Address.HostPort() != g.addr.String() {
		t.Errorf("REGISTER Contact %v, want the gateway at %s", req.Contact(), g.addr)
	}
	if to, from := req.To().Address.User, req.From().Address.User; to != trunkUser || from != trunkUser {
		t.Errorf("REGISTER To/From users %q/%q, want the account %q", to, from, trunkUser)
	}
	granted := serve(req, src)

	// The refresh comes before the 2 s binding lapses (slack for -race).
	refresh, src := registrar.expectRequest("REGISTER", 3*time.Second)
	if d := time.Since(granted); d > 2200*time.Millisecond {
		t.Errorf("refresh REGISTER %v after a 2 s grant: the binding had lapsed", d)
	}
	if got := header(refresh, "Expires"); got != "60" {
		t.Errorf("refresh REGISTER Expires %q, want 60", got)
	}
	// RFC 3261 §10.2: refreshes keep the Call-ID, with a higher CSeq.
	if refresh.CallID().Value() != req.CallID().Value() {
		t.Errorf("refresh REGISTER Call-ID %q, first was %q", refresh.CallID().Value(), req.CallID().Value())
	}
	if refresh.CSeq().SeqNo <= req.CSeq().SeqNo {
		t.Errorf("refresh REGISTER CSeq %d not above the first %d", refresh.CSeq().SeqNo, req.CSeq().SeqNo)
	}
	serve(refresh, src)

	// On Close the gateway unregisters; answer it without a challenge.
	registrar.autoRespond("REGISTER", 200)
}
