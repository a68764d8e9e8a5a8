package keyspaces

import (
	"strings"
	"testing"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestConfigDefaults(t *testing.T) {
	c, err := Config{Hosts: []string{"127.0.0.1"}, Keyspace: "parley"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != DefaultPort || c.WriteConsistency != gocql.LocalQuorum || c.ReadConsistency != gocql.LocalQuorum ||
		c.SerialConsistency != gocql.LocalSerial || c.LWTAttempts != 4 || c.Logger == nil {
		t.Fatalf("defaults = %+v", c)
	}
	aws, err := Config{Hosts: []string{"cassandra.eu-west-1.amazonaws.com"}, Keyspace: "parley", Region: "eu-west-1",
		Credentials: aws.AnonymousCredentials{}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if aws.Port != KeyspacesPort {
		t.Fatalf("port with Region = %d, want %d", aws.Port, KeyspacesPort)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		c    Config
		want string
	}{
		"no hosts":       {Config{Keyspace: "k"}, "no hosts"},
		"empty host":     {Config{Hosts: []string{""}, Keyspace: "k"}, "empty host"},
		"bad keyspace":   {Config{Hosts: []string{"h"}, Keyspace: "k; DROP"}, "bad keyspace"},
		"no keyspace":    {Config{Hosts: []string{"h"}}, "bad keyspace"},
		"region no cred": {Config{Hosts: []string{"h"}, Keyspace: "k", Region: "eu-west-1"}, "Credentials"},
		"bad port":       {Config{Hosts: []string{"h"}, Keyspace: "k", Port: 70000}, "bad port"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := tc.c.withDefaults()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("withDefaults() error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestSchemaValidation(t *testing.T) {
	if _, err := Schema("parley", KeyspacesReplication); err != nil {
		t.Fatalf("Schema with Keyspaces replication: %v", err)
	}
	stmts, err := Schema("parley", "{'class': 'NetworkTopologyStrategy', 'dc1': 3}")
	if err != nil {
		t.Fatalf("Schema with NetworkTopologyStrategy: %v", err)
	}
	if len(stmts) != 1+len(TableNames) || !strings.Contains(stmts[1], "CLUSTERING ORDER BY (message_id DESC)") {
		t.Fatalf("statements = %q", stmts)
	}
	for _, bad := range []string{"", "SimpleStrategy", "{'class': 'x'} AND durable_writes = false", "{'replication_factor': 1}"} {
		if _, err := Schema("parley", bad); err == nil {
			t.Errorf("Schema accepted replication %q", bad)
		}
	}
	if _, err := Schema("1bad", LocalReplication); err == nil {
		t.Error("Schema accepted keyspace 1bad")
	}
}
