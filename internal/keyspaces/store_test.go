package keyspaces

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sync"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/oklog/ulid/v2"

	"github.com/parleychat/parley/internal/cassandra"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/chat/chattest"
)

// One keyspace per test process on the shared Cassandra node; tests keep apart by using
// fresh conversation ids. TestMain drops it at the end.
var (
	schemaOnce  sync.Once
	schemaErr   error
	testConfig  Config
	testSession *gocql.Session
)

func TestMain(m *testing.M) {
	code := m.Run()
	if testSession != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := testSession.Query("DROP KEYSPACE IF EXISTS " + testConfig.Keyspace).ExecContext(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "drop test keyspace %s: %v\n", testConfig.Keyspace, err)
		}
		cancel()
		testSession.Close()
	}
	os.Exit(code)
}

// newTestStore returns a store on the test keyspace of a real Cassandra (see
// internal/cassandra), creating the schema on first use.
func newTestStore(t testing.TB) *Store {
	t.Helper()
	host, port := cassandra.StartForTest(t)
	schemaOnce.Do(func() {
		testConfig = Config{
			Hosts:    []string{host},
			Port:     port,
			Keyspace: "parley_test_" + ulid.Make().String()[20:],
			Timeout:  20 * time.Second, // a loaded 2-core machine is slow at Paxos
		}
		testSession, schemaErr = Connect(testConfig, false)
		if schemaErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		start := time.Now()
		schemaErr = CreateSchema(ctx, testSession, testConfig.Keyspace, LocalReplication, false)
		t.Logf("created keyspace %s in %v", testConfig.Keyspace, time.Since(start).Round(time.Millisecond))
	})
	if schemaErr != nil {
		t.Fatalf("test schema: %v", schemaErr)
	}
	s, err := New(testSession, testConfig)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestMessageStoreContract runs the shared chat.MessageStore suite on a real Cassandra.
func TestMessageStoreContract(t *testing.T) {
	chattest.RunMessageStoreTests(t, func(t *testing.T) chat.MessageStore { return newTestStore(t) })
}

func newID() string { return ulid.Make().String() }

func TestMessagesPaging(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	ctx := context.Background()
	conv := "c-" + newID()
	var ids []string
	for i := 0; i < 7; i++ {
		m := chat.Message{ConversationID: conv, MessageID: newID(), SenderID: fmt.Sprintf("u%d", i%2), Body: fmt.Sprintf("m%d", i), CreatedAt: int64(i), ClientMsgID: fmt.Sprintf("k%d", i)}
		if err := s.PutMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.MessageID)
	}
	// Idempotent put.
	again := chat.Message{ConversationID: conv, MessageID: ids[6], SenderID: "u0", Body: "m6", CreatedAt: 6, ClientMsgID: "k6"}
	if err := s.PutMessage(ctx, again); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetMessage(ctx, conv, ids[6])
	if err != nil || !reflect.DeepEqual(got, again) {
		t.Fatalf("GetMessage = %+v, %v; want %+v", got, err, again)
	}
	if _, err := s.GetMessage(ctx, conv, newID()); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("GetMessage of a missing id: %v, want ErrNotFound", err)
	}

	page, more, err := s.Before(ctx, conv, "", 3)
	if err != nil || !more || len(page) != 3 || page[0].MessageID != ids[6] || page[2].MessageID != ids[4] {
		t.Fatalf("Before(\"\", 3) = %v ids, more %v, err %v", msgIDs(page), more, err)
	}
	page, more, err = s.Before(ctx, conv, ids[2], 5)
	if err != nil || more || len(page) != 2 || page[0].MessageID != ids[1] || page[1].MessageID != ids[0] {
		t.Fatalf("Before(ids[2], 5) = %v, more %v, err %v", msgIDs(page), more, err)
	}
	page, more, err = s.After(ctx, conv, "", 2)
	if err != nil || !more || len(page) != 2 || page[0].MessageID != ids[0] || page[1].MessageID != ids[1] {
		t.Fatalf("After(\"\", 2) = %v, more %v, err %v", msgIDs(page), more, err)
	}
	page, more, err = s.After(ctx, conv, ids[4], 2)
	if err != nil || more || len(page) != 2 || page[0].MessageID != ids[5] || page[1].MessageID != ids[6] {
		t.Fatalf("After(ids[4], 2) = %v, more %v, err %v", msgIDs(page), more, err)
	}
	if _, _, err := s.Before(ctx, conv, "", 0); err == nil {
		t.Fatal("Before with limit 0 succeeded")
	}
	if _, _, err := s.After(ctx, "", "", 1); err == nil {
		t.Fatal("After without a conversation id succeeded")
	}

	for _, tc := range []struct {
		after, exclude string
		max, want      int
	}{
		{"", "", 100, 7},
		{"", "u0", 100, 3}, // u1 sent m1, m3, m5
		{ids[2], "u1", 100, 2},
		{"", "", 4, 4},
		{ids[6], "", 10, 0},
		{"", "", 0, 0},
	} {
		n, err := s.CountAfter(ctx, conv, tc.after, tc.exclude, tc.max)
		if err != nil || n != tc.want {
			t.Errorf("CountAfter(%q, %q, %d) = %d, %v; want %d", tc.after, tc.exclude, tc.max, n, err, tc.want)
		}
	}
}

