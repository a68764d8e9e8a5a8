package keyspaces

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/oklog/ulid/v2"

	"github.com/parleychat/parley/internal/cassandra"
	"github.com/parleychat/parley/internal/chat"
)

// TestSchemaColumns holds messagesAdded, the CREATE TABLE statement and the column list of
// the statements in step.
func TestSchemaColumns(t *testing.T) {
	stmts, err := Schema("ks", LocalReplication)
	if err != nil {
		t.Fatal(err)
	}
	var create string
	for _, st := range stmts {
		if strings.HasPrefix(st, "CREATE TABLE IF NOT EXISTS ks.messages ") {
			create = st
		}
	}
	if create == "" {
		t.Fatal("no CREATE TABLE for messages")
	}
	for _, c := range messagesAdded {
		if !strings.Contains(create, "\n\t"+c.name+" "+c.cqlType+",\n") {
			t.Errorf("CREATE TABLE messages lacks %s %s", c.name, c.cqlType)
		}
	}
	cols := strings.Split(messageCols, ", ")
	for _, c := range cols {
		if !strings.Contains(create, "\n\t"+c+" ") {
			t.Errorf("messageCols names %s, which CREATE TABLE messages lacks", c)
		}
	}
	args, err := insertArgs(chat.Message{ConversationID: "c", MessageID: "m"})
	if err != nil || len(args) != len(cols) || len(new(row).dest()) != len(cols) {
		t.Fatalf("insertArgs gives %d values (%v), row.dest %d, for %d columns", len(args), err, len(new(row).dest()), len(cols))
	}
}

// TestApplyChangeOutcomeUnknown: a change whose LWT applied but answered with a timeout is
// repeated; the repeat finds the row changed, reads it, recognises its own state and
// reports the change applied. A put likewise.
func TestApplyChangeOutcomeUnknown(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	faulty := *s
	faulty.lwtFault = func(attempt int, err error) error {
		if attempt == 0 && err == nil {
			return &gocql.RequestErrWriteTimeout{}
		}
		return err
	}
	ctx := context.Background()
	m := chat.Message{ConversationID: "c-" + newID(), MessageID: newID(), SenderID: "alice", Body: "hi", CreatedAt: 1, ClientMsgID: "k"}
	if err := faulty.PutMessage(ctx, m); err != nil {
		t.Fatalf("PutMessage after a timeout that hid its success: %v", err)
	}
	next := m
	next.Body, next.EditedAt, next.Version = "edited", 2, 1
	next.Changes = []chat.Change{{Kind: chat.ChangeEdit, EventID: newID(), MessageID: m.MessageID, UserID: "alice", At: 2}}
	next.LastEventID, next.EditIDs = next.Changes[0].EventID, []string{next.Changes[0].EventID}
	if err := faulty.ApplyChange(ctx, next, 0); err != nil {
		t.Fatalf("ApplyChange after a timeout that hid its success: %v", err)
	}
	got, err := s.GetMessage(ctx, m.ConversationID, m.MessageID)
	if err != nil || !reflect.DeepEqual(got, next) {
		t.Fatalf("GetMessage = %+v, %v; want %+v", got, err, next)
	}
	// Another change from the same version is still a conflict, retried or not.
	other := next
	other.Body = "other"
	if err := faulty.ApplyChange(ctx, other, 0); !errors.Is(err, chat.ErrConflict) {
		t.Fatalf("a different change from a version that moved: %v, want ErrConflict", err)
	}
}

