// Package protocoldoc keeps docs/asyncapi.yaml, the machine-readable description of the
// WebSocket protocol, true to the code. It has no code of its own, only tests:
//
//   - the document is valid AsyncAPI 3.0, by the AsyncAPI parser
//     (scripts/asyncapi-validate.mjs, which needs Node.js and `make deps`);
//   - every server frame of internal/chat (the *Frame types and their Type* constants, read
//     from the source, so that a new one cannot be missed) has a message whose payload
//     schema names exactly the frame's JSON fields, with `required` exactly the fields
//     without omitempty, and JSON types matching the Go types, nested objects included;
//   - the client actions are exactly internal/topology's (Actions and MockActions), and
//     their properties are exactly the json fields of chat.Request;
//   - each action's properties are exactly the chat.Request fields its case of the
//     handler's dispatch (internal/awslambda/handler.go, read as source) reads, and its
//     operation's reply names the frame its chat.Service method returns, and `error`;
//   - sync's reply names every frame chat.TimelineFrame makes: `message` and the frame of
//     every change kind (Change* constants: `edited`, `deleted`, `reaction`);
//   - enums and limits agree with internal/chat's constants: every constant of
//     internal/chat/limits.go is a schema keyword (or an `x-limits` extension), stated in a
//     description, or exempted with its reason.
//
// A change to a frame, a route or a limit that the document does not follow fails `make
// test`, and so does a document that describes a field the code does not send.
package protocoldoc
