package chat_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/chat"
)

// fzFieldTypes gives every field of a client frame the JSON type docs/protocol.md gives it:
// "string", "integer" or "strings" (an array of strings). FuzzDecodeRequest checks that it
// names every field of chat.Request, so a new field cannot slip past the oracle.
var fzFieldTypes = map[string]string{
	"action": "string", "requestId": "string", "conversationId": "string", "to": "string",
	"clientMsgId": "string", "body": "string", "state": "string", "messageId": "string",
	"status": "string", "before": "string", "name": "string",
	"replyTo": "string", "emoji": "string",
	"limit": "integer", "until": "integer",
	"members": "strings", "userIds": "strings",
}

// fzTypeWords says each type of fzFieldTypes as an error message does.
var fzTypeWords = map[string]string{"string": "a string", "integer": "an integer", "strings": "an array of strings"}

// fzQuoted matches a Go-quoted string (%q): error messages quote what the client sent,
// which may be anything; only the text around the quotes is the server's.
var fzQuoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// fzGoType matches Go type syntax that has no place in a message for JSON clients.
var fzGoType = regexp.MustCompile(`\[\]|\*|map\[|\b(?:u?int(?:8|16|32|64)?|float(?:32|64)|interface|struct|rune|byte)\b`)

// fzInternals are fragments of Go or library internals (decoder errors, error prefixes,
// stacks) that an error message must never contain.
var fzInternals = []string{
	"json:", "chat:", "encoding/", "reflect", "runtime", "goroutine", "panic", "Go ",
	"invalid character", "unexpected end", "cannot unmarshal", "0x", "%!", "\n",
}

// fzCheckMessage fails unless msg is a client-safe error message: not empty, UTF-8, and,
// outside what it quotes from the frame, free of internals and Go type names.
func fzCheckMessage(t *testing.T, msg string) {
	t.Helper()
	if msg == "" || !utf8.ValidString(msg) {
		t.Fatalf("error message %q is empty or not UTF-8", msg)
	}
	own := fzQuoted.ReplaceAllString(msg, `""`)
	for _, s := range fzInternals {
		if strings.Contains(own, s) {
			t.Fatalf("error message %q leaks internals (%q)", msg, s)
		}
	}
	if m := fzGoType.FindString(own); m != "" {
		t.Fatalf("error message %q names a Go type (%q)", msg, m)
	}
}

// fzMember is one top-level member of a JSON object, in document order.
type fzMember struct {
	key string
	raw json.RawMessage
}

// fzMembers returns the top-level members of a frame that json.Valid accepted and that
// starts with '{', read with a streaming decoder (not the way DecodeRequest reads it).
func fzMembers(t *testing.T, frame []byte) []fzMember {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(frame))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("oracle: %q does not open an object: %v %v", frame, tok, err)
	}
	var out []fzMember
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("oracle: key of %q: %v", frame, err)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("oracle: value of %q: %v", frame, err)
		}
		out = append(out, fzMember{key: tok.(string), raw: raw})
	}
	return out
}

// fzKind is the JSON kind of a raw value: null, string, number, bool, array or object.
func fzKind(raw json.RawMessage) string {
	switch raw[0] {
	case 'n':
		return "null"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case '[':
		return "array"
	case '{':
		return "object"
	}
	return "number"
}

// fzWellTyped reports whether raw (not null) has the JSON type typ, the way a Go int,
// string or []string field can hold it.
func fzWellTyped(raw json.RawMessage, typ string) bool {
	switch typ {
	case "string":
		return fzKind(raw) == "string"
	case "integer":
		_, err := strconv.ParseInt(string(raw), 10, strconv.IntSize)
		return fzKind(raw) == "number" && err == nil
	}
	var elems []json.RawMessage
	if fzKind(raw) != "array" || json.Unmarshal(raw, &elems) != nil {
		return false
	}
	for _, e := range elems {
		if k := fzKind(e); k != "string" && k != "null" { // a null element decodes as ""
			return false
		}
	}
	return true
}

