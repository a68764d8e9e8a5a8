package keyspaces

import (
	"github.com/parleychat/parley/internal/schema"

	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// Replication strategies for CreateSchema.
const (
	// LocalReplication suits a single Apache Cassandra node (tests, `parley local`).
	LocalReplication = "{'class': 'SimpleStrategy', 'replication_factor': 1}"
	// KeyspacesReplication is Amazon Keyspaces' single-region replication (three copies
	// across availability zones).
	KeyspacesReplication = "{'class': 'SingleRegionStrategy'}"
)

// Tables of the message store. The keyspace is written in by Schema.
//
//   - messages: one partition per conversation, newest first. History pages and sync are
//     range reads of one partition. A row is a message or a change event (protocol 1.1:
//     kind set). A message carries its folded state: reply_to_* (the quoted message),
//     edited_at, deleted, reactions (JSON: emoji → sorted user ids), version (0 when stored,
//     one more per change), last_change (JSON of the change applied last, without its
//     body) and edit_ids (JSON: the edit events whose bodies are kept). A change event has kind (edit, delete,
//     reaction), target (the message changed), emoji and state (a reaction's), origin (the
//     connection that made it); its sender_id is the user who made it, created_at its time
//     and body an edit's body. A message row is written only by lightweight transactions
//     (INSERT ... IF NOT EXISTS, then UPDATE ... IF version = ?), an event row only by plain
//     writes (INSERT, DELETE body), so the two kinds of write never mix on a row.
//   - reservations: send's idempotency keys, written only by INSERT ... IF NOT EXISTS.
//   - cursors: one row per (member, status), written only by lightweight transactions: the
//     first move of a cursor is INSERT ... IF NOT EXISTS, later ones UPDATE ... IF up_to < ?.
//     A row per status (rather than two columns in one row) keeps every condition on a
//     non-null value: in CQL `IF col < ?` is false when col is null, and Keyspaces is not
//     documented to accept `IF col = null`.
var tables = []string{
	`CREATE TABLE IF NOT EXISTS %s.messages (
	conversation_id text,
	message_id text,
	sender_id text,
	body text,
	created_at bigint,
	client_msg_id text,
	reply_to_id text,
	reply_sender text,
	reply_preview text,
	edited_at bigint,
	deleted boolean,
	reactions text,
	version int,
	last_change text,
	edit_ids text,
	kind text,
	target text,
	emoji text,
	state text,
	origin text,
	PRIMARY KEY ((conversation_id), message_id)
) WITH CLUSTERING ORDER BY (message_id DESC)`,
	`CREATE TABLE IF NOT EXISTS %s.reservations (
	conversation_id text,
	sender_id text,
	client_msg_id text,
	message_id text,
	created_at bigint,
	PRIMARY KEY ((conversation_id, sender_id, client_msg_id))
)`,
	`CREATE TABLE IF NOT EXISTS %s.cursors (
	conversation_id text,
	user_id text,
	status text,
	up_to text,
	PRIMARY KEY ((conversation_id), user_id, status)
)`,
}

// TableNames are the tables CreateSchema creates.
var TableNames = []string{"messages", "reservations", "cursors"}

// column is a column's name and CQL type.
type column struct{ name, cqlType string }

// messagesAdded are the columns of the messages table that protocol 1.1 added (timeline
// changes: replies, edits, deletes, reactions). A table created before them lacks them;
// CreateSchema adds the missing ones with ALTER TABLE. Each is in the CREATE TABLE
// statement as well, with the same type (TestSchemaColumns).
var messagesAdded = []column{
	{"reply_to_id", "text"},
	{"reply_sender", "text"},
	{"reply_preview", "text"},
	{"edited_at", "bigint"},
	{"deleted", "boolean"},
	{"reactions", "text"},
	{"version", "int"},
	{"last_change", "text"},
	{"edit_ids", "text"},
	{"kind", "text"},
	{"target", "text"},
	{"emoji", "text"},
	{"state", "text"},
	{"origin", "text"},
}

// Schema returns the CQL statements that create the keyspace (with the given replication
// map, such as LocalReplication) and the tables, each idempotent (IF NOT EXISTS).
func Schema(keyspace, replication string) ([]string, error) {
	if err := schema.CheckKeyspace(keyspace); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	if err := validReplication(replication); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	stmts := []string{fmt.Sprintf("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = %s", keyspace, replication)}
	for _, t := range tables {
		stmts = append(stmts, fmt.Sprintf(t, keyspace))
	}
	return stmts, nil
}

// replicationMap accepts a CQL map literal of quoted names and values.
var replicationMap = regexp.MustCompile(`^\{\s*'[A-Za-z_]+'\s*:\s*'[A-Za-z0-9_.]+'(\s*,\s*'[A-Za-z0-9_]+'\s*:\s*'?[A-Za-z0-9_.]+'?)*\s*\}$`)

func validReplication(r string) error {
	if !replicationMap.MatchString(r) || !strings.Contains(r, "'class'") {
		return fmt.Errorf("bad replication %q: want a CQL map such as %s", r, LocalReplication)
	}
	return nil
}

// CreateSchema creates the keyspace and the tables unless they exist, then adds to a
// messages table created before protocol 1.1 the columns it lacks (UpgradeMessages). With
// awaitActive (Amazon Keyspaces, where creation and ALTER TABLE are asynchronous) it waits
// until system_schema_mcs.tables reports every table ACTIVE, or ctx ends. Running it again
// changes nothing.
func CreateSchema(ctx context.Context, session *gocql.Session, keyspace, replication string, awaitActive bool) error {
	stmts, err := Schema(keyspace, replication)
	if err != nil {
		return err
	}
	for i, stmt := range stmts {
		q := session.Query(stmt).Consistency(gocql.LocalQuorum)
		if err := q.ExecContext(ctx); err != nil {
			return fmt.Errorf("create schema, statement %d (%s): %w", i+1, firstLine(stmt), err)
		}
		if i == 0 && awaitActive {
			if err := awaitKeyspace(ctx, session, keyspace); err != nil {
				return err
			}
		}
	}
	if awaitActive {
		for _, t := range TableNames {
			if err := awaitTable(ctx, session, keyspace, t); err != nil {
				return err
			}
		}
	}
	return UpgradeMessages(ctx, session, keyspace, awaitActive)
}

// UpgradeMessages adds to keyspace's messages table the columns of messagesAdded that it
// lacks (a table created before protocol 1.1), reading system_schema.columns first so that
// an up-to-date table costs no schema change: one ALTER TABLE ... ADD (...) with every
// missing column, or, when a concurrent migration added some of them meanwhile (the
// statement fails with "already exists"), one ALTER per column, each ignoring that error.
// A column that exists with another type is an error. With awaitActive it then waits
// for the table to be ACTIVE again (Keyspaces applies ALTER TABLE asynchronously).
//
// Rows written before the upgrade have the new columns null: a message without a version
// (ApplyChange handles it), and no change events.
func UpgradeMessages(ctx context.Context, session *gocql.Session, keyspace string, awaitActive bool) error {
	if err := schema.CheckKeyspace(keyspace); err != nil {
		return fmt.Errorf("upgrade schema: %w", err)
	}
	missing, err := missingColumns(ctx, session, keyspace, "messages", messagesAdded)
	if err != nil || len(missing) == 0 {
		return err
	}
	defs := make([]string, len(missing))
	for i, c := range missing {
		defs[i] = c.name + " " + c.cqlType
	}
	alter := func(defs string) error {
		return session.Query(fmt.Sprintf("ALTER TABLE %s.messages ADD (%s)", keyspace, defs)).
			Consistency(gocql.LocalQuorum).ExecContext(ctx)
	}
	err = alter(strings.Join(defs, ", "))
	if err != nil && alreadyExists(err) {
		err = nil
		for _, d := range defs {
			if e := alter(d); e != nil && !alreadyExists(e) {
				err = e
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("upgrade schema: add %s to %s.messages: %w", strings.Join(defs, ", "), keyspace, err)
	}
	if awaitActive {
		if err := awaitTable(ctx, session, keyspace, "messages"); err != nil {
			return err
		}
	}
	if missing, err = missingColumns(ctx, session, keyspace, "messages", messagesAdded); err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("upgrade schema: %s.messages still lacks %d columns (%s, ...) after ALTER TABLE", keyspace, len(missing), missing[0].name)
	}
	return nil
}

// missingColumns returns the columns of want that table lacks, reading system_schema.columns
// (which Amazon Keyspaces serves too). A column present with another type is an error.
func missingColumns(ctx context.Context, session *gocql.Session, keyspace, table string, want []column) ([]column, error) {
	// Unquoted names are stored in lower case.
	iter := session.Query(`SELECT column_name, type FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?`, strings.ToLower(keyspace), table).
		Consistency(gocql.LocalQuorum).IterContext(ctx)
	have := map[string]string{}
	var name, typ string
	for iter.Scan(&name, &typ) {
		have[name] = strings.ToLower(typ)
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("read the columns of %s.%s: %w", keyspace, table, err)
	}
	if len(have) == 0 {
		return nil, fmt.Errorf("read the columns of %s.%s: the table does not exist", keyspace, table)
	}
	var missing []column
	for _, c := range want {
		switch t, ok := have[c.name]; {
		case !ok:
			missing = append(missing, c)
		case t != c.cqlType:
			return nil, fmt.Errorf("%s.%s: column %s is %s, want %s", keyspace, table, c.name, t, c.cqlType)
		}
	}
	return missing, nil
}

// alreadyExists reports the error of ALTER TABLE ... ADD for a column that exists.
func alreadyExists(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "already exist") || strings.Contains(msg, "conflicts with an existing column")
}

func awaitKeyspace(ctx context.Context, session *gocql.Session, keyspace string) error {
	return poll(ctx, "keyspace "+keyspace, func() (bool, error) {
		var name string
		err := session.Query(`SELECT keyspace_name FROM system_schema_mcs.keyspaces WHERE keyspace_name = ?`, strings.ToLower(keyspace)).
			Consistency(gocql.LocalQuorum).ScanContext(ctx, &name)
		if errors.Is(err, gocql.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	})
}

func awaitTable(ctx context.Context, session *gocql.Session, keyspace, table string) error {
	return poll(ctx, "table "+keyspace+"."+table, func() (bool, error) {
		var status string
		err := session.Query(`SELECT status FROM system_schema_mcs.tables WHERE keyspace_name = ? AND table_name = ?`, strings.ToLower(keyspace), table).
			Consistency(gocql.LocalQuorum).ScanContext(ctx, &status)
		if errors.Is(err, gocql.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return strings.EqualFold(status, "ACTIVE"), nil
	})
}

// poll calls ready every two seconds until it reports true, returns an error, or ctx ends.
func poll(ctx context.Context, what string, ready func() (bool, error)) error {
	for {
		ok, err := ready()
		if err != nil {
			return fmt.Errorf("wait for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s to become active: %w", what, ctx.Err())
		case <-time.After(2 * time.Second):
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
