package awslambda

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/dynamo"
)

func TestConnectDisconnectFixtures(t *testing.T) {
	e := newEnv(t, chat.Options{})
	alice, bob := uid("alice"), uid("bob")
	bc := e.connect(bob)
	ac := e.connect(alice)
	e.must(alice, ac, map[string]any{"action": "createConversation", "members": []string{bob}})

	conns, err := e.store.Connections(e.ctx, alice, time.Now().UnixMilli())
	if err != nil || len(conns) != 1 || conns[0].ConnectionID != ac {
		t.Fatalf("connections of alice = %+v, %v", conns, err)
	}
	ps := e.must(bob, bc, map[string]any{"action": "presence", "userIds": []string{alice}})
	if u := ps["users"].([]any)[0].(map[string]any); u["online"] != true {
		t.Fatalf("alice not online after $connect: %v", ps)
	}

	e.push.reset()
	e.disconnect(alice, ac)
	if conns, _ := e.store.Connections(e.ctx, alice, time.Now().UnixMilli()); len(conns) != 0 {
		t.Fatalf("connection kept after $disconnect: %+v", conns)
	}
	evs := e.push.framesOf(bc, "presence")
	if len(evs) != 1 || evs[0]["users"].([]any)[0].(map[string]any)["online"] != false {
		t.Fatalf("bob got presence events %v, want one offline event for alice", evs)
	}
	ps = e.must(bob, bc, map[string]any{"action": "presence", "userIds": []string{alice}})
	u := ps["users"].([]any)[0].(map[string]any)
	if u["online"] != false || u["lastSeen"] == nil {
		t.Fatalf("alice after disconnect: %v, want offline with lastSeen", u)
	}

	// A $connect without an authorizer principal is refused and stores nothing.
	req := fixture[events.APIGatewayWebsocketProxyRequest](t, "connect.json")
	req.RequestContext.Authorizer = nil
	resp, err := e.h.Handle(e.ctx, req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("$connect without principal: %+v %v", resp, err)
	}
}

func TestMessageFixtureSendsDirect(t *testing.T) {
	e := newEnv(t, chat.Options{})
	alice, bob := uid("alice"), uid("bob")
	ac, bc := e.connect(alice), e.connect(bob)
	req := fixture[events.APIGatewayWebsocketProxyRequest](t, "message.json")
	req.RequestContext.ConnectionID = ac
	req.RequestContext.Authorizer = map[string]any{"principalId": alice}
	req.Body = strings.ReplaceAll(req.Body, `"bob"`, fmt.Sprintf("%q", bob))
	resp, err := e.h.Handle(e.ctx, req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatal(resp, err)
	}
	if !strings.Contains(resp.Body, `"type":"ack"`) || !strings.Contains(resp.Body, `"requestId":"r-1"`) || !strings.Contains(resp.Body, chat.DirectID(alice, bob)) {
		t.Fatalf("reply %s", resp.Body)
	}
	// The stream then delivers it to both members' connections.
	msgs, _, err := e.store.Before(e.ctx, chat.DirectID(alice, bob), "", 10)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("stored %v %v", msgs, err)
	}
	if r := e.deliver(msgs[0]); len(r.BatchItemFailures) != 0 {
		t.Fatal(r)
	}
	for _, c := range []string{ac, bc} {
		if got := e.push.framesOf(c, "message"); len(got) != 1 || got[0]["message"].(map[string]any)["body"] != "hello bob" {
			t.Fatalf("%s got %v", c, got)
		}
	}
}