// fzNormal returns r with empty slices as nil: omitempty drops them on the way out.
func fzNormal(r chat.Request) chat.Request {
	if len(r.Members) == 0 {
		r.Members = nil
	}
	if len(r.UserIDs) == 0 {
		r.UserIDs = nil
	}
	return r
}

// FuzzDecodeRequest decodes arbitrary frames and checks DecodeRequest against
// docs/protocol.md: it never panics; every error is a chat.Error with code too_large (a
// frame over 32 KiB) or bad_request (everything else malformed), with a client-safe
// message; the requestId is echoed whenever it can be read; a well-formed frame decodes
// to exactly its fields (unknown fields ignored, wherever the text "requestId" appears);
// and what decodes re-encodes to a frame that decodes to the same request.
func FuzzDecodeRequest(f *testing.F) {
	rt := reflect.TypeFor[chat.Request]()
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if _, ok := fzFieldTypes[name]; !ok {
			f.Fatalf("chat.Request has field %q that fzFieldTypes does not type: extend the oracle", name)
		}
	}
	f.Add([]byte(`{"action":"send","conversationId":"c","clientMsgId":"m","body":"hi","requestId":"r1"}`))
	f.Add([]byte(`{"action":"history","conversationId":"c","limit":"ten"}`))
	f.Fuzz(func(t *testing.T, frame []byte) {
		req, err := chat.DecodeRequest(frame)

		var ce *chat.Error
		if err != nil {
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T) is not a *chat.Error", err, err)
			}
			fzCheckMessage(t, ce.Message)
			if len(frame) > chat.MaxFrameBytes {
				if ce.Code != chat.CodeTooLarge {
					t.Fatalf("frame of %d bytes: code %q, want too_large", len(frame), ce.Code)
				}
			} else if ce.Code != chat.CodeBadRequest {
				t.Fatalf("code %q (%v), want bad_request", ce.Code, err)
			}
			// The error frame carries what was read, and encodes as the protocol says.
			b, encErr := chat.Encode(chat.ErrorFrame{Type: chat.TypeError, RequestID: req.RequestID, Action: req.Action, Code: ce.Code, Message: ce.Message})
			var back map[string]any
			if encErr != nil || json.Unmarshal(b, &back) != nil || back["type"] != "error" || back["code"] != string(ce.Code) || back["message"] != ce.Message {
				t.Fatalf("error frame %s (%v) does not round-trip", b, encErr)
			}
		} else {
			if len(frame) > chat.MaxFrameBytes {
				t.Fatalf("accepted a frame of %d bytes", len(frame))
			}
			if req.Action == "" {
				t.Fatalf("accepted %q without an action", frame)
			}
			if n := utf8.RuneCountInString(req.RequestID); n > chat.MaxIDLength {
				t.Fatalf("accepted a requestId of %d characters", n)
			}
			// Round trip: what decoded re-encodes to a frame that decodes the same.
			if b, err := json.Marshal(req); err == nil && len(b) <= chat.MaxFrameBytes {
				again, err := chat.DecodeRequest(b)
				if err != nil || !reflect.DeepEqual(fzNormal(again), fzNormal(req)) {
					t.Fatalf("re-encoded %s decodes to %+v, %v; want %+v", b, again, err, req)
				}
			}
		}

		// Frames that cannot be read yield no fields at all.
		trimmed := bytes.TrimLeft(frame, " \t\r\n")
		if len(frame) > chat.MaxFrameBytes || !utf8.Valid(frame) || !json.Valid(frame) || len(trimmed) == 0 || trimmed[0] != '{' {
			if err == nil || !reflect.DeepEqual(req, chat.Request{}) {
				t.Fatalf("unreadable frame %q: got %+v, %v; want bad_request or too_large and no fields", frame, req, err)
			}
			return
		}
		fzCheckObject(t, frame, req, ce)
	})
}

