package awslambda

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"
	"github.com/oklog/ulid/v2"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/cost"
	"github.com/parleychat/parley/internal/dynamo"
	"github.com/parleychat/parley/internal/topology"
)

// countingDB counts the DynamoDB requests the store makes, by operation.
type countingDB struct {
	dynamo.API
	mu sync.Mutex
	n  map[string]int
}

func (c *countingDB) add(op string) {
	c.mu.Lock()
	c.n[op]++
	c.mu.Unlock()
}

func (c *countingDB) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int{}
	return n
}

func (c *countingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.add("GetItem")
	return c.API.GetItem(ctx, in, o...)
}
func (c *countingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.add("PutItem")
	return c.API.PutItem(ctx, in, o...)
}
func (c *countingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.add("UpdateItem")
	return c.API.UpdateItem(ctx, in, o...)
}
func (c *countingDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.add("DeleteItem")
	return c.API.DeleteItem(ctx, in, o...)
}
func (c *countingDB) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.add("Query")
	return c.API.Query(ctx, in, o...)
}
func (c *countingDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.add("BatchGetItem")
	return c.API.BatchGetItem(ctx, in, o...)
}

func total(n map[string]int) int {
	t := 0
	for _, v := range n {
		t += v
	}
	return t
}

func show(n map[string]int) string {
	var parts []string
	for k, v := range n {
		parts = append(parts, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// updateRequests rewrites internal/cost/requests.json from the counts measured.
var updateRequests = flag.Bool("update-requests", false, "rewrite "+cost.RequestsFileName+" from the measured counts")

// measured collects the counts of every action, keyed as in internal/cost/requests.json.
type measured struct {
	mu      sync.Mutex
	actions map[string]cost.Requests
}

func (m *measured) add(name string, r cost.Requests) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.actions[name] = r
}

// addDB adds DynamoDB request counts by operation to r's reads and writes.
func addDB(r *cost.Requests, db map[string]int) {
	for op, n := range db {
		switch op {
		case "GetItem", "Query", "BatchGetItem", "Scan":
			r.Reads[op] += n
		default:
			r.Writes[op] += n
		}
	}
}

// requests turns one action's counts into a cost.Requests.
func requests(invocations map[string]int, db map[string]int, posts int64, frames, replies int) cost.Requests {
	r := cost.Requests{Invocations: invocations, Reads: map[string]int{}, Writes: map[string]int{}, Posts: int(posts), Frames: frames, Replies: replies}
	addDB(&r, db)
	return r
}

// TestRequestsPerMessage counts the AWS requests of each action: one message (the send
// route, one Lambda invocation, and its fan-out, one stream record) for a direct
// conversation and groups, each member with one open connection, on the stream path alone
// (INLINE_MAX_MEMBERS=0) and with the inline path; a delivered receipt; a heartbeat;
// $connect and $disconnect; a sync. docs/deploy.md derives the cost estimate from these
// counts, and `parley cost` reads them from internal/cost/requests.json, which must equal
// what is measured here (-update-requests rewrites it). The bounds below keep the counts
// from growing unnoticed.
func TestRequestsPerMessage(t *testing.T) {
	m := &measured{actions: map[string]cost.Requests{}}
	t.Run("messages", func(t *testing.T) {
		for _, inline := range []bool{false, true} {
			for _, size := range []int{2, 10, 100} {
				t.Run(fmt.Sprintf("inline=%v/members=%d", inline, size), func(t *testing.T) {
					requestsPerMessage(t, m, inline, size)
				})
			}
		}
	})
	t.Run("connection", func(t *testing.T) { requestsPerConnection(t, m) })
	if t.Failed() {
		return
	}
	got, err := json.MarshalIndent(cost.RequestsFile{Comment: cost.RequestsComment, Actions: m.actions}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("..", "..", cost.RequestsFileName)
	if *updateRequests {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs from the counts measured (run with -update-requests, and update docs/deploy.md): -file +measured\n%s", cost.RequestsFileName, d)
	}
}

// countingEnv is an env whose store counts its DynamoDB requests.
func countingEnv(t *testing.T, inline bool) (*env, *countingDB) {
	cdb := &countingDB{API: db, n: map[string]int{}}
	store, err := dynamo.New(cdb, tables)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, chat.Options{})
	e.store = store
	opts := chat.Options{RateLimit: -1, Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if inline {
		opts.InlineMaxMembers = chat.DefaultInlineMaxMembers
	}
	e.svc = chat.NewService(store, store, store, e.push, opts)
	e.h = NewHandler(e.svc, HandlerOptions{})
	e.stream = NewStreamHandler(e.svc, nil)
	return e, cdb
}

// fn names the function that serves a route (internal/topology).
func fn(route string) string { return topology.Routes()[route] }

// replies is 1 when a route answered with a frame.
func replies(reply map[string]any) int {
	if reply == nil {
		return 0
	}
	return 1
}

func requestsPerMessage(t *testing.T, meas *measured, inline bool, size int) {
	e, cdb := countingEnv(t, inline)
	rec := e.push
	owner := uid("owner")
	oc := e.connect(owner)
	members := users(uid("m"), size-1)
	for _, u := range members {
		e.connect(u)
	}
	frame := map[string]any{"action": "createConversation", "members": members, "name": "cost"}
	if size == 2 {
		delete(frame, "name")
	}
	id := e.must(owner, oc, frame)["conversation"].(map[string]any)["conversationId"].(string)
	cdb.take()
	rec.calls.Store(0)
	rec.reset()

	ack := e.must(owner, oc, map[string]any{"action": "send", "conversationId": id, "clientMsgId": ulid.Make().String(), "body": "hello"})
	send := cdb.take()
	sendPosts := rec.calls.Load()
	sendReplies := replies(ack)
	if inline {
		if ack != nil {
			t.Fatalf("inline: the ack came as the route response %v, want it posted", ack)
		}
		acks := rec.framesOf(oc, "ack")
		if len(acks) != 1 {
			t.Fatalf("inline: %d acks posted to the sender, want 1", len(acks))
		}
		ack = acks[0]
	}
	m, err := e.store.GetMessage(e.ctx, id, ack["messageId"].(string))
	if err != nil {
		t.Fatal(err)
	}
	cdb.take()
	rec.calls.Store(0)
	start := time.Now()
	if r := e.deliver(m); len(r.BatchItemFailures) != 0 {
		t.Fatal(r)
	}
	fan := cdb.take()
	posts := rec.calls.Load()
	t.Logf("inline=%v members=%d send: %d requests (%s), %d posts; fan-out: %d requests (%s), %d posts, %v",
		inline, size, total(send), show(send), sendPosts, total(fan), show(fan), posts, time.Since(start).Round(time.Millisecond))
	kind := "direct"
	if size != 2 {
		kind = fmt.Sprintf("group%d", size)
	}
	path := "stream"
	if inline {
		path = "inline"
	}
	sendReq := requests(map[string]int{fn("send"): 1, "fanout": 1}, send, sendPosts+posts, 1, sendReplies)
	addDB(&sendReq, fan)
	meas.add("send/"+kind+"/"+path, sendReq)

	// A member's delivered receipt, as the cost estimate assumes.
	peer := members[0]
	conns, err := e.store.Connections(e.ctx, peer, time.Now().UnixMilli())
	if err != nil || len(conns) != 1 {
		t.Fatal(conns, err)
	}
	cdb.take()
	rec.calls.Store(0)
	reply := e.must(peer, conns[0].ConnectionID, map[string]any{"action": "receipt", "conversationId": id, "messageId": m.MessageID, "status": "delivered"})
	receipt := cdb.take()
	receiptPosts := rec.calls.Load()
	t.Logf("members=%d delivered receipt: %d requests (%s), %d posts", size, total(receipt), show(receipt), receiptPosts)
	if !inline {
		meas.add("receipt/"+kind, requests(map[string]int{fn("receipt"): 1}, receipt, receiptPosts, 1, replies(reply)))
	}
	requestsPerChange(t, meas, e, cdb, kind+"/"+path, id, m.MessageID, owner, oc, peer, conns[0].ConnectionID)
	if size == 2 {
		// The message, the cursor, the two members' connections.
		if total(receipt) != 4 || receiptPosts != 1 {
			t.Errorf("receipt made %d requests (%s) and %d posts, want 4 and 1", total(receipt), show(receipt), receiptPosts)
		}
	}
	if !inline {
		if total(send) > 4 || sendPosts != 0 {
			t.Errorf("send made %d DynamoDB requests (%s) and %d posts, want at most 4 and none", total(send), show(send), sendPosts)
		}
		// A direct conversation's members follow from its id; a group's are one Query.
		want := 1 + size
		if size == 2 {
			want = size
		}
		if total(fan) != want {
			t.Errorf("fan-out made %d DynamoDB requests, want %d (members of a group + one per member): %s", total(fan), want, show(fan))
		}
		if posts != int64(size) {
			t.Errorf("fan-out posted %d times, want %d", posts, size)
		}
		return
	}
	// Inline: send does the fan-out's reads (a group's member count besides), posts the
	// ack and the message, and writes the mark; the fan-out reads the mark, nothing else.
	want := 4 + 1 + size // stream-path send, the mark, the connections
	if size != 2 {
		want += 2 // the group's META (member count) and members
	}
	if total(send) != want || sendPosts != int64(size+1) {
		t.Errorf("inline send made %d requests (%s) and %d posts, want %d and %d", total(send), show(send), sendPosts, want, size+1)
	}
	if total(fan) != 1 || fan["BatchGetItem"] != 1 || posts != 0 {
		t.Errorf("fan-out of an inline-delivered message made %d requests (%s) and %d posts, want one BatchGetItem and none", total(fan), show(fan), posts)
	}
}

// requestsPerChange measures version 1.1's changes to message messageID, with their
// fan-out: a reply to it, an edit, a reaction and a delete. It checks that a plain send
// paid nothing for them (requestsPerMessage measured it before any change existed).
func requestsPerChange(t *testing.T, meas *measured, e *env, cdb *countingDB, key, conv, messageID, owner, oc, peer, pc string) {
	rec := e.push
	measure := func(name, user, conn string, frame map[string]any) {
		t.Helper()
		cdb.take()
		rec.calls.Store(0)
		rec.reset()
		reply := e.must(user, conn, frame)
		act := cdb.take()
		posts := rec.calls.Load()
		if typ, _ := reply["type"].(string); typ == "error" {
			t.Fatalf("%s: %v", name, reply)
		}
		// The event's stream record: the item just stored, newest of the timeline.
		items, _, err := e.store.After(e.ctx, conv, messageID, 1000)
		if err != nil || len(items) == 0 {
			t.Fatal(items, err)
		}
		ev := items[len(items)-1]
		cdb.take()
		if r := e.deliver(ev); len(r.BatchItemFailures) != 0 {
			t.Fatal(r)
		}
		fan := cdb.take()
		fanPosts := rec.calls.Load() - posts
		// The other member's connection got the event (through the inline path or the
		// stream's record of the stored item), the caller's only the reply.
		other := map[string]string{owner: pc, peer: oc}[user]
		want := map[string]string{"send": "message", "edit": "edited", "react": "reaction", "delete": "deleted"}[frame["action"].(string)]
		if n := len(rec.framesOf(other, want)); n != 1 {
			t.Errorf("%s/%s: the other member got %d %s frames, want 1", name, key, n, want)
		}
		if frame["action"] != "send" && len(rec.framesOf(conn, want)) != 0 {
			t.Errorf("%s/%s: the caller's connection got the %s event besides the reply", name, key, want)
		}
		t.Logf("%s/%s: %d requests (%s), %d posts; fan-out: %d requests (%s), %d posts", name, key,
			total(act), show(act), posts, total(fan), show(fan), fanPosts)
		r := requests(map[string]int{fn(frame["action"].(string)): 1, "fanout": 1}, act, posts+fanPosts, 1, replies(reply))
		addDB(&r, fan)
		meas.add(name+"/"+key, r)
	}
	measure("send-reply", peer, pc, map[string]any{"action": "send", "conversationId": conv, "clientMsgId": ulid.Make().String(), "body": "re", "replyTo": messageID})
	measure("edit", owner, oc, map[string]any{"action": "edit", "conversationId": conv, "messageId": messageID, "body": "hello, edited"})
	measure("react", peer, pc, map[string]any{"action": "react", "conversationId": conv, "messageId": messageID, "emoji": "👍"})
	measure("delete", owner, oc, map[string]any{"action": "delete", "conversationId": conv, "messageId": messageID})
}

// requestsPerConnection counts what a connection costs apart from messages: $connect,
// a steady-state heartbeat, a sync with nothing missed, $disconnect.
func requestsPerConnection(t *testing.T, meas *measured) {
	e, cdb := countingEnv(t, true)
	rec := e.push
	alice, bob := uid("alice"), uid("bob")
	ac := e.connect(alice)
	e.must(alice, ac, map[string]any{"action": "createConversation", "members": []string{bob}})
	e.must(alice, ac, map[string]any{"action": "heartbeat"})

	cdb.take()
	rec.calls.Store(0)
	reply := e.must(alice, ac, map[string]any{"action": "heartbeat"})
	meas.add("heartbeat", requests(map[string]int{fn("heartbeat"): 1}, cdb.take(), rec.calls.Load(), 1, replies(reply)))

	// What every frame cost before protocol 1.1 made presence the open connection: the
	// presence refresh (a conditional UpdateItem that fails while presence is fresh, still
	// one write unit). `parley cost --liveness before` adds it to each frame.
	cdb.take()
	if err := e.svc.Touch(e.ctx, alice); err != nil {
		t.Fatal(err)
	}
	meas.add("presence-refresh", requests(map[string]int{}, cdb.take(), 0, 0, 0))

	cdb.take()
	rec.calls.Store(0)
	reply = e.must(alice, ac, map[string]any{"action": "sync"})
	meas.add("sync/1conversation", requests(map[string]int{fn("sync"): 1}, cdb.take(), rec.calls.Load(), 1, replies(reply)))

	cdb.take()
	rec.calls.Store(0)
	c2 := e.connect(alice) // a second device: presence is fresh already
	meas.add("connect", requests(map[string]int{"authorizer": 1, fn(RouteConnect): 1}, cdb.take(), rec.calls.Load(), 0, 0))

	cdb.take()
	rec.calls.Store(0)
	e.disconnect(alice, c2)
	meas.add("disconnect", requests(map[string]int{fn(RouteDisconnect): 1}, cdb.take(), rec.calls.Load(), 0, 0))
}
