package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/local"
	"github.com/parleychat/parley/internal/localgw"
	"github.com/parleychat/parley/internal/schema"
	"github.com/parleychat/parley/web"
)

func init() {
	commands["local"] = command{summary: "run the whole system on this machine", run: runLocal}
}

func runLocal(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("parley local", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "HTTP listen address (WebSocket at /ws, web client at /)")
	dataDir := fs.String("data-dir", "", "keep DynamoDB data (dynalite) in this directory; in memory when empty")
	ddbEndpoint := fs.String("dynamodb-endpoint", "", "use this DynamoDB endpoint (e.g. LocalStack's) instead of starting dynalite")
	idle := fs.Duration("idle-timeout", localgw.DefaultIdleTimeout, "close WebSocket connections idle this long")
	lifetime := fs.Duration("max-lifetime", localgw.DefaultMaxLifetime, "close WebSocket connections open this long")
	ttl := fs.Duration("ttl-interval", 2*time.Second, "how often expired TTL items are deleted")
	externalFanout := fs.Bool("external-fanout", false, "with --dynamodb-endpoint: leave streams, TTL and fan-out to that DynamoDB's own mappings (LocalStack hybrid), so nothing is pushed twice")
	store := fs.String("message-store", config.StoreDynamoDB, "where messages live: dynamodb, or keyspaces (a Cassandra at --cassandra-hosts; fan-out from the Outbox stream)")
	cassandraHosts := fs.String("cassandra-hosts", "", "Cassandra contact points for --message-store keyspaces, comma-separated HOST:PORT (default port 9042)")
	keyspace := fs.String("keyspace", local.DefaultKeyspace, "Cassandra keyspace of the message tables (created with its tables unless it exists)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *dataDir != "" && *ddbEndpoint != "" {
		return fmt.Errorf("--data-dir and --dynamodb-endpoint exclude each other")
	}
	var hosts []string // validated with the rest of the message store settings by Start
	if strings.TrimSpace(*cassandraHosts) != "" {
		hosts = strings.Split(*cassandraHosts, ",")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	secret := os.Getenv("PARLEY_JWT_SECRET")
	if secret == "" {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		secret = hex.EncodeToString(b)
		fmt.Fprintln(os.Stderr, "PARLEY_JWT_SECRET is not set: using a random secret for this session;"+
			" tokens from `parley token` will not work, use the token endpoint below (or set PARLEY_JWT_SECRET).")
	}
	m := local.New(local.Config{
		Addr:             *addr,
		DataDir:          *dataDir,
		DynamoDBEndpoint: *ddbEndpoint,
		ExternalFanout:   *externalFanout,
		IdleTimeout:      *idle,
		MaxLifetime:      *lifetime,
		TTLInterval:      *ttl,
		JWTSecret:        []byte(secret),
		Web:              web.Handler(),
		Logger:           log,
		MessageStore:     *store,
		CassandraHosts:   hosts,
		Keyspace:         *keyspace,
	})
	if err := m.Start(ctx); err != nil {
		_ = m.Close()
		return err
	}
	fmt.Printf("Parley is running.\n  WebSocket:  %s?token=TOKEN\n  Web client: http://%s/\n"+
		"  Token:      curl 'http://%s/local/token?user=alice'  (or: PARLEY_JWT_SECRET=... parley token --user alice)\n"+
		"  DynamoDB:   %s\n  Messages:   %s\nPress Ctrl-C to stop.\n", m.WebSocketURL(), m.Addr(), m.Addr(), m.DynamoDBEndpoint(),
		describeStore(m, *cassandraHosts))
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "stopping...")
	return m.Close()
}

// describeStore says where `parley local` keeps messages, for its banner.
func describeStore(m *local.Main, cassandraHosts string) string {
	tables := m.Tables()
	if m.MessageStore() == config.StoreKeyspaces {
		return fmt.Sprintf("Cassandra at %s, keyspace %s (Keyspaces mode; fan-out from the %s stream)",
			cassandraHosts, m.Keyspace(), tables[schema.OutboxID])
	}
	return fmt.Sprintf("DynamoDB table %s", tables[schema.MessagesID])
}
