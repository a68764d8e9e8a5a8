// Package protocoldoc keeps docs/asyncapi.yaml, the machine-readable description of the
// WebSocket protocol, true to the code. It has no code of its own, only tests:
//
//   - the document is valid AsyncAPI 3.0, by the AsyncAPI parser
//     (scripts/asyncapi-validate.mjs, which needs Node.js and `make deps`);
//   - every server frame of internal/chat (the *Frame types and their Type* constants) has a
//     message whose payload schema names exactly the frame's JSON fields, with `required`
//     exactly the fields without omitempty, and JSON types matching the Go types, nested
//     objects included;
//   - the client actions are exactly internal/topology's (Actions and MockActions), and
//     their properties are exactly the json fields of chat.Request;
//   - enums and limits agree with internal/chat's constants.
//
// A change to a frame, a route or a limit that the document does not follow fails `make
// test`, and so does a document that describes a field the code does not send.
package protocoldoc
