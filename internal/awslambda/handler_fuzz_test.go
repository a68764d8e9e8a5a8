package awslambda_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/parleychat/parley/internal/awslambda"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/topology"
)

// The fixed world of FuzzHandleFrame: alice (the caller) and bob share a group and a
// direct conversation, a message in each; bob and carol share a group alice is not in.
var (
	fzGroup   = "g:01JDQ2M3B8Y5K6C9V1X2Z3A4B5"
	fzDirect  = chat.DirectID("alice", "bob")
	fzOthers  = "g:01JDQ2M3B8Y5K6C9V1X2Z3A4B6"
	fzMessage = "01JDQ2M3B8Y5K6C9V1X2Z3A4B7"
	fzConvs   = map[string]chat.Conversation{
		fzGroup:  {ConversationID: fzGroup, Kind: chat.KindGroup, Name: "Trip", CreatedBy: "alice", CreatedAt: 1795881600000, MemberCount: 2},
		fzDirect: {ConversationID: fzDirect, Kind: chat.KindDirect, CreatedBy: "alice", CreatedAt: 1795881600000, MemberCount: 2},
		fzOthers: {ConversationID: fzOthers, Kind: chat.KindGroup, Name: "Private", CreatedBy: "bob", CreatedAt: 1795881600000, MemberCount: 2},
	}
	fzMembers = map[string][]string{fzGroup: {"alice", "bob"}, fzDirect: {"alice", "bob"}, fzOthers: {"bob", "carol"}}
)

// errFzStore is what a failing store returns: everything a client must never see.
var errFzStore = errors.New("dynamodb: PutItem SECRET-TABLE: *types.ResourceNotFoundException: goroutine 7 [running]")

// fzStore implements the three chat stores over the fixed world. Writes succeed and
// change nothing, so every execution starts from the same state. With fail set, every
// call fails with errFzStore. The embedded interfaces are nil: they only keep the fake
// compiling when a store interface grows a method; one that the service calls on a path
// the fuzzer reaches must be given a method here (a nil-pointer panic in fzStore says so).
type fzStore struct {
	chat.MessageStore
	chat.ConversationStore
	chat.ConnectionStore
	fail bool
}

var (
	_ chat.MessageStore      = fzStore{}
	_ chat.ConversationStore = fzStore{}
	_ chat.ConnectionStore   = fzStore{}
)

func (s fzStore) err() error {
	if s.fail {
		return errFzStore
	}
	return nil
}

func fzMsg(conv, sender string) chat.Message {
	return chat.Message{ConversationID: conv, MessageID: fzMessage, SenderID: sender, Body: "hi", CreatedAt: 1795881660000, ClientMsgID: "c1"}
}

func fzMembership(conv, user string) chat.Membership {
	m := chat.Membership{ConversationID: conv, UserID: user, Kind: fzConvs[conv].Kind, JoinedAt: 1795881600000}
	if m.Kind == chat.KindDirect {
		for _, u := range fzMembers[conv] {
			if u != user {
				m.Peer = u
			}
		}
	}
	return m
}

func (s fzStore) Reserve(_ context.Context, r chat.Reservation) (chat.Reservation, error) {
	return r, s.err()
}
func (s fzStore) PutMessage(context.Context, chat.Message) error { return s.err() }
func (s fzStore) GetMessage(_ context.Context, conv, id string) (chat.Message, error) {
	if s.fail {
		return chat.Message{}, errFzStore
	}
	if _, ok := fzConvs[conv]; !ok || id != fzMessage {
		return chat.Message{}, chat.ErrNotFound
	}
	return fzMsg(conv, "bob"), nil
}
func (s fzStore) Before(_ context.Context, conv, _ string, _ int) ([]chat.Message, bool, error) {
	if _, ok := fzConvs[conv]; !ok || s.fail {
		return nil, false, s.err()
	}
	return []chat.Message{fzMsg(conv, "alice")}, true, nil
}
func (s fzStore) After(_ context.Context, conv, _ string, _ int) ([]chat.Message, bool, error) {
	if _, ok := fzConvs[conv]; !ok || s.fail {
		return nil, false, s.err()
	}
	return []chat.Message{fzMsg(conv, "bob")}, false, nil
}
func (s fzStore) CountAfter(context.Context, string, string, string, int) (int, error) {
	return 1, s.err()
}
func (s fzStore) AdvanceCursor(context.Context, string, string, string, string) (bool, error) {
	return true, s.err()
}
func (s fzStore) Cursors(_ context.Context, _ string, users []string) ([]chat.Cursor, error) {
	out := make([]chat.Cursor, len(users))
	for i, u := range users {
		out[i] = chat.Cursor{UserID: u}
	}
	return out, s.err()
}

