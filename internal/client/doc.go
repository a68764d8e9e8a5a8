// Package client is a Go client for the Parley wire protocol (PROTOCOL.md, version 1.1;
// docs/protocol.md).
//
// Dial opens a WebSocket to a Parley endpoint (the deployed API Gateway stage or
// `parley local`), authenticating with a JWT given as the `token` query parameter or as an
// `Authorization: Bearer` header. Each protocol action is a method of *Conn that sends the
// action with a fresh requestId and waits for the reply carrying the same requestId; a
// protocol error reply comes back as a *Error holding the protocol code.
//
// Frames the server pushes without a requestId (message; edited, deleted and reaction, the
// changes to messages of version 1.1; typing, receipt, conversation, presence, and errors of
// fire-and-forget actions) arrive on Events, each stamped with the time it was read.
// Callers must keep draining Events: when its buffer is full the reader waits, and so do the
// replies behind it. A change may arrive twice (live and from sync): apply changes
// idempotently, keyed by their EventID.
//
// A keepalive after 9 minutes without a frame keeps the connection under API Gateway's idle
// limit (Options.KeepaliveInterval); presence needs nothing more. When a connection ends,
// Reconnect dials again with backoff and SyncAll replays what was missed.
package client