// TestErrorCodes reaches every error code of PROTOCOL.md §5 through the handler with
// the input that causes it, and checks that a failed request changes nothing.
func TestErrorCodes(t *testing.T) {
	e := newEnv(t, chat.Options{})
	alice, bob, eve := uid("alice"), uid("bob"), uid("eve")
	ac, ec := e.connect(alice), e.connect(eve)
	group := e.must(alice, ac, map[string]any{"action": "createConversation", "members": []string{bob}, "name": "g"})["conversation"].(map[string]any)["conversationId"].(string)
	ghost := "g:01JDQ2M3B8Y5K6C9V1X2Z3A4B5"

	tests := []struct {
		name  string
		user  string
		conn  string
		frame any
		code  string
	}{
		{"not json", alice, ac, `hello`, "bad_request"},
		{"not an object", alice, ac, `[1]`, "bad_request"},
		{"missing body", alice, ac, map[string]any{"action": "send", "conversationId": group, "clientMsgId": "x"}, "bad_request"},
		{"missing clientMsgId", alice, ac, map[string]any{"action": "send", "conversationId": group, "body": "x"}, "bad_request"},
		{"bad receipt status", alice, ac, map[string]any{"action": "receipt", "conversationId": group, "messageId": "01JDQ2M3B8Y5K6C9V1X2Z3A4B5", "status": "seen"}, "bad_request"},
		{"unknown action", alice, ac, map[string]any{"action": "dance"}, "unknown_action"},
		{"no authenticated user", "", ac, map[string]any{"action": "heartbeat"}, "unauthorized"},
		{"send as non-member", eve, ec, map[string]any{"action": "send", "conversationId": group, "clientMsgId": "x", "body": "hi"}, "forbidden"},
		{"history as non-member", eve, ec, map[string]any{"action": "history", "conversationId": group}, "forbidden"},
		{"typing as non-member", eve, ec, map[string]any{"action": "typing", "conversationId": group}, "forbidden"},
		{"receipt as non-member", eve, ec, map[string]any{"action": "receipt", "conversationId": group, "messageId": "01JDQ2M3B8Y5K6C9V1X2Z3A4B5", "status": "read"}, "forbidden"},
		{"addMembers as non-member", eve, ec, map[string]any{"action": "addMembers", "conversationId": group, "members": []string{eve}}, "forbidden"},
		{"send to no conversation", alice, ac, map[string]any{"action": "send", "conversationId": ghost, "clientMsgId": "x", "body": "hi"}, "not_found"},
		{"receipt for no message", alice, ac, map[string]any{"action": "receipt", "conversationId": group, "messageId": "01JDQ2M3B8Y5K6C9V1X2Z3A4B5", "status": "read"}, "not_found"},
		{"body too large", alice, ac, map[string]any{"action": "send", "conversationId": group, "clientMsgId": "x", "body": strings.Repeat("a", 16385)}, "too_large"},
		{"group too large", alice, ac, map[string]any{"action": "createConversation", "members": users("m", 500), "name": "big"}, "too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := e.call(tt.user, tt.conn, tt.frame)
			if out["type"] != "error" || out["code"] != tt.code {
				t.Fatalf("reply %v, want error %s", out, tt.code)
			}
			if msg, _ := out["message"].(string); msg == "" {
				t.Fatalf("error without a message: %v", out)
			}
		})
	}
	// Nothing above stored a message.
	if msgs, _, err := e.store.Before(e.ctx, group, "", 10); err != nil || len(msgs) != 0 {
		t.Fatalf("failed requests stored %v (%v)", msgs, err)
	}

	t.Run("rate_limited", func(t *testing.T) {
		e := newEnv(t, chat.Options{RateLimit: 1, RateBurst: 3})
		u := uid("fast")
		c := e.connect(u)
		var codes []any
		for i := 0; i < 5; i++ {
			codes = append(codes, e.call(u, c, map[string]any{"action": "heartbeat", "requestId": fmt.Sprint(i)})["code"])
		}
		if codes[2] != nil || codes[3] != "rate_limited" || codes[4] != "rate_limited" {
			t.Fatalf("codes %v: want 3 allowed, then rate_limited", codes)
		}
	})

	t.Run("internal", func(t *testing.T) {
		// A store whose database is unreachable: the client gets `internal` and no details.
		broken := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1"),
			Credentials: credentials.NewStaticCredentialsProvider("x", "x", ""), RetryMaxAttempts: 1})
		store, err := dynamo.New(broken, tables)
		if err != nil {
			t.Fatal(err)
		}
		log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
		svc := chat.NewService(store, store, store, newRecorder(), chat.Options{RateLimit: -1, Logger: log})
		h := NewHandler(svc, HandlerOptions{Logger: log})
		req := fixture[events.APIGatewayWebsocketProxyRequest](t, "message.json")
		req.RequestContext.Authorizer = map[string]any{"principalId": alice}
		resp, err := h.Handle(context.Background(), req)
		if err != nil || !strings.Contains(resp.Body, `"code":"internal"`) || !strings.Contains(resp.Body, `"requestId":"r-1"`) {
			t.Fatalf("reply %s %v", resp.Body, err)
		}
		if strings.Contains(resp.Body, "127.0.0.1") || strings.Contains(resp.Body, "dial") {
			t.Fatalf("internal error leaks details: %s", resp.Body)
		}
	})
}