func (s fzStore) CreateConversation(context.Context, chat.Conversation, []chat.Membership) error {
	return s.err()
}
func (s fzStore) GetConversation(_ context.Context, id string) (chat.Conversation, error) {
	if s.fail {
		return chat.Conversation{}, errFzStore
	}
	c, ok := fzConvs[id]
	if !ok {
		return chat.Conversation{}, chat.ErrNotFound
	}
	last := fzMsg(id, "bob")
	c.LastMessage = &last
	return c, nil
}
func (s fzStore) GetConversations(ctx context.Context, ids []string) ([]chat.Conversation, error) {
	var out []chat.Conversation
	for _, id := range ids {
		if c, err := s.GetConversation(ctx, id); err == nil {
			out = append(out, c)
		}
	}
	return out, s.err()
}
func (s fzStore) Member(_ context.Context, conv, user string) (chat.Membership, error) {
	if s.fail {
		return chat.Membership{}, errFzStore
	}
	if !slices.Contains(fzMembers[conv], user) {
		return chat.Membership{}, chat.ErrNotFound
	}
	return fzMembership(conv, user), nil
}
func (s fzStore) Members(_ context.Context, conv string) ([]chat.Membership, error) {
	var out []chat.Membership
	for _, u := range fzMembers[conv] {
		out = append(out, fzMembership(conv, u))
	}
	return out, s.err()
}
func (s fzStore) AddMembers(_ context.Context, _ string, ms []chat.Membership, _ int) ([]chat.Membership, error) {
	return ms, s.err()
}
func (s fzStore) RemoveMember(context.Context, string, string) error { return s.err() }
func (s fzStore) UserConversations(_ context.Context, user string) ([]chat.Membership, error) {
	var out []chat.Membership
	for _, conv := range []string{fzGroup, fzDirect, fzOthers} {
		if slices.Contains(fzMembers[conv], user) {
			out = append(out, fzMembership(conv, user))
		}
	}
	return out, s.err()
}
func (s fzStore) SetLastMessage(context.Context, chat.Message) error { return s.err() }

func (s fzStore) PutConnection(context.Context, chat.Connection) error   { return s.err() }
func (s fzStore) DeleteConnection(context.Context, string, string) error { return s.err() }
func (s fzStore) Connections(_ context.Context, user string, now int64) ([]chat.Connection, error) {
	return []chat.Connection{{UserID: user, ConnectionID: "conn-" + user, ConnectedAt: now, ExpiresAt: now/1000 + 3600}}, s.err()
}
func (s fzStore) TouchPresence(context.Context, string, int64) (bool, error) { return false, s.err() }
func (s fzStore) SetOffline(context.Context, string, int64) (bool, error)    { return false, s.err() }
func (s fzStore) RecordLapse(context.Context, string, int64) error           { return s.err() }
func (s fzStore) Presence(_ context.Context, users []string, _ int64) ([]chat.Presence, error) {
	out := make([]chat.Presence, len(users))
	for i, u := range users {
		out[i] = chat.Presence{UserID: u}
	}
	return out, s.err()
}

// fzPusher accepts every push.
type fzPusher struct{}

func (fzPusher) Push(context.Context, string, []byte) error { return nil }

// fzReplyType is the type of the reply each action gets ("" for none: typing).
var fzReplyType = map[string]string{
	"send": chat.TypeAck, "typing": "", "receipt": chat.TypeReceipt, "history": chat.TypeHistory,
	"sync": chat.TypeSynced, "conversations": chat.TypeConversations,
	"createConversation": chat.TypeConversation, "addMembers": chat.TypeConversation, "leave": chat.TypeConversation,
	"presence": chat.TypePresence, "heartbeat": chat.TypeHeartbeat,
	"edit": chat.TypeEdited, "delete": chat.TypeDeleted, "react": chat.TypeReaction,
	"mute": chat.TypeMuted, "unmute": chat.TypeMuted,
}

