package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/faults"
	"github.com/parleychat/parley/internal/local"
	"github.com/parleychat/parley/internal/localgw"
	"github.com/parleychat/parley/internal/notify"
	"github.com/parleychat/parley/internal/schema"
	"github.com/parleychat/parley/internal/timing"
	"github.com/parleychat/parley/web"
)

func init() {
	commands["local"] = command{summary: "run the whole system on this machine", run: runLocal}
}

func runLocal(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("parley local", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "HTTP listen address (WebSocket at /ws, web client at /); loopback only unless --allow-remote")
	allowRemote := fs.Bool("allow-remote", false, "allow an --addr that is not loopback (0.0.0.0, a LAN address): the token endpoint and the Management API, which authenticate nobody, are then reachable from the network")
	allowedHosts := fs.String("allowed-hosts", "", "more names the server answers to, comma-separated HOST or HOST:PORT (e.g. host.docker.internal); other Host headers get 421")
	allowedOrigins := fs.String("allowed-origins", "", "more origins whose pages may open a WebSocket, comma-separated SCHEME://HOST[:PORT], * for any (default: the web client's own)")
	dataDir := fs.String("data-dir", "", "keep DynamoDB data (dynalite) in this directory; in memory when empty")
	ddbEndpoint := fs.String("dynamodb-endpoint", "", "use this DynamoDB endpoint (e.g. LocalStack's) instead of starting dynalite")
	idle := fs.Duration("idle-timeout", localgw.DefaultIdleTimeout, "close WebSocket connections idle this long")
	lifetime := fs.Duration("max-lifetime", localgw.DefaultMaxLifetime, "close WebSocket connections open this long")
	ttl := fs.Duration("ttl-interval", 2*time.Second, "how often expired TTL items are deleted")
	externalFanout := fs.Bool("external-fanout", false, "with --dynamodb-endpoint: leave streams, TTL and fan-out to that DynamoDB's own mappings (LocalStack hybrid), so nothing is pushed twice")
	store := fs.String("message-store", config.StoreDynamoDB, "where messages live: dynamodb, or keyspaces (a Cassandra at --cassandra-hosts; fan-out from the Outbox stream)")
	cassandraHosts := fs.String("cassandra-hosts", "", "Cassandra contact points for --message-store keyspaces, comma-separated HOST:PORT (default port 9042)")
	keyspace := fs.String("keyspace", local.DefaultKeyspace, "Cassandra keyspace of the message tables (created with its tables unless it exists)")
	faultSpec := fs.String("faults", "", "inject AWS's failures: chaos (every kind at a few percent), or KIND[@OP]=RATE[:DURATION],... (docs/reliability.md); counts at GET /local/faults")
	instances := fs.Int("instances", 1, "independent instances of the functions (own id generator, rate limiter and clock), as Lambda runs many")
	clockSkew := fs.Duration("clock-skew", 0, "with --instances: the largest clock offset of an instance (spread evenly from -skew to +skew)")
	awsTimings := fs.Bool("aws-timings", false, "model the deployed path's latencies: the stream mappings' 250 ms poll, DynamoDB, Management API posts, API Gateway hops, invocations (docs/benchmarks.md)")
	lambdaRIE := fs.Bool("lambda-rie", false, "run each function's bootstrap, built now from this repository for this machine, as its own process under the AWS Lambda Runtime Interface Emulator (Linux; install it with make rie) instead of in process")
	riePath := fs.String("rie-path", "", "with --lambda-rie: the aws-lambda-rie binary (default: on PATH, else .tools/bin/aws-lambda-rie)")
	timingSpec := fs.String("timings", "", "with --aws-timings: change figures, comma-separated NAME=DURATION, NAME one of stream.poll, ddb, post, gw.in, gw.out, invoke")
	inlineMax := fs.Int("inline-max-members", chat.DefaultInlineMaxMembers, "the functions' INLINE_MAX_MEMBERS: conversations of up to this many members get each message pushed by send itself, right after it is stored; 0 turns it off (stream fan-out only)")
	notifyURL := fs.String("notify-url", "", "POST every offline notification (the JSON document the stack puts on EventBridge; docs/deploy.md) to this http:// or https:// URL; without it they are logged")
	notifyPreview := fs.Bool("notify-preview", true, "put the start of the message's body in offline notifications (the functions' NOTIFY_PREVIEW); false leaves it out")
	if err := fs.Parse(args); err != nil {
		return err
	}
	spec, err := faults.Parse(*faultSpec)
	if err != nil {
		return fmt.Errorf("bad --faults: %w", err)
	}
	var timings *timing.Model
	if *awsTimings {
		if timings, err = timing.Parse(*timingSpec); err != nil {
			return fmt.Errorf("bad --timings: %w", err)
		}
	} else if *timingSpec != "" {
		return errors.New("--timings changes the figures of --aws-timings: give --aws-timings too")
	}
	if *instances < 1 || *instances > 64 {
		return fmt.Errorf("bad --instances %d: want 1 to 64", *instances)
	}
	if *clockSkew < 0 || *clockSkew > time.Minute {
		return fmt.Errorf("bad --clock-skew %v: want 0 to 1m", *clockSkew)
	}
	rie, err := rieConfig(*lambdaRIE, *riePath)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *inlineMax < 0 || *inlineMax > chat.MaxGroupMembers {
		return fmt.Errorf("--inline-max-members: want 0 (off) to %d, got %d", chat.MaxGroupMembers, *inlineMax)
	}
	if *notifyURL != "" {
		if err := notify.CheckURL(*notifyURL); err != nil {
			return fmt.Errorf("bad --notify-url: %w", err)
		}
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
		AllowRemote:      *allowRemote,
		AllowedHosts:     splitList(*allowedHosts),
		AllowedOrigins:   splitList(*allowedOrigins),
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
		Faults:           spec,
		Instances:        *instances,
		ClockSkew:        *clockSkew,
		Timings:          timings,
		LambdaRIE:        rie,
		InlineMaxMembers: inlineMax,
		NotifyURL:        *notifyURL,
		NotifyLog:        *notifyURL == "",
		NotifyPreview:    notifyPreview,
	})
	if err := m.Start(ctx); err != nil {
		_ = m.Close()
		return err
	}
	if m.Remote() {
		fmt.Fprintf(os.Stderr, "WARNING: --allow-remote: parley local listens on %s, not only on this machine's loopback.\n"+
			"  Anyone who can reach it on the network can get a token for any user (/local/token) and post to or\n"+
			"  close any connection (the Management API): neither asks for credentials. Use it on a trusted network only.\n", m.Addr())
	}
	fmt.Printf("Parley is running.\n  WebSocket:  %s?token=TOKEN\n  Web client: http://%s/\n"+
		"  Token:      curl 'http://%s/local/token?user=alice'  (or: PARLEY_JWT_SECRET=... parley token --user alice)\n"+
		"  DynamoDB:   %s\n  Messages:   %s\n", m.WebSocketURL(), m.Addr(), m.Addr(), m.DynamoDBEndpoint(),
		describeStore(m, *cassandraHosts))
	if len(spec) > 0 {
		fmt.Printf("  Faults:     %s (counts: curl http://%s/local/faults)\n", spec, m.Addr())
	}
	if timings != nil {
		fmt.Printf("  Timings:    AWS's, modelled: %s\n", timings)
	}
	if *notifyURL != "" {
		fmt.Printf("  Notify:     offline notifications POSTed to %s\n", *notifyURL)
	}
	if *instances > 1 {
		fmt.Printf("  Instances:  %d, clocks within ±%v\n", *instances, *clockSkew)
	}
	fmt.Println("Press Ctrl-C to stop.")
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "stopping...")
	return m.Close()
}

// splitList splits a comma-separated flag value, dropping blanks; nil when it is empty.
func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
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