// TestBeforePastManyEvents: history reads past runs of change events longer than a page,
// and counts stay exact.
func TestBeforePastManyEvents(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	ctx := context.Background()
	conv := "c-" + newID()
	var msgs []chat.Message
	for i := range 3 {
		m := chat.Message{ConversationID: conv, MessageID: newID(), SenderID: "alice", Body: fmt.Sprint("m", i), CreatedAt: int64(i)}
		if err := s.PutMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
		for j := range 12 {
			id := newID()
			ev := chat.Message{ConversationID: conv, MessageID: id, SenderID: "bob", CreatedAt: int64(i), Origin: "conn",
				Change: &chat.Change{Kind: chat.ChangeReaction, EventID: id, MessageID: m.MessageID, UserID: "bob", At: int64(i), Emoji: fmt.Sprint(j), State: chat.ReactionAdd}}
			if err := s.PutMessage(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		before string
		limit  int
		want   []chat.Message
		more   bool
	}{
		{"", 1, msgs[2:], true},
		{"", 2, []chat.Message{msgs[2], msgs[1]}, true},
		{"", 3, []chat.Message{msgs[2], msgs[1], msgs[0]}, false},
		{"", 50, []chat.Message{msgs[2], msgs[1], msgs[0]}, false},
		{msgs[2].MessageID, 1, msgs[1:2], true},
		{msgs[1].MessageID, 1, msgs[0:1], false},
		{msgs[0].MessageID, 5, nil, false},
	} {
		got, more, err := s.Before(ctx, conv, tc.before, tc.limit)
		if err != nil || more != tc.more || !reflect.DeepEqual(msgIDs(got), msgIDs(tc.want)) {
			t.Errorf("Before(%q, %d) = %v, more %v, %v; want %v, more %v", tc.before, tc.limit, msgIDs(got), more, err, msgIDs(tc.want), tc.more)
		}
	}
	if n, err := s.CountAfter(ctx, conv, "", "", 100); err != nil || n != 3 {
		t.Errorf("CountAfter = %d, %v; want 3", n, err)
	}
	if n, err := s.CountAfter(ctx, conv, msgs[0].MessageID, "", 100); err != nil || n != 2 {
		t.Errorf("CountAfter the first = %d, %v; want 2", n, err)
	}
	all, more, err := s.After(ctx, conv, "", 1000)
	if err != nil || more || len(all) != 3+3*12 {
		t.Errorf("After = %d items, more %v, %v; want %d", len(all), more, err, 3+3*12)
	}
}

// oldMessages is the messages table as created before protocol 1.1.
const oldMessages = `CREATE TABLE %s.messages (
	conversation_id text,
	message_id text,
	sender_id text,
	body text,
	created_at bigint,
	client_msg_id text,
	PRIMARY KEY ((conversation_id), message_id)
) WITH CLUSTERING ORDER BY (message_id DESC)`

// TestSchemaUpgrade upgrades a keyspace whose messages table predates protocol 1.1 (two of
// the new columns already added, as by an interrupted upgrade), and changes the messages
// it held: their first change takes the path for rows without a version.
func TestSchemaUpgrade(t *testing.T) {
	t.Parallel()
	s := newTestStore(t) // the shared session and node
	session := s.session
	host, port := cassandra.StartForTest(t)
	ks := "parley_up_" + strings.ToLower(ulid.Make().String()[20:])
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	exec := func(stmt string, args ...any) {
		t.Helper()
		if err := session.Query(stmt, args...).Consistency(gocql.LocalQuorum).ExecContext(ctx); err != nil {
			t.Fatalf("%s: %v", firstLine(stmt), err)
		}
	}
	exec(fmt.Sprintf("CREATE KEYSPACE %s WITH replication = %s", ks, LocalReplication))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := session.Query("DROP KEYSPACE IF EXISTS " + ks).ExecContext(ctx); err != nil {
			t.Logf("drop keyspace %s: %v", ks, err)
		}
	})
	exec(fmt.Sprintf(oldMessages, ks))
	exec(fmt.Sprintf("ALTER TABLE %s.messages ADD (version int, kind text)", ks))
	conv := "c-" + newID()
	old := make([]chat.Message, 3)
	for i := range old {
		old[i] = chat.Message{ConversationID: conv, MessageID: newID(), SenderID: fmt.Sprint("u", i), Body: fmt.Sprint("old ", i), CreatedAt: int64(i + 1), ClientMsgID: fmt.Sprint("k", i)}
		exec(fmt.Sprintf("INSERT INTO %s.messages (conversation_id, message_id, sender_id, body, created_at, client_msg_id) VALUES (?, ?, ?, ?, ?, ?)", ks),
			old[i].ConversationID, old[i].MessageID, old[i].SenderID, old[i].Body, old[i].CreatedAt, old[i].ClientMsgID)
	}

	start := time.Now()
	for range 2 { // the second run finds nothing to do
		if err := CreateSchema(ctx, session, ks, LocalReplication, false); err != nil {
			t.Fatalf("CreateSchema on the old schema: %v", err)
		}
	}
	t.Logf("upgraded keyspace %s in %v", ks, time.Since(start).Round(time.Millisecond))
	if missing, err := missingColumns(ctx, session, ks, "messages", messagesAdded); err != nil || len(missing) > 0 {
		t.Fatalf("after the upgrade: missing %v, %v", missing, err)
	}
	// The error a concurrent migration meets is recognised.
	err := session.Query(fmt.Sprintf("ALTER TABLE %s.messages ADD (deleted boolean)", ks)).ExecContext(ctx)
	if err == nil || !alreadyExists(err) {
		t.Fatalf("ALTER TABLE ADD of an existing column: %v, want an error alreadyExists knows", err)
	}
	// A column of another type is reported, not overlooked.
	exec(fmt.Sprintf("CREATE TABLE %s.wrong (conversation_id text PRIMARY KEY, version text)", ks))
	if _, err := missingColumns(ctx, session, ks, "wrong", messagesAdded); err == nil || !strings.Contains(err.Error(), "version is text, want int") {
		t.Fatalf("missingColumns with a column of another type: %v", err)
	}

	up, err := New(session, Config{Hosts: []string{host}, Port: port, Keyspace: ks})
	if err != nil {
		t.Fatal(err)
	}
	got, err := up.GetMessage(ctx, conv, old[0].MessageID)
	if err != nil || !reflect.DeepEqual(got, old[0]) {
		t.Fatalf("GetMessage of an old row = %+v, %v; want %+v", got, err, old[0])
	}
	next := old[0]
	next.Body, next.EditedAt, next.Version = "edited", 10, 1
	next.Changes = []chat.Change{{Kind: chat.ChangeEdit, EventID: newID(), MessageID: next.MessageID, UserID: next.SenderID, At: 10}}
	next.LastEventID, next.EditIDs = next.Changes[0].EventID, []string{next.Changes[0].EventID}
	if err := up.ApplyChange(ctx, next, 0); err != nil {
		t.Fatalf("first change of an old row: %v", err)
	}
	stale := old[0]
	stale.Body, stale.Version = "lost", 1
	if err := up.ApplyChange(ctx, stale, 0); !errors.Is(err, chat.ErrConflict) {
		t.Fatalf("a second change from version 0: %v, want ErrConflict", err)
	}
	if err := up.PutMessage(ctx, old[0]); err != nil {
		t.Fatal(err)
	}
	if got, err := up.GetMessage(ctx, conv, old[0].MessageID); err != nil || !reflect.DeepEqual(got, next) {
		t.Fatalf("after the change and a put of the old copy: %+v, %v; want %+v", got, err, next)
	}
	// Of concurrent first changes of an old row exactly one applies.
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := old[1]
			c.Body, c.Version = fmt.Sprint("edit ", i), 1
			errs[i] = up.ApplyChange(ctx, c, 0)
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("changes %d and %d of an old row both applied", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, chat.ErrConflict):
			t.Fatalf("a losing change of an old row: %v, want ErrConflict", err)
		}
	}
	if won < 0 {
		t.Fatal("no concurrent change of an old row applied")
	}
	if got, err := up.GetMessage(ctx, conv, old[1].MessageID); err != nil || got.Body != fmt.Sprint("edit ", won) || got.Version != 1 {
		t.Fatalf("old row after the race: %+v, %v", got, err)
	}
	// Old rows are messages for history and unread counts, beside new ones.
	fresh := chat.Message{ConversationID: conv, MessageID: newID(), SenderID: "u9", Body: "new", CreatedAt: 9}
	if err := up.PutMessage(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	hist, more, err := up.Before(ctx, conv, "", 10)
	if err != nil || more || !reflect.DeepEqual(msgIDs(hist), []string{fresh.MessageID, old[2].MessageID, old[1].MessageID, old[0].MessageID}) {
		t.Fatalf("Before = %v, more %v, %v", msgIDs(hist), more, err)
	}
	if n, err := up.CountAfter(ctx, conv, "", "u9", 100); err != nil || n != 3 {
		t.Fatalf("CountAfter = %d, %v; want 3", n, err)
	}
	// A missing row is still not found on the path for rows without a version.
	missing := old[2]
	missing.MessageID, missing.Version = newID(), 1
	if err := up.ApplyChange(ctx, missing, 0); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("ApplyChange of a missing message: %v, want ErrNotFound", err)
	}
}