// fzCodes are the error codes of docs/protocol.md (rate_limited cannot happen here: the
// fuzz service does not limit).
var fzCodes = []chat.Code{chat.CodeBadRequest, chat.CodeUnknownAction, chat.CodeUnauthorized, chat.CodeForbidden, chat.CodeNotFound, chat.CodeTooLarge, chat.CodeInternal}

// fzInternalMessage is the one message of an internal error.
const fzInternalMessage = "internal error; retrying is safe"

var (
	// fzQuoted matches a Go-quoted string: messages quote what the client sent.
	fzQuoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	// fzGoType matches Go type syntax.
	fzGoType = regexp.MustCompile(`\[\]|\*|map\[|\b(?:u?int(?:8|16|32|64)?|float(?:32|64)|interface|struct|rune|byte)\b`)
	// fzInternals must appear in no message outside its quotes.
	fzInternals = []string{
		"json:", "chat:", "encoding/", "reflect", "runtime", "goroutine", "panic", "Go ",
		"invalid character", "unexpected end", "cannot unmarshal", "0x", "%!", "\n",
		"dynamodb", "Exception", "SECRET",
	}
)

// fzRoute selects the route of a text frame as API Gateway does ($request.body.action:
// the top-level key "action", spelled exactly, with a string value naming a route key).
func fzRoute(body []byte, routes map[string]bool) string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return awslambda.RouteDefault
	}
	var action string
	if json.Unmarshal(obj["action"], &action) != nil || !routes[action] {
		return awslambda.RouteDefault
	}
	return action
}

