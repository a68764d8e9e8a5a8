package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/oklog/ulid/v2"

	"github.com/parleychat/parley/internal/cassandra"
)

func TestMigrateKeyspacesCreatesSchema(t *testing.T) {
	host, port := cassandra.StartForTest(t)
	ks := "parley_migrate_" + strings.ToLower(ulid.Make().String()[20:])
	ctx := context.Background()
	args := []string{"keyspaces", "--hosts", fmt.Sprintf("%s:%d", host, port), "--keyspace", ks}
	for i := range 2 { // the second run finds everything in place
		if err := runMigrate(ctx, args); err != nil {
			t.Fatalf("migrate run %d: %v", i+1, err)
		}
	}

	cluster := gocql.NewCluster(host)
	cluster.Port = port
	cluster.Timeout = 20 * time.Second
	session, err := cluster.CreateSession()
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close()
	t.Cleanup(func() { _ = session.Query("DROP KEYSPACE IF EXISTS " + ks).Exec() })
	var tables []string
	iter := session.Query("SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?", ks).Iter()
	var name string
	for iter.Scan(&name) {
		tables = append(tables, name)
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tables, ","); got != "cursors,messages,reservations" {
		t.Fatalf("tables of %s = %s", ks, got)
	}
	var order string
	if err := session.Query("SELECT clustering_order FROM system_schema.columns WHERE keyspace_name = ? AND table_name = 'messages' AND column_name = 'message_id'", ks).Scan(&order); err != nil || order != "desc" {
		t.Fatalf("clustering order of messages.message_id = %q, %v; want desc", order, err)
	}
}

func TestMigrateArgs(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no target":       {nil, "missing target"},
		"unknown target":  {[]string{"dynamo"}, "unknown migrate target"},
		"no hosts":        {[]string{"keyspaces"}, "--hosts is required"},
		"bad host":        {[]string{"keyspaces", "--hosts", "a:b"}, "bad --hosts"},
		"ports differ":    {[]string{"keyspaces", "--hosts", "a:1,b:2"}, "ports differ"},
		"bad keyspace":    {[]string{"keyspaces", "--hosts", "a", "--keyspace", "x-y"}, "--keyspace: bad keyspace name"},
		"bad replication": {[]string{"keyspaces", "--hosts", "a", "--replication", "3"}, "bad --replication"},
		"extra argument":  {[]string{"keyspaces", "--hosts", "a", "more"}, "unexpected arguments"},
	} {
		t.Run(name, func(t *testing.T) {
			err := runMigrate(ctx, tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("runMigrate(%q) = %v, want an error mentioning %q", tc.args, err, tc.want)
			}
		})
	}
}
