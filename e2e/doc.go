// Package e2e holds Parley's end-to-end tests: real WebSocket clients (internal/client and
// raw coder/websocket connections) against the whole system of `parley local`
// (internal/local), started in process on 127.0.0.1:0 with its own dynalite.
//
// Every PROTOCOL.md action and every error a client can meet is covered, along with
// several devices of one user, offline users catching up with sync, a group of 100
// connected members, a restart on a data directory, a client that vanishes without a
// close and is cleaned up after the Management API's 410, and presence lapsing through
// the TTL sweeper. Run them with
//
//	go test -count=1 ./e2e/
//
// They need node and npm (dynalite is installed from the repository's package.json when
// missing). The package has no non-test code besides this comment.
package e2e