// FuzzHandleFrame sends arbitrary frame bodies through Handler.Handle, as API Gateway
// invokes it, over a chat.Service on in-memory stores (a fixed world; with a flag, stores
// that fail with an error full of internals). route 0 routes the body as API Gateway
// would; any other value forces a route key ($default or an action) whatever the body
// says; flags bit 0 drops the authenticated user, bit 1 makes the stores fail. It
// checks, against docs/protocol.md: Handle never fails or panics and always answers 200;
// the reply is nothing (typing) or one JSON object; a binary frame, and every frame
// DecodeRequest refuses, gets error/bad_request with what could be read echoed; $default
// gets unknown_action; every other reply answers the routed action (its type, or an error
// frame naming that action) and echoes the requestId; error codes are documented ones;
// internal errors say only "internal error; retrying is safe"; no message leaks store
// errors, decoder internals or Go type names.
func FuzzHandleFrame(f *testing.F) {
	actions := topology.Actions()
	routes := map[string]bool{}
	for _, a := range actions {
		routes[a] = true
	}
	keys := append([]string{awslambda.RouteDefault}, actions...)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := chat.Options{RateLimit: -1, Logger: log, PushAttempts: 1}
	handlers := map[bool]*awslambda.Handler{}
	for _, fail := range []bool{false, true} {
		s := fzStore{fail: fail}
		handlers[fail] = awslambda.NewHandler(chat.NewService(s, s, s, fzPusher{}, opts), awslambda.HandlerOptions{Logger: log})
	}

	f.Add([]byte(`{"action":"heartbeat","requestId":"r1"}`), false, uint8(0), uint8(0))
	f.Fuzz(func(t *testing.T, body []byte, binary bool, route, flags uint8) {
		noUser, fail := flags&1 != 0, flags&2 != 0
		key := awslambda.RouteDefault
		switch {
		case route > 0:
			key = keys[int(route-1)%len(keys)]
		case !binary:
			key = fzRoute(body, routes)
		}
		req := events.APIGatewayWebsocketProxyRequest{
			Body: string(body),
			RequestContext: events.APIGatewayWebsocketProxyRequestContext{
				RouteKey: key, EventType: "MESSAGE", ConnectionID: "conn-alice", RequestID: "req-1", Stage: "fuzz",
				Authorizer: map[string]any{"principalId": "alice", "userId": "alice"},
			},
		}
		if binary {
			req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
		if noUser {
			req.RequestContext.Authorizer = nil
		}
		resp, err := handlers[fail].Handle(context.Background(), req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("route %s: Handle = %d, %v; want 200 and no error", key, resp.StatusCode, err)
		}

		var reply map[string]any
		if resp.Body != "" {
			if err := json.Unmarshal([]byte(resp.Body), &reply); err != nil || reply == nil {
				t.Fatalf("route %s: reply %q is not a JSON object: %v", key, resp.Body, err)
			}
		}
		if fail && strings.Contains(resp.Body, "SECRET") && !bytes.Contains(body, []byte("SECRET")) {
			t.Fatalf("route %s: reply %s shows the store's error", key, resp.Body)
		}
		fzCheckReply(t, key, body, binary, noUser, reply)
	})
}

// fzCheckReply checks the reply to one frame.
func fzCheckReply(t *testing.T, key string, body []byte, binary, noUser bool, reply map[string]any) {
	t.Helper()
	typ, _ := reply["type"].(string)
	code, _ := reply["code"].(string)
	msg, _ := reply["message"].(string)
	gotRID, _ := reply["requestId"].(string)
	gotAction, _ := reply["action"].(string)
	if reply != nil && typ == "" {
		t.Fatalf("route %s: reply %v has no type", key, reply)
	}
	if typ == chat.TypeError {
		if !slices.Contains(fzCodes, chat.Code(code)) {
			t.Fatalf("route %s: error code %q is not one of docs/protocol.md's", key, code)
		}
		fzCheckMessage(t, chat.Code(code), msg)
	}
	wantError := func(want chat.Code, rid, action, message string) {
		t.Helper()
		if typ != chat.TypeError || chat.Code(code) != want || gotRID != rid || gotAction != action || (message != "" && msg != message) {
			t.Fatalf("route %s, body %q: reply %v; want error %s with requestId %q, action %q, message %q", key, body, reply, want, rid, action, message)
		}
	}

	if binary {
		wantError(chat.CodeBadRequest, "", "", "")
		return
	}
	dr, derr := chat.DecodeRequest(body)
	var ce *chat.Error
	if derr != nil {
		if !errors.As(derr, &ce) {
			t.Fatalf("DecodeRequest error %v is not a *chat.Error", derr)
		}
		wantError(ce.Code, dr.RequestID, dr.Action, ce.Message)
		return
	}
	if key == awslambda.RouteDefault {
		wantError(chat.CodeUnknownAction, dr.RequestID, dr.Action, fmt.Sprintf("no action %q", dr.Action))
		return
	}
	if noUser {
		wantError(chat.CodeUnauthorized, dr.RequestID, key, "")
		return
	}
	want, isAction := fzReplyType[key]
	if !isAction {
		t.Fatalf("route %s is no action of docs/protocol.md; extend fzReplyType", key)
	}
	switch {
	case reply == nil:
		if want != "" {
			t.Fatalf("route %s, body %q: no reply, want %s or an error", key, body, want)
		}
		return
	case typ == chat.TypeError:
		if gotAction != key {
			t.Fatalf("route %s, body %q: error %v names action %q: the reply does not answer the routed action", key, body, reply, gotAction)
		}
	case typ != want:
		t.Fatalf("route %s, body %q: reply of type %q, want %q: the handler ran another action than the route's", key, body, typ, want)
	}
	if gotRID != dr.RequestID {
		t.Fatalf("route %s, body %q: reply requestId %q, want %q", key, body, gotRID, dr.RequestID)
	}
}

// fzCheckMessage fails unless msg is a client-safe message for code.
func fzCheckMessage(t *testing.T, code chat.Code, msg string) {
	t.Helper()
	if code == chat.CodeInternal {
		if msg != fzInternalMessage {
			t.Fatalf("internal error message %q, want exactly %q", msg, fzInternalMessage)
		}
		return
	}
	if msg == "" || !utf8.ValidString(msg) {
		t.Fatalf("%s message %q is empty or not UTF-8", code, msg)
	}
	own := fzQuoted.ReplaceAllString(msg, `""`)
	for _, s := range fzInternals {
		if strings.Contains(own, s) {
			t.Fatalf("%s message %q leaks internals (%q)", code, msg, s)
		}
	}
	if m := fzGoType.FindString(own); m != "" {
		t.Fatalf("%s message %q names a Go type (%q)", code, msg, m)
	}
}