// fzCheckObject checks the decoding of a valid JSON object of at most 32 KiB against what
// its members say, when they say it unambiguously: every member of a known field is
// spelled exactly as the protocol spells it and appears once. (encoding/json matches keys
// case-insensitively and lets a later duplicate win; those frames get only the general
// checks.)
func fzCheckObject(t *testing.T, frame []byte, req chat.Request, ce *chat.Error) {
	t.Helper()
	members := fzMembers(t, frame)
	known := map[string]json.RawMessage{}
	var wrong []string // known fields of the wrong type, in document order
	for _, m := range members {
		for name := range fzFieldTypes {
			if m.key != name && strings.EqualFold(m.key, name) {
				return // a near-spelling that encoding/json also matches
			}
		}
		typ, ok := fzFieldTypes[m.key]
		if !ok {
			continue // unknown fields are ignored
		}
		if _, dup := known[m.key]; dup {
			return
		}
		known[m.key] = m.raw
		if fzKind(m.raw) != "null" && !fzWellTyped(m.raw, typ) {
			wrong = append(wrong, m.key)
		}
	}
	str := func(name string) (string, bool) {
		raw, ok := known[name]
		if !ok || fzKind(raw) != "string" {
			return "", false
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatalf("oracle: %s = %s: %v", name, raw, err)
		}
		return s, true
	}

	// The requestId is echoed whenever it could be read, whatever else is wrong.
	rid, ridIsString := str("requestId")
	_, ridPresent := known["requestId"]
	ridOK := ridIsString && rid != "" && utf8.RuneCountInString(rid) <= chat.MaxIDLength
	if ridOK && req.RequestID != rid {
		t.Fatalf("%q: requestId = %q, want %q echoed (err %v)", frame, req.RequestID, rid, ce)
	}
	if !ridOK && req.RequestID != "" {
		t.Fatalf("%q: requestId = %q, want none (it is malformed or absent)", frame, req.RequestID)
	}
	if action, ok := str("action"); ok && req.Action != action {
		t.Fatalf("%q: action = %q, want %q (err %v)", frame, req.Action, action, ce)
	}

	action, _ := str("action")
	switch {
	case len(wrong) > 0:
		if ce == nil {
			t.Fatalf("%q: accepted although %v have the wrong type", frame, wrong)
		}
		// The message names a mistyped field and, in JSON's words, the type it wants.
		if !slices.ContainsFunc(wrong, func(f string) bool { return ce.Message == f+" has the wrong type: want "+fzTypeWords[fzFieldTypes[f]] }) {
			t.Fatalf("%q: message %q does not say which type one of the mistyped fields %v wants", frame, ce.Message, wrong)
		}
		return
	case ridPresent && !ridOK:
		if ce == nil {
			t.Fatalf("%q: accepted a malformed requestId %s", frame, known["requestId"])
		}
		return
	case action == "":
		if ce == nil {
			t.Fatalf("%q: accepted without an action", frame)
		}
		return
	}
	if ce != nil {
		t.Fatalf("%q is a well-formed frame, got %v", frame, ce)
	}

	// Exactly the frame's fields, and nothing else.
	want := chat.Request{}
	wv := reflect.ValueOf(&want).Elem()
	rt := wv.Type()
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		raw, ok := known[name]
		if !ok || fzKind(raw) == "null" {
			continue
		}
		p := reflect.New(rt.Field(i).Type)
		if err := json.Unmarshal(raw, p.Interface()); err != nil {
			t.Fatalf("oracle: %s = %s: %v", name, raw, err)
		}
		wv.Field(i).Set(p.Elem())
	}
	if !reflect.DeepEqual(fzNormal(req), fzNormal(want)) {
		t.Fatalf("%q decodes to\n%+v, want\n%+v", frame, req, want)
	}
}
