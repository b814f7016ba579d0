// Package e2e holds Herald's black-box end-to-end tests. They build the
// herald binary once, start a real server process per test on a free
// 127.0.0.1 port and drive it with clients written by others: the
// centrifuge-go SDK (JSON and Protobuf), raw WebSocket frames, the HTTP
// server API and the centrifuge-js SDK under Node.js (see js/).
//
// Run them with
//
//	go test -race ./test/e2e/...
//
// Set HERALD_E2E_RACE=1 to build the server itself with the race detector.
// The package has no non-test code apart from this comment.
package e2e
