package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/parleychat/parley/internal/auth"
	"github.com/parleychat/parley/internal/verify"
)

func init() {
	commands["verify"] = command{summary: "check the delivery guarantees of an endpoint", run: runVerify}
}

// errViolations makes `parley verify` exit 1 after it printed its report.
type errViolations int

func (e errViolations) Error() string {
	return fmt.Sprintf("%d violations of the delivery guarantees", int(e))
}

func runVerify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("parley verify", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: parley verify [flags]

Checks Parley's delivery guarantees against an endpoint (local or deployed). Simulated
users chat in direct conversations and groups (with adds and leaves), send with the
retries docs/protocol.md asks for (the same clientMsgId after a timeout or internal),
drop their connections, stay offline and come back with sync. At the end every user
syncs and every history is read, and it counts:

  lost               acked messages that never reached a member, live or by sync
  storedDuplicates   a (sender, clientMsgId) stored as more than one message
  orderViolations    history not strictly increasing by id, or missing an acked message
  leaks              messages delivered to a non-member
  duplicateDeliveries, acked, sent   (duplicates are allowed: at least once)

It exits 1 when any of the first four is not 0. Tokens are minted from --secret (or
PARLEY_JWT_SECRET), the secret the endpoint verifies with.

Examples:
  parley verify --users 30 --duration 30s
  parley local --faults chaos &   parley verify --users 30 --duration 30s --json

flags:`)
		fs.PrintDefaults()
	}
	var (
		cfg     verify.Config
		secret  = fs.String("secret", "", "HS256 secret to mint tokens (default $PARLEY_JWT_SECRET)")
		asJSON  = fs.Bool("json", false, "print the report as JSON on stdout (exactly the keys above)")
		verbose = fs.Bool("v", false, "log progress and each violation on stderr")
	)
	fs.StringVar(&cfg.URL, "url", "ws://127.0.0.1:8080/ws", "WebSocket endpoint (ws:// or wss://)")
	fs.IntVar(&cfg.Users, "users", 20, "simulated users (at least 3)")
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, "how long the users chat before the final sync")
	fs.Float64Var(&cfg.Rate, "rate", 20, "messages per second, overall")
	fs.IntVar(&cfg.Groups, "groups", 0, "group conversations (default users/5)")
	fs.IntVar(&cfg.GroupSize, "group-size", 5, "members of each group at the start")
	fs.Float64Var(&cfg.Drops, "drops", 3, "connection drops per user per minute")
	fs.DurationVar(&cfg.Offline, "offline", 3*time.Second, "longest time a dropped user stays offline")
	fs.DurationVar(&cfg.MembershipEvery, "membership-every", 2*time.Second, "pause between group adds and leaves (negative: none)")
	fs.DurationVar(&cfg.Drain, "drain", 10*time.Second, "wait after the last send for the last deliveries, before the final sync")
	fs.DurationVar(&cfg.RequestTimeout, "request-timeout", 5*time.Second, "time for one attempt of a request before it is sent again")
	fs.Float64Var(&cfg.Reactions, "reactions", 0.2, "share of the users' actions that toggle a reaction instead of sending (protocol 1.1; negative: none)")
	fs.StringVar(&cfg.UserPrefix, "user-prefix", "", "user id prefix (default: verify- and a random suffix)")
	fs.BoolVar(&cfg.TokenInHeader, "auth-header", false, "send tokens in the Authorization header instead of the query")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	key, err := secretFrom(*secret)
	if err != nil {
		return err
	}
	ttl := cfg.Duration + cfg.Drain + time.Hour
	cfg.Token = func(user string) (string, error) { return auth.Sign(key, user, ttl) }
	level := slog.LevelError
	if *verbose {
		level = slog.LevelInfo
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	rep, err := verify.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if err := writeReport(os.Stdout, rep, *asJSON); err != nil {
		return err
	}
	if n := rep.Violations(); n > 0 {
		return errViolations(n)
	}
	return nil
}
