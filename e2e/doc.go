// Package e2e holds the end-to-end tests of the switchboard binary. They
// build ./cmd/switchboard once, start it with a generated configuration and
// talk to it only from the outside, as a trunk and a forward target would:
// SIPp scenarios, a small Go user agent on sipgo, raw datagrams and the HTTP
// API. Everything stays on the loopback interface.
//
// Run with: go test -race -count=1 -v ./e2e/
//
// The tests need sipp, tcpdump and tshark (scripts/install-test-deps.sh).
// When one is missing a test is skipped, unless CI=true, where it fails.
// SWITCHBOARD_E2E_RACE=1 builds the gateway with the race detector, so a
// data race in the gateway fails the test that triggered it.
package e2e
