package local_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"

	"github.com/parleychat/parley/internal/auth"
	"github.com/parleychat/parley/internal/cassandra"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/client"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/dynalite"
	"github.com/parleychat/parley/internal/local"
	"github.com/parleychat/parley/internal/schema"
)

// eventTimeout bounds the wait for one pushed event or one reply. Fan-out runs through
// the Outbox stream's mapping, and LWTs on a loaded two-core machine take a while.
const eventTimeout = 45 * time.Second

// ksSystem is `parley local` in Keyspaces mode on a real Cassandra, with direct access to
// what it stores: a CQL session on its keyspace and a DynamoDB client on its proxy.
type ksSystem struct {
	m        *local.Main
	secret   []byte
	keyspace string
	cql      *gocql.Session
	ddb      *dynamodb.Client
}

// startKeyspacesSystem starts a Main with MessageStore "keyspaces" on a fresh keyspace of
// the test run's Cassandra (internal/cassandra), and drops the keyspace afterwards.
func startKeyspacesSystem(t *testing.T) *ksSystem {
	t.Helper()
	host, port := cassandra.StartForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := &ksSystem{
		secret:   []byte("keyspaces-e2e-secret-keyspaces-e2e"),
		keyspace: "parley_e2e_" + strings.ToLower(ulid.Make().String()[18:]),
	}

	// The session that checks what Parley stored: plain gocql, not the code under test.
	cluster := gocql.NewCluster(host)
	cluster.Port = port
	cluster.Timeout = 30 * time.Second
	cluster.ConnectTimeout = 30 * time.Second
	cluster.Consistency = gocql.LocalQuorum
	admin, err := cluster.CreateSession()
	if err != nil {
		t.Fatalf("connect to cassandra %s:%d: %v", host, port, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := admin.Query("DROP KEYSPACE IF EXISTS " + s.keyspace).ExecContext(ctx); err != nil {
			t.Errorf("drop keyspace %s: %v", s.keyspace, err)
		}
		admin.Close()
	})
	s.cql = admin

	s.m = local.New(local.Config{
		Addr:           "127.0.0.1:0",
		JWTSecret:      s.secret,
		MessageStore:   config.StoreKeyspaces,
		CassandraHosts: []string{net.JoinHostPort(host, strconv.Itoa(port))},
		Keyspace:       s.keyspace,
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	start := time.Now()
	if err := s.m.Start(ctx); err != nil {
		_ = s.m.Close()
		t.Fatalf("start parley local in keyspaces mode: %v", err)
	}
	t.Logf("parley local (keyspaces %s on %s:%d) started in %v", s.keyspace, host, port, time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := s.m.Close(); err != nil {
			t.Errorf("close parley local: %v", err)
		}
	})
	s.ddb = dynalite.NewClient(s.m.DynamoDBEndpoint())
	return s
}

// dial connects user with a token signed by auth.Sign, as a client holding a token does.
func (s *ksSystem) dial(t *testing.T, user string) *client.Conn {
	t.Helper()
	tok, err := auth.Sign(s.secret, user, time.Hour)
	if err != nil {
		t.Fatalf("sign token for %s: %v", user, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	c, err := client.Dial(ctx, s.m.WebSocketURL(), tok, &client.Options{HeartbeatInterval: -1, RequestTimeout: eventTimeout})
	if err != nil {
		t.Fatalf("dial as %s: %v", user, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// ctx returns a context for one request.
func reqCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	t.Cleanup(cancel)
	return ctx
}

// waitEvent reads c's events until one matches, failing the test after eventTimeout.
// Events that do not match are dropped.
func waitEvent(t *testing.T, c *client.Conn, what string, match func(client.Event) bool) client.Event {
	t.Helper()
	deadline := time.NewTimer(eventTimeout)
	defer deadline.Stop()
	var seen []string
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("waiting for %s: connection ended: %v", what, c.Err())
			}
			if match(ev) {
				return ev
			}
			seen = append(seen, ev.Type)
		case <-deadline.C:
			t.Fatalf("waiting for %s: nothing after %v (other events: %v)", what, eventTimeout, seen)
		}
	}
}

func messageEvent(messageID string) func(client.Event) bool {
	return func(ev client.Event) bool {
		return ev.Type == client.TypeMessage && ev.Message.MessageID == messageID
	}
}

// nextMessage returns the next message event of c in conversationID.
func nextMessage(t *testing.T, c *client.Conn, conversationID string) client.Message {
	t.Helper()
	ev := waitEvent(t, c, "a message in "+conversationID, func(ev client.Event) bool {
		return ev.Type == client.TypeMessage && ev.Message.ConversationID == conversationID
	})
	return *ev.Message
}

// cqlRow is a row of the messages table.
type cqlRow struct {
	MessageID, SenderID, Body, ClientMsgID string
	CreatedAt                              int64
}

// cqlMessages reads a conversation's partition straight from Cassandra, in clustering
// order (newest first).
func (s *ksSystem) cqlMessages(t *testing.T, conversationID string) []cqlRow {
	t.Helper()
	iter := s.cql.Query("SELECT message_id, sender_id, body, client_msg_id, created_at FROM "+s.keyspace+
		".messages WHERE conversation_id = ?", conversationID).IterContext(reqCtx(t))
	var rows []cqlRow
	var r cqlRow
	for iter.Scan(&r.MessageID, &r.SenderID, &r.Body, &r.ClientMsgID, &r.CreatedAt) {
		rows = append(rows, r)
	}
	if err := iter.Close(); err != nil {
		t.Fatalf("cql: read messages of %s: %v", conversationID, err)
	}
	return rows
}

// cqlCursor reads a member's cursor row from Cassandra; "" when it has none.
func (s *ksSystem) cqlCursor(t *testing.T, conversationID, user, status string) string {
	t.Helper()
	var upTo string
	err := s.cql.Query("SELECT up_to FROM "+s.keyspace+".cursors WHERE conversation_id = ? AND user_id = ? AND status = ?",
		conversationID, user, status).ScanContext(reqCtx(t), &upTo)
	if errors.Is(err, gocql.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatalf("cql: read %s cursor of %s in %s: %v", status, user, conversationID, err)
	}
	return upTo
}

// outboxItem reads the Outbox item of a message through the SDK; nil when there is none.
func (s *ksSystem) outboxItem(t *testing.T, conversationID, messageID string) map[string]types.AttributeValue {
	t.Helper()
	out, err := s.ddb.GetItem(reqCtx(t), &dynamodb.GetItemInput{
		TableName:      aws.String(s.m.Tables()[schema.OutboxID]),
		ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{
			schema.AttrConversationID: &types.AttributeValueMemberS{Value: conversationID},
			schema.AttrMessageID:      &types.AttributeValueMemberS{Value: messageID},
		},
	})
	if err != nil {
		t.Fatalf("dynamodb: get outbox item %s/%s: %v", conversationID, messageID, err)
	}
	return out.Item
}

// countItems counts the items of a conversation in a table keyed by conversationId
// (Messages or Outbox).
func (s *ksSystem) countItems(t *testing.T, tableID, conversationID string) int32 {
	t.Helper()
	out, err := s.ddb.Query(reqCtx(t), &dynamodb.QueryInput{
		TableName:              aws.String(s.m.Tables()[tableID]),
		KeyConditionExpression: aws.String("#c = :c"),
		ExpressionAttributeNames: map[string]string{
			"#c": schema.AttrConversationID,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":c": &types.AttributeValueMemberS{Value: conversationID},
		},
		Select:         types.SelectCount,
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("dynamodb: count %s items of %s: %v", tableID, conversationID, err)
	}
	return out.Count
}

func str(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// TestKeyspacesEndToEnd runs the protocol against `parley local` with the Keyspaces
// message store on a real Apache Cassandra, with real WebSocket clients, and checks what
// landed in Cassandra and in the DynamoDB Outbox table.
func TestKeyspacesEndToEnd(t *testing.T) {
	t.Parallel()
	s := startKeyspacesSystem(t)
	if got := s.m.MessageStore(); got != config.StoreKeyspaces {
		t.Fatalf("MessageStore() = %q, want %q", got, config.StoreKeyspaces)
	}

	t.Run("schema created on start", func(t *testing.T) {
		var tables []string
		iter := s.cql.Query("SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?", s.keyspace).IterContext(reqCtx(t))
		var name string
		for iter.Scan(&name) {
			tables = append(tables, name)
		}
		if err := iter.Close(); err != nil {
			t.Fatal(err)
		}
		slices.Sort(tables)
		if want := []string{"cursors", "messages", "reservations"}; !slices.Equal(tables, want) {
			t.Fatalf("tables of keyspace %s = %v, want %v", s.keyspace, tables, want)
		}
	})

	t.Run("changes through the outbox", func(t *testing.T) {
		t.Parallel()
		alice, bob := s.dial(t, "carla"), s.dial(t, "dan")
		ack, err := alice.SendDirect(reqCtx(t), "dan", "k1", "helo dan")
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		conv := ack.ConversationID
		waitEvent(t, bob, "the message", messageEvent(ack.MessageID))
		reply, err := bob.SendReply(reqCtx(t), conv, "k2", "hi", ack.MessageID)
		if err != nil {
			t.Fatalf("reply: %v", err)
		}
		if m := waitEvent(t, alice, "the reply", messageEvent(reply.MessageID)).Message; m.ReplyTo == nil || m.ReplyTo.Preview != "helo dan" {
			t.Fatalf("the reply's replyTo %+v", m.ReplyTo)
		}
		ed, err := alice.Edit(reqCtx(t), conv, ack.MessageID, "hello dan")
		if err != nil {
			t.Fatalf("edit: %v", err)
		}
		waitEvent(t, bob, "the edit", func(ev client.Event) bool { return ev.Type == client.TypeEdited && ev.Edited.EventID == ed.EventID })
		rx, err := bob.React(reqCtx(t), conv, ack.MessageID, "👍", client.ReactionAdd)
		if err != nil {
			t.Fatalf("react: %v", err)
		}
		waitEvent(t, alice, "the reaction", func(ev client.Event) bool { return ev.Type == client.TypeReaction && ev.Reaction.EventID == rx.EventID })
		// The events drove the fan-out through the outbox, like messages.
		for _, id := range []string{ed.EventID, rx.EventID} {
			if item := s.outboxItem(t, conv, id); item == nil || str(item, "kind") == "" {
				t.Fatalf("outbox item of change %s = %v, want the change event", id, item)
			}
		}
		page, err := bob.History(reqCtx(t), conv, "", 0)
		if err != nil {
			t.Fatalf("history: %v", err)
		}
		if len(page.Messages) != 2 || page.Messages[1].Body != "hello dan" || page.Messages[1].EditedAt != ed.EditedAt ||
			len(page.Messages[1].Reactions) != 1 || !page.Messages[1].Reactions[0].Mine {
			t.Fatalf("history %+v", page.Messages)
		}
		del, err := alice.Delete(reqCtx(t), conv, ack.MessageID)
		if err != nil {
			t.Fatalf("delete: %v", err)
		}
		waitEvent(t, bob, "the delete", func(ev client.Event) bool { return ev.Type == client.TypeDeleted && ev.Deleted.EventID == del.EventID })
		// Erased in Cassandra: the message's body and the edit's.
		for _, r := range s.cqlMessages(t, conv) {
			if r.Body != "" && (r.MessageID == ack.MessageID || r.MessageID == ed.EventID) {
				t.Fatalf("cassandra still holds the body of %s after the delete: %+v", r.MessageID, r)
			}
		}
	})

	t.Run("direct message through the outbox", func(t *testing.T) {
		t.Parallel()
		alice, bob := s.dial(t, "alice"), s.dial(t, "bob")
		ack, err := alice.SendDirect(reqCtx(t), "bob", "c1", "hello bob")
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		conv := ack.ConversationID
		for name, c := range map[string]*client.Conn{"alice": alice, "bob": bob} {
			m := *waitEvent(t, c, name+"'s message event", messageEvent(ack.MessageID)).Message
			if m.ConversationID != conv || m.SenderID != "alice" || m.Body != "hello bob" || m.ClientMsgID != "c1" || m.CreatedAt != ack.CreatedAt {
				t.Errorf("%s got %+v, ack %+v", name, m, ack)
			}
		}

		// The message is in Cassandra...
		rows := s.cqlMessages(t, conv)
		if len(rows) != 1 || rows[0] != (cqlRow{MessageID: ack.MessageID, SenderID: "alice", Body: "hello bob", ClientMsgID: "c1", CreatedAt: ack.CreatedAt}) {
			t.Fatalf("cassandra rows of %s = %+v, want the acked message", conv, rows)
		}
		// ...its copy in the Outbox drove the fan-out, with a TTL...
		item := s.outboxItem(t, conv, ack.MessageID)
		if item == nil || str(item, "body") != "hello bob" || str(item, "senderId") != "alice" {
			t.Fatalf("outbox item of %s = %v, want the message", ack.MessageID, item)
		}
		exp, ok := item[schema.AttrExpiresAt].(*types.AttributeValueMemberN)
		if !ok {
			t.Fatalf("outbox item has no %s: %v", schema.AttrExpiresAt, item)
		}
		if n, err := strconv.ParseInt(exp.Value, 10, 64); err != nil || n <= time.Now().Unix() {
			t.Errorf("outbox %s = %q, want a future Unix time", schema.AttrExpiresAt, exp.Value)
		}
		// ...and the DynamoDB Messages table holds nothing of it.
		if n := s.countItems(t, schema.MessagesID, conv); n != 0 {
			t.Errorf("DynamoDB Messages has %d items of %s, want 0 in keyspaces mode", n, conv)
		}

		// The stream fan-out may deliver the first message once more (at least once: on
		// a loaded machine the inline push can take longer than chat.InlineGrace, and the
		// fan-out then delivers it too). Let that happen before the resends, so what bob
		// gets after them is theirs.
		drainUntil := time.After(chat.InlineGrace + 1500*time.Millisecond)
	drain:
		for {
			select {
			case ev := <-bob.Events():
				if ev.Type == client.TypeMessage && ev.Message.MessageID != ack.MessageID {
					t.Fatalf("bob got %+v before the resends, want only duplicates of %s", ev.Message, ack.MessageID)
				}
			case <-drainUntil:
				break drain
			}
		}

		// Resends with the same clientMsgId (by conversation id and by "to") get the same
		// message id, and Cassandra keeps one message.
		for i, resend := range []func() (*client.Ack, error){
			func() (*client.Ack, error) { return alice.Send(reqCtx(t), conv, "c1", "hello bob") },
			func() (*client.Ack, error) { return alice.SendDirect(reqCtx(t), "bob", "c1", "hello bob") },
		} {
			again, err := resend()
			if err != nil {
				t.Fatalf("resend %d: %v", i+1, err)
			}
			if again.MessageID != ack.MessageID || again.CreatedAt != ack.CreatedAt || again.ConversationID != conv {
				t.Fatalf("resend %d acked %+v, want message %s", i+1, again, ack.MessageID)
			}
		}
		if rows := s.cqlMessages(t, conv); len(rows) != 1 {
			t.Fatalf("after resends cassandra has %d rows in %s, want 1: %+v", len(rows), conv, rows)
		}
		// A resend rewrites the outbox item (a MODIFY, which the mapping filters out): the
		// next message bob receives is the next one sent, not the resent one again.
		next, err := alice.SendDirect(reqCtx(t), "bob", "c2", "second")
		if err != nil {
			t.Fatal(err)
		}
		if got := nextMessage(t, bob, conv); got.MessageID != next.MessageID {
			t.Fatalf("bob's next message is %s (%q), want %s: a resend was fanned out again", got.MessageID, got.Body, next.MessageID)
		}
		if n := s.countItems(t, schema.OutboxID, conv); n != 2 {
			t.Errorf("outbox holds %d items of %s, want 2", n, conv)
		}
		if rows := s.cqlMessages(t, conv); len(rows) != 2 || rows[0].MessageID != next.MessageID {
			t.Errorf("cassandra rows of %s = %+v, want 2, newest first", conv, rows)
		}
	})

	t.Run("history paging, receipts and status", func(t *testing.T) {
		t.Parallel()
		carol, dave := s.dial(t, "carol"), s.dial(t, "dave")
		var ids []string
		var conv string
		for i := range 7 {
			ack, err := carol.SendDirect(reqCtx(t), "dave", fmt.Sprintf("h%d", i), fmt.Sprintf("message %d", i))
			if err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
			if len(ids) > 0 && ack.MessageID <= ids[len(ids)-1] {
				t.Fatalf("message ids out of order: %s after %s", ack.MessageID, ids[len(ids)-1])
			}
			ids, conv = append(ids, ack.MessageID), ack.ConversationID
		}
		waitEvent(t, dave, "dave's last message", messageEvent(ids[6]))

		// history returns every page newest first, with next pointing at the older page.
		history := func(c *client.Conn) []client.Message {
			t.Helper()
			var all []client.Message
			before := ""
			for page := 0; ; page++ {
				p, err := c.History(reqCtx(t), conv, before, 3)
				if err != nil {
					t.Fatalf("history page %d: %v", page, err)
				}
				if wantLen := min(3, 7-3*page); len(p.Messages) != wantLen {
					t.Fatalf("history page %d has %d messages, want %d", page, len(p.Messages), wantLen)
				}
				all = append(all, p.Messages...)
				if p.Next == "" {
					break
				}
				if p.Next != p.Messages[len(p.Messages)-1].MessageID {
					t.Fatalf("history page %d: next %s is not its oldest message", page, p.Next)
				}
				before = p.Next
			}
			if len(all) != 7 {
				t.Fatalf("history has %d messages, want 7", len(all))
			}
			for i, m := range all {
				if want := ids[6-i]; m.MessageID != want || m.Body != fmt.Sprintf("message %d", 6-i) {
					t.Fatalf("history[%d] = %s %q, want %s (newest first)", i, m.MessageID, m.Body, want)
				}
			}
			return all
		}
		statuses := func() []string {
			var out []string
			for _, m := range history(carol) {
				out = append(out, m.Status)
			}
			slices.Reverse(out) // oldest first, like ids
			return out
		}
		if got, want := statuses(), slices.Repeat([]string{client.StatusSent}, 7); !slices.Equal(got, want) {
			t.Fatalf("statuses before receipts %v, want %v", got, want)
		}

		// dave's receipts move his cursors in Cassandra and reach carol as events.
		rc, err := dave.Receipt(reqCtx(t), conv, ids[3], client.StatusDelivered)
		if err != nil {
			t.Fatal(err)
		}
		if rc.UserID != "dave" || rc.UpTo != ids[3] || rc.Status != client.StatusDelivered {
			t.Fatalf("receipt reply %+v", rc)
		}
		ev := waitEvent(t, carol, "dave's delivered receipt", func(ev client.Event) bool {
			return ev.Type == client.TypeReceipt && ev.Receipt.UserID == "dave" && ev.Receipt.Status == client.StatusDelivered
		})
		if ev.Receipt.UpTo != ids[3] || ev.Receipt.ConversationID != conv {
			t.Fatalf("carol's receipt event %+v, want up to %s", ev.Receipt, ids[3])
		}
		if _, err := dave.Receipt(reqCtx(t), conv, ids[1], client.StatusRead); err != nil {
			t.Fatal(err)
		}
		waitEvent(t, carol, "dave's read receipt", func(ev client.Event) bool {
			return ev.Type == client.TypeReceipt && ev.Receipt.UserID == "dave" && ev.Receipt.Status == client.StatusRead && ev.Receipt.UpTo == ids[1]
		})
		// A receipt behind the cursor is accepted and changes nothing.
		if _, err := dave.Receipt(reqCtx(t), conv, ids[2], client.StatusDelivered); err != nil {
			t.Fatal(err)
		}
		if d, r := s.cqlCursor(t, conv, "dave", "delivered"), s.cqlCursor(t, conv, "dave", "read"); d != ids[3] || r != ids[1] {
			t.Fatalf("cassandra cursors of dave: delivered %q read %q, want %s and %s", d, r, ids[3], ids[1])
		}
		if c := s.cqlCursor(t, conv, "carol", "delivered"); c != "" {
			t.Errorf("carol has a delivered cursor %q without any receipt", c)
		}

		want := []string{"read", "read", "delivered", "delivered", "sent", "sent", "sent"}
		if got := statuses(); !slices.Equal(got, want) {
			t.Fatalf("statuses after receipts %v, want %v", got, want)
		}
		// The recipient's history carries no status on messages others sent.
		for _, m := range history(dave) {
			if m.Status != "" {
				t.Fatalf("dave's history shows status %q on carol's message %s", m.Status, m.MessageID)
			}
		}
		// A receipt for a message Cassandra does not have is not_found.
		if _, err := dave.Receipt(reqCtx(t), conv, ulid.Make().String(), client.StatusRead); client.ErrorCode(err) != client.CodeNotFound {
			t.Fatalf("receipt for an unknown message: %v, want %s", err, client.CodeNotFound)
		}
	})

	t.Run("sync after being offline", func(t *testing.T) {
		t.Parallel()
		erin := s.dial(t, "erin")
		var convID string
		send := func(i int) string {
			t.Helper()
			ack, err := erin.SendDirect(reqCtx(t), "frank", fmt.Sprintf("s%d", i), fmt.Sprintf("while away %d", i))
			if err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
			// erin's own copy arrives from the same fan-out that found frank offline.
			waitEvent(t, erin, "erin's copy", messageEvent(ack.MessageID))
			convID = ack.ConversationID
			return ack.MessageID
		}
		// syncAs connects frank, replays what he missed and returns the ids of the messages
		// after his cursor after, in the order they arrived (duplicates dropped, as clients
		// do): want of them. Sync may also replay, from its settling window, messages at or
		// before the cursor; those are left out.
		syncAs := func(after string, want int) (*client.Conn, []string) {
			t.Helper()
			frank := s.dial(t, "frank")
			n, err := frank.SyncAll(reqCtx(t))
			if err != nil {
				t.Fatalf("sync: %v", err)
			}
			if n < want {
				t.Fatalf("sync sent %d messages, want at least %d", n, want)
			}
			var got []string
			for len(got) < want {
				ev := waitEvent(t, frank, "a synced message", func(ev client.Event) bool { return ev.Type == client.TypeMessage })
				if id := ev.Message.MessageID; id > after && !slices.Contains(got, id) {
					got = append(got, id)
				}
			}
			return frank, got
		}

		first := []string{send(0), send(1), send(2)}
		frank, got := syncAs("", 3)
		if !slices.Equal(got, first) {
			t.Fatalf("first sync delivered %v, want %v (oldest first)", got, first)
		}
		if c := s.cqlCursor(t, convID, "frank", "delivered"); c != first[2] {
			t.Fatalf("frank's delivered cursor in cassandra is %q after sync, want %s", c, first[2])
		}
		if err := frank.Close(); err != nil {
			t.Fatal(err)
		}

		second := []string{send(3), send(4)}
		frank, got = syncAs(first[2], 2)
		if !slices.Equal(got, second) {
			t.Fatalf("second sync delivered %v, want only the messages sent while away %v", got, second)
		}
		if res, err := frank.Sync(reqCtx(t)); err != nil || res.More {
			t.Fatalf("sync with nothing missed: %+v, %v", res, err)
		}
		// Its messages came before its reply: they are on Events already.
		for drained := false; !drained; {
			select {
			case ev, ok := <-frank.Events():
				drained = !ok
				if ok && ev.Type == client.TypeMessage && ev.Message.MessageID > second[1] {
					t.Fatalf("sync with nothing missed sent %s, after the cursor %s", ev.Message.MessageID, second[1])
				}
			default:
				drained = true
			}
		}
		if c := s.cqlCursor(t, convID, "frank", "delivered"); c != second[1] {
			t.Fatalf("frank's delivered cursor in cassandra is %q, want %s", c, second[1])
		}
	})

	t.Run("group", func(t *testing.T) {
		t.Parallel()
		gina := s.dial(t, "gina")
		others := map[string]*client.Conn{"hank": s.dial(t, "hank"), "ivan": s.dial(t, "ivan"), "judy": s.dial(t, "judy")}
		g, err := gina.CreateConversation(reqCtx(t), "Trip", "hank", "ivan", "judy")
		if err != nil {
			t.Fatal(err)
		}
		if g.Kind != client.KindGroup || len(g.Members) != 4 {
			t.Fatalf("group %+v, want 4 members", g)
		}
		for name, c := range others {
			waitEvent(t, c, name+"'s conversation event", func(ev client.Event) bool {
				return ev.Type == client.TypeConversation && ev.Conversation.ConversationID == g.ConversationID
			})
		}
		ack, err := gina.Send(reqCtx(t), g.ConversationID, "g1", "who packs the tent?")
		if err != nil {
			t.Fatal(err)
		}
		waitEvent(t, gina, "gina's own copy", messageEvent(ack.MessageID))
		for name, c := range others {
			if m := waitEvent(t, c, name+"'s copy", messageEvent(ack.MessageID)).Message; m.Body != "who packs the tent?" || m.SenderID != "gina" {
				t.Errorf("%s got %+v", name, m)
			}
		}
		reply, err := others["hank"].Send(reqCtx(t), g.ConversationID, "g2", "I do")
		if err != nil {
			t.Fatal(err)
		}
		for name, c := range map[string]*client.Conn{"gina": gina, "ivan": others["ivan"], "judy": others["judy"]} {
			waitEvent(t, c, name+"'s copy of hank's reply", messageEvent(reply.MessageID))
		}
		if rows := s.cqlMessages(t, g.ConversationID); len(rows) != 2 || rows[0].MessageID != reply.MessageID || rows[1].MessageID != ack.MessageID {
			t.Fatalf("cassandra rows of the group = %+v, want hank's reply then gina's message", rows)
		}
		for _, id := range []string{ack.MessageID, reply.MessageID} {
			if s.outboxItem(t, g.ConversationID, id) == nil {
				t.Errorf("no outbox item for %s", id)
			}
		}

		if _, err := others["hank"].Receipt(reqCtx(t), g.ConversationID, ack.MessageID, client.StatusDelivered); err != nil {
			t.Fatal(err)
		}
		if _, err := others["ivan"].Receipt(reqCtx(t), g.ConversationID, reply.MessageID, client.StatusRead); err != nil {
			t.Fatal(err)
		}
		p, err := gina.History(reqCtx(t), g.ConversationID, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Messages) != 2 || p.Next != "" {
			t.Fatalf("group history %+v, want 2 messages and no next", p)
		}
		own := p.Messages[1]
		if own.MessageID != ack.MessageID || own.DeliveredTo == nil || own.ReadBy == nil || *own.DeliveredTo != 2 || *own.ReadBy != 1 {
			t.Fatalf("gina's message in history: %+v (deliveredTo %v readBy %v), want delivered to 2 (hank, ivan), read by 1 (ivan)",
				own, deref(own.DeliveredTo), deref(own.ReadBy))
		}
		if p.Messages[0].DeliveredTo != nil || p.Messages[0].Status != "" {
			t.Errorf("hank's message carries a status for gina: %+v", p.Messages[0])
		}
	})

	t.Run("conversations with unread", func(t *testing.T) {
		t.Parallel()
		lena, mike, nora := s.dial(t, "lena"), s.dial(t, "mike"), s.dial(t, "nora")
		var dm client.Ack
		for i := range 3 {
			a, err := mike.SendDirect(reqCtx(t), "lena", fmt.Sprintf("u%d", i), fmt.Sprintf("ping %d", i))
			if err != nil {
				t.Fatal(err)
			}
			dm = *a
		}
		g, err := nora.CreateConversation(reqCtx(t), "Book club", "lena", "mike")
		if err != nil {
			t.Fatal(err)
		}
		var groupIDs []string
		for i := range 2 {
			a, err := nora.Send(reqCtx(t), g.ConversationID, fmt.Sprintf("n%d", i), fmt.Sprintf("chapter %d", i))
			if err != nil {
				t.Fatal(err)
			}
			groupIDs = append(groupIDs, a.MessageID)
		}
		own, err := lena.Send(reqCtx(t), g.ConversationID, "l0", "on it")
		if err != nil {
			t.Fatal(err)
		}

		unread := func() map[string]int {
			t.Helper()
			list, err := lena.Conversations(reqCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 2 || list[0].ConversationID != g.ConversationID || list[1].ConversationID != dm.ConversationID {
				t.Fatalf("lena's conversations %+v, want the group (newest activity) then the DM", list)
			}
			if lm := list[0].LastMessage; lm == nil || lm.MessageID != own.MessageID {
				t.Fatalf("group's last message %+v, want lena's %s", lm, own.MessageID)
			}
			if lm := list[1].LastMessage; lm == nil || lm.MessageID != dm.MessageID || lm.Body != "ping 2" {
				t.Fatalf("DM's last message %+v, want %s", lm, dm.MessageID)
			}
			return map[string]int{"group": list[0].Unread, "dm": list[1].Unread}
		}
		// Her own message does not count as unread.
		if got := unread(); got["dm"] != 3 || got["group"] != 2 {
			t.Fatalf("unread %v, want dm 3 and group 2", got)
		}
		if _, err := lena.Receipt(reqCtx(t), dm.ConversationID, dm.MessageID, client.StatusRead); err != nil {
			t.Fatal(err)
		}
		if _, err := lena.Receipt(reqCtx(t), g.ConversationID, groupIDs[0], client.StatusRead); err != nil {
			t.Fatal(err)
		}
		if got := unread(); got["dm"] != 0 || got["group"] != 1 {
			t.Fatalf("unread after reading %v, want dm 0 and group 1", got)
		}
		if r := s.cqlCursor(t, g.ConversationID, "lena", "read"); r != groupIDs[0] {
			t.Fatalf("lena's read cursor in cassandra %q, want %s", r, groupIDs[0])
		}
	})
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestMessageStoreConfigErrors checks that Start refuses a bad message store
// configuration with a clear error, before it starts anything.
func TestMessageStoreConfigErrors(t *testing.T) {
	t.Parallel()
	// A port where nothing listens: Start must report the Cassandra it cannot reach.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	_ = ln.Close()

	tests := []struct {
		name    string
		cfg     local.Config
		wantErr string
	}{
		{"unknown store", local.Config{MessageStore: "mongodb"}, `unknown message store "mongodb"`},
		{"keyspaces without hosts", local.Config{MessageStore: config.StoreKeyspaces}, "needs Cassandra hosts"},
		{"hosts without keyspaces", local.Config{CassandraHosts: []string{"127.0.0.1:9042"}}, "message store is dynamodb"},
		{"bad keyspace", local.Config{MessageStore: config.StoreKeyspaces, CassandraHosts: []string{"127.0.0.1"}, Keyspace: "my-keyspace"}, `bad keyspace name "my-keyspace"`},
		{"bad host", local.Config{MessageStore: config.StoreKeyspaces, CassandraHosts: []string{"127.0.0.1:0x"}}, "port must be"},
		{"cassandra not running", local.Config{MessageStore: config.StoreKeyspaces, CassandraHosts: []string{closed}}, "keyspaces message store: connect to cassandra"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cfg := tt.cfg
			cfg.Addr = "127.0.0.1:0"
			cfg.JWTSecret = []byte("secret")
			cfg.Logger = slog.New(slog.DiscardHandler)
			m := local.New(cfg)
			err := m.Start(ctx)
			_ = m.Close()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Start = %v, want an error with %q", err, tt.wantErr)
			}
		})
	}
}