func users(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

// TestLimits enforces every client-facing limit of PROTOCOL.md §7 at and just past it.
func TestLimits(t *testing.T) {
	// The sync cases count the messages after the cursors exactly: the settling window's
	// replays (internal/chat's TestSettleWindow) are off here.
	e := newEnv(t, chat.Options{SettleWindow: -1})
	alice, bob := uid("alice"), uid("bob")
	ac := e.connect(alice)
	dm := e.must(alice, ac, map[string]any{"action": "createConversation", "members": []string{bob}})["conversation"].(map[string]any)["conversationId"].(string)
	code := func(frame any) any { return e.call(alice, ac, frame)["code"] }
	x := func(n int) string { return strings.Repeat("x", n) }

	tests := []struct {
		name  string
		frame any
		want  any // nil: accepted
	}{
		{"frame over 32 KiB", `{"action":"send","conversationId":"` + dm + `","clientMsgId":"a","body":"` + x(32*1024) + `"}`, "too_large"},
		{"body 16384 bytes", map[string]any{"action": "send", "conversationId": dm, "clientMsgId": "b1", "body": x(16384)}, nil},
		{"body 16384 bytes of 4-byte runes", map[string]any{"action": "send", "conversationId": dm, "clientMsgId": "b2", "body": strings.Repeat("😀", 4096)}, nil},
		{"body 16385 bytes", map[string]any{"action": "send", "conversationId": dm, "clientMsgId": "b3", "body": x(16385)}, "too_large"},
		{"empty body", map[string]any{"action": "send", "conversationId": dm, "clientMsgId": "b4", "body": ""}, "bad_request"},
		{"requestId 64", map[string]any{"action": "heartbeat", "requestId": x(64)}, nil},
		{"requestId 65", map[string]any{"action": "heartbeat", "requestId": x(65)}, "bad_request"},
		{"clientMsgId 64", map[string]any{"action": "send", "conversationId": dm, "clientMsgId": x(64), "body": "hi"}, nil},
		{"clientMsgId 65", map[string]any{"action": "send", "conversationId": dm, "clientMsgId": x(65), "body": "hi"}, "bad_request"},
		{"user id 64", map[string]any{"action": "presence", "userIds": []string{x(64)}}, nil},
		{"user id 65", map[string]any{"action": "presence", "userIds": []string{x(65)}}, "bad_request"},
		{"to 65", map[string]any{"action": "send", "to": x(65), "clientMsgId": "t", "body": "hi"}, "bad_request"},
		{"group of 500", map[string]any{"action": "createConversation", "members": users(uid("u"), 499), "name": "five hundred"}, nil},
		{"group of 501", map[string]any{"action": "createConversation", "members": users(uid("u"), 500), "name": "too many"}, "too_large"},
		{"name 100", map[string]any{"action": "createConversation", "members": []string{bob}, "name": strings.Repeat("é", 100)}, nil},
		{"name 101", map[string]any{"action": "createConversation", "members": []string{bob}, "name": strings.Repeat("é", 101)}, "too_large"},
		{"history 100", map[string]any{"action": "history", "conversationId": dm, "limit": 100}, nil},
		{"history 101", map[string]any{"action": "history", "conversationId": dm, "limit": 101}, "bad_request"},
		{"history 0", map[string]any{"action": "history", "conversationId": dm, "limit": 0}, "bad_request"},
		{"presence 100", map[string]any{"action": "presence", "userIds": users("p", 100)}, nil},
		{"presence 101", map[string]any{"action": "presence", "userIds": users("p", 101)}, "too_large"},
		{"presence 0", map[string]any{"action": "presence", "userIds": []string{}}, "bad_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := code(tt.frame); got != tt.want {
				t.Fatalf("code = %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("addMembers past 500", func(t *testing.T) {
		g := e.must(alice, ac, map[string]any{"action": "createConversation", "members": users(uid("v"), 498), "name": "almost full"})
		id := g["conversation"].(map[string]any)["conversationId"].(string)
		if got := code(map[string]any{"action": "addMembers", "conversationId": id, "members": []string{uid("w"), uid("w")}}); got != "too_large" {
			t.Fatalf("adding 2 to 499: %v, want too_large", got)
		}
		conv, err := e.store.GetConversation(e.ctx, id)
		if err != nil || conv.MemberCount != 499 {
			t.Fatalf("after refused add: %+v %v", conv, err)
		}
		if got := code(map[string]any{"action": "addMembers", "conversationId": id, "members": []string{uid("w")}}); got != nil {
			t.Fatalf("adding the 500th: %v", got)
		}
	})

	t.Run("sync across conversations stops at 1000", func(t *testing.T) {
		dan := uid("dan")
		dc := e.connect(dan)
		ids := chat.NewIDs()
		now := time.Now()
		for _, n := range []int{0, 600, 600, 3} { // one conversation with nothing new
			peer := uid("peer")
			conv := e.must(dan, dc, map[string]any{"action": "createConversation", "members": []string{peer}})["conversation"].(map[string]any)["conversationId"].(string)
			for i := 0; i < n; i++ {
				m := chat.Message{ConversationID: conv, MessageID: ids.New(now), SenderID: peer, Body: fmt.Sprint(i), CreatedAt: now.UnixMilli(), ClientMsgID: fmt.Sprint("x", i)}
				if err := e.store.PutMessage(e.ctx, m); err != nil {
					t.Fatal(err)
				}
			}
		}
		total := 0
		for round := 1; ; round++ {
			e.push.reset()
			out := e.must(dan, dc, map[string]any{"action": "sync"})
			got := e.push.framesOf(dc, "message")
			if int(out["count"].(float64)) != len(got) {
				t.Fatalf("round %d: count %v but %d frames", round, out["count"], len(got))
			}
			total += len(got)
			perConv := map[string]int{}
			for _, f := range got {
				perConv[f["message"].(map[string]any)["conversationId"].(string)]++
			}
			t.Logf("round %d: %d messages %v, more %v", round, len(got), perConv, out["more"])
			// Conversations come in the store's order; whichever it is, the first round is cut
			// at 1000 and names the last message it sent of every conversation it touched.
			if round == 1 && (len(got) != 1000 || out["more"] != true || len(out["lastMessageIds"].(map[string]any)) != len(perConv)) {
				t.Fatalf("round 1: %d messages, more %v, lastMessageIds %v", len(got), out["more"], out["lastMessageIds"])
			}
			for conv, id := range out["lastMessageIds"].(map[string]any) {
				e.must(dan, dc, map[string]any{"action": "receipt", "conversationId": conv, "messageId": id, "status": "delivered"})
			}
			if out["more"] == false {
				break
			}
			if round > 3 {
				t.Fatal("sync never ends")
			}
		}
		if total != 1203 {
			t.Fatalf("synced %d messages in all, want 1203", total)
		}
	})

	t.Run("sync stops at 1000", func(t *testing.T) {
		carol := uid("carol")
		cc := e.connect(carol)
		conv := chat.DirectID(alice, carol)
		e.must(alice, ac, map[string]any{"action": "createConversation", "members": []string{carol}})
		ids := chat.NewIDs()
		now := time.Now()
		for i := 0; i < 1005; i++ {
			m := chat.Message{ConversationID: conv, MessageID: ids.New(now), SenderID: alice, Body: fmt.Sprint(i), CreatedAt: now.UnixMilli(), ClientMsgID: fmt.Sprint("s", i)}
			if err := e.store.PutMessage(e.ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		e.push.reset()
		out := e.must(carol, cc, map[string]any{"action": "sync", "requestId": "s1"})
		if out["type"] != "synced" || out["count"] != float64(1000) || out["more"] != true || out["requestId"] != "s1" {
			t.Fatalf("first sync: %v", out)
		}
		got := e.push.framesOf(cc, "message")
		if len(got) != 1000 {
			t.Fatalf("pushed %d messages, want 1000", len(got))
		}
		first, last := got[0]["message"].(map[string]any), got[999]["message"].(map[string]any)
		if first["body"] != "0" || last["body"] != "999" {
			t.Fatalf("order: first %v last %v", first["body"], last["body"])
		}
		if ids, _ := out["lastMessageIds"].(map[string]any); len(ids) != 1 || ids[conv] != last["messageId"] {
			t.Fatalf("lastMessageIds = %v, want {%s: %v}", out["lastMessageIds"], conv, last["messageId"])
		}
		e.must(carol, cc, map[string]any{"action": "receipt", "conversationId": conv, "messageId": last["messageId"], "status": "delivered"})
		out = e.must(carol, cc, map[string]any{"action": "sync"})
		if out["count"] != float64(5) || out["more"] != false {
			t.Fatalf("second sync: %v", out)
		}
	})
}

// TestSendRace: two identical sends racing make one message with one messageId.
func TestSendRace(t *testing.T) {
	e := newEnv(t, chat.Options{})
	alice, bob := uid("alice"), uid("bob")
	ac1, ac2 := e.connect(alice), e.connect(alice)
	for round := 0; round < 5; round++ {
		frame := map[string]any{"action": "send", "to": bob, "clientMsgId": fmt.Sprint("same-", round), "body": "once"}
		var wg sync.WaitGroup
		acks := make([]map[string]any, 2)
		for i, c := range []string{ac1, ac2} {
			wg.Add(1)
			go func(i int, c string) {
				defer wg.Done()
				acks[i] = e.call(alice, c, frame)
			}(i, c)
		}
		wg.Wait()
		if acks[0]["type"] != "ack" || acks[1]["type"] != "ack" || acks[0]["messageId"] != acks[1]["messageId"] || acks[0]["createdAt"] != acks[1]["createdAt"] {
			t.Fatalf("round %d: acks differ: %v / %v", round, acks[0], acks[1])
		}
	}
	msgs, _, err := e.store.Before(e.ctx, chat.DirectID(alice, bob), "", 100)
	if err != nil || len(msgs) != 5 {
		t.Fatalf("stored %d messages (%v), want 5", len(msgs), err)
	}
	// A later resend is acknowledged with the same id too.
	again := e.must(alice, ac1, map[string]any{"action": "send", "to": bob, "clientMsgId": "same-0", "body": "once"})
	found := false
	for _, m := range msgs {
		found = found || m.MessageID == again["messageId"]
	}
	if !found {
		t.Fatalf("resend got a new id %v", again["messageId"])
	}
}
