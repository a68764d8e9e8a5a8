package local

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/keyspaces"
	"github.com/parleychat/parley/internal/schema"
	"github.com/parleychat/parley/internal/topology"
)

// DefaultKeyspace is the keyspace of the message tables when Config.Keyspace is empty.
const DefaultKeyspace = "parley"

// checkMessageStore validates the message store settings and parses CassandraHosts: the
// one check of them, for the command line and for every other caller of Start.
func (m *Main) checkMessageStore() error {
	if err := topology.CheckMessageStore(m.cfg.MessageStore); err != nil {
		return err
	}
	if m.cfg.MessageStore != config.StoreKeyspaces {
		if len(m.cfg.CassandraHosts) > 0 {
			return fmt.Errorf("hosts of a Cassandra (%q) are given but the message store is %s (want %s)",
				m.cfg.CassandraHosts, m.cfg.MessageStore, config.StoreKeyspaces)
		}
		return nil
	}
	if err := schema.CheckKeyspace(m.cfg.Keyspace); err != nil {
		return err
	}
	if len(m.cfg.CassandraHosts) == 0 {
		return errors.New("the keyspaces message store needs Cassandra hosts (--cassandra-hosts HOST:PORT, e.g. of scripts/cassandra/cassandra.sh start)")
	}
	hosts, port, err := keyspaces.ParseHosts(m.cfg.CassandraHosts, 0)
	if err != nil {
		return err
	}
	if port == 0 {
		port = keyspaces.DefaultPort
	}
	m.cassandraHosts, m.cassandraPort = hosts, port
	return nil
}

// createKeyspace creates the keyspace and the message tables (single-node replication)
// unless they exist, so that keyspaces mode needs no separate `parley migrate keyspaces`,
// and logs which message store is in use.
func (m *Main) createKeyspace(ctx context.Context) error {
	if m.cfg.MessageStore != config.StoreKeyspaces {
		m.log.Info("local: messages are stored in DynamoDB", "table", m.Tables()[schema.MessagesID])
		return nil
	}
	start := time.Now()
	session, err := keyspaces.Connect(keyspaces.Config{
		Hosts:    m.cassandraHosts,
		Port:     m.cassandraPort,
		Keyspace: m.cfg.Keyspace,
		Timeout:  30 * time.Second, // schema changes are slower than queries
		Logger:   m.log,
	}, false)
	if err != nil {
		return fmt.Errorf("keyspaces message store: %w", err)
	}
	defer session.Close()
	if err := keyspaces.CreateSchema(ctx, session, m.cfg.Keyspace, keyspaces.LocalReplication, false); err != nil {
		return fmt.Errorf("keyspaces message store: %w", err)
	}
	m.log.Info("local: messages are stored in Cassandra; fan-out runs from the Outbox stream",
		"hosts", m.cassandraHosts, "port", m.cassandraPort, "keyspace", m.cfg.Keyspace,
		"outbox", m.Tables()[schema.OutboxID], "schemaReady", time.Since(start).Round(time.Millisecond))
	return nil
}
