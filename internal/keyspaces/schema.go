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
//     range reads of one partition.
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

// CreateSchema creates the keyspace and the tables unless they exist. With awaitActive
// (Amazon Keyspaces, where creation is asynchronous) it then waits until
// system_schema_mcs.tables reports every table ACTIVE, or ctx ends.
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
	return nil
}

func awaitKeyspace(ctx context.Context, session *gocql.Session, keyspace string) error {
	return poll(ctx, "keyspace "+keyspace, func() (bool, error) {
		var name string
		err := session.Query(`SELECT keyspace_name FROM system_schema_mcs.keyspaces WHERE keyspace_name = ?`, keyspace).
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
		err := session.Query(`SELECT status FROM system_schema_mcs.tables WHERE keyspace_name = ? AND table_name = ?`, keyspace, table).
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