func msgIDs(ms []chat.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.MessageID
	}
	return out
}

func TestReserveConcurrent(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	ctx := context.Background()
	conv := "c-" + newID()
	const n = 6
	results := make([]chat.Reservation, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = s.Reserve(ctx, chat.Reservation{ConversationID: conv, SenderID: "alice", ClientMsgID: "k1", MessageID: newID(), CreatedAt: int64(i + 1)})
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Reserve %d: %v", i, errs[i])
		}
		if results[i] != results[0] {
			t.Fatalf("Reserve %d got %+v, Reserve 0 got %+v: want one winner for all", i, results[i], results[0])
		}
	}
	// A later call gets the winner; another clientMsgId gets its own.
	later, err := s.Reserve(ctx, chat.Reservation{ConversationID: conv, SenderID: "alice", ClientMsgID: "k1", MessageID: newID(), CreatedAt: 99})
	if err != nil || later != results[0] {
		t.Fatalf("later Reserve = %+v, %v; want %+v", later, err, results[0])
	}
	other := chat.Reservation{ConversationID: conv, SenderID: "alice", ClientMsgID: "k2", MessageID: newID(), CreatedAt: 5}
	if got, err := s.Reserve(ctx, other); err != nil || got != other {
		t.Fatalf("Reserve of another key = %+v, %v; want %+v", got, err, other)
	}
}

func TestCursors(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	ctx := context.Background()
	conv := "c-" + newID()
	m1, m2, m3 := newID(), newID(), newID()

	steps := []struct {
		user, status, upTo string
		moved              bool
	}{
		{"bob", chat.StatusDelivered, m2, true},  // first move
		{"bob", chat.StatusDelivered, m1, false}, // never backwards
		{"bob", chat.StatusDelivered, m2, false}, // same place
		{"bob", chat.StatusRead, m1, true},       // read is its own cursor
		{"bob", chat.StatusDelivered, m3, true},
		{"carol", chat.StatusRead, m3, true},
	}
	for _, st := range steps {
		moved, err := s.AdvanceCursor(ctx, conv, st.user, st.status, st.upTo)
		if err != nil || moved != st.moved {
			t.Fatalf("AdvanceCursor(%s, %s, %s) = %v, %v; want %v", st.user, st.status, st.upTo, moved, err, st.moved)
		}
	}
	got, err := s.Cursors(ctx, conv, []string{"carol", "dave", "bob"})
	if err != nil {
		t.Fatal(err)
	}
	want := []chat.Cursor{{UserID: "carol", ReadUpTo: m3}, {UserID: "dave"}, {UserID: "bob", DeliveredUpTo: m3, ReadUpTo: m1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Cursors = %+v, want %+v", got, want)
	}
	if _, err := s.AdvanceCursor(ctx, conv, "bob", "seen", m3); err == nil {
		t.Fatal("AdvanceCursor with an unknown status succeeded")
	}
}

func TestCursorConcurrentFirstMoves(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	ctx := context.Background()
	conv := "c-" + newID()
	ids := make([]string, 5)
	for i := range ids {
		ids[i] = newID()
	}
	moved := make([]bool, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			moved[i], errs[i] = s.AdvanceCursor(ctx, conv, "erin", chat.StatusDelivered, ids[i])
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("AdvanceCursor %d: %v", i, err)
		}
	}
	// Whatever the interleaving, the cursor ends at the highest id, and the move to the
	// highest id reported that it moved.
	cs, err := s.Cursors(ctx, conv, []string{"erin"})
	if err != nil || cs[0].DeliveredUpTo != ids[len(ids)-1] {
		t.Fatalf("cursor = %+v, %v; want DeliveredUpTo %s", cs, err, ids[len(ids)-1])
	}
	if !moved[len(ids)-1] {
		t.Fatal("the move to the highest id reported moved = false")
	}
}
