package main

import (
	"github.com/parleychat/parley/internal/schema"

	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/keyspaces"
)

func init() {
	commands["migrate"] = command{summary: "create the Keyspaces (Cassandra) schema", run: runMigrate}
}

func runMigrate(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "keyspaces" {
		fmt.Fprintln(os.Stderr, "usage: parley migrate keyspaces [flags]   (run with -h for the flags)")
		if len(args) == 0 {
			return errors.New("missing target: keyspaces")
		}
		return fmt.Errorf("unknown migrate target %q (the only one is keyspaces)", args[0])
	}
	return migrateKeyspaces(ctx, args[1:])
}

func migrateKeyspaces(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("parley migrate keyspaces", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: parley migrate keyspaces --hosts HOST[:PORT][,...] [flags]

Creates the message store's keyspace and tables (messages, reservations, cursors) unless
they exist. Against Amazon Keyspaces (--region) it connects with TLS on port %d and SigV4
(the AWS SDK's default credentials) and waits until every table is ACTIVE.

Examples:
  parley migrate keyspaces --hosts 127.0.0.1:9042 --keyspace parley
  parley migrate keyspaces --hosts cassandra.eu-west-1.amazonaws.com --region eu-west-1 --keyspace parley

flags:
`, keyspaces.KeyspacesPort)
		fs.PrintDefaults()
	}
	var (
		hosts       = fs.String("hosts", "", "contact points, comma-separated, each HOST or HOST:PORT (required)")
		port        = fs.Int("port", 0, "CQL port for hosts without one (default 9042, or 9142 with --region)")
		keyspace    = fs.String("keyspace", "parley", "keyspace to create")
		replication = fs.String("replication", "", "replication map (default "+keyspaces.LocalReplication+", or "+keyspaces.KeyspacesReplication+" with --region)")
		region      = fs.String("region", "", "AWS region: Amazon Keyspaces with TLS and SigV4")
		caFile      = fs.String("ca-file", "", "PEM bundle to verify the server with (default: the system's roots)")
		useTLS      = fs.Bool("tls", false, "TLS without SigV4 (a Cassandra with client encryption)")
		username    = fs.String("username", "", "user for PasswordAuthenticator (password from $PARLEY_CASSANDRA_PASSWORD)")
		timeout     = fs.Duration("timeout", 5*time.Minute, "give up after this long")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg := keyspaces.Config{
		Keyspace: *keyspace,
		Region:   *region,
		CAFile:   *caFile,
		TLS:      *useTLS,
		Username: *username,
		Password: os.Getenv("PARLEY_CASSANDRA_PASSWORD"),
		Timeout:  30 * time.Second, // schema changes are slower than queries
		Logger:   slog.Default(),
	}
	var err error
	if strings.TrimSpace(*hosts) == "" {
		return errors.New("--hosts is required")
	}
	cfg.Hosts, cfg.Port, err = keyspaces.ParseHosts(strings.Split(*hosts, ","), *port)
	if err != nil {
		return fmt.Errorf("bad --hosts: %w", err)
	}
	if err := schema.CheckKeyspace(cfg.Keyspace); err != nil {
		return fmt.Errorf("--keyspace: %w", err)
	}
	if *replication == "" {
		*replication = keyspaces.LocalReplication
		if cfg.Region != "" {
			*replication = keyspaces.KeyspacesReplication
		}
	}
	if _, err := keyspaces.Schema(cfg.Keyspace, *replication); err != nil {
		return fmt.Errorf("bad --replication: %w", err)
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if cfg.Region != "" {
		if cfg.Credentials, err = keyspaces.NewAWSCredentials(ctx); err != nil {
			return err
		}
	}
	session, err := keyspaces.Connect(cfg, false)
	if err != nil {
		return err
	}
	defer session.Close()
	start := time.Now()
	if err := keyspaces.CreateSchema(ctx, session, cfg.Keyspace, *replication, cfg.Region != ""); err != nil {
		return err
	}
	fmt.Printf("keyspace %s ready (tables %s) in %v\n", cfg.Keyspace, strings.Join(keyspaces.TableNames, ", "),
		time.Since(start).Round(time.Millisecond))
	return nil
}
