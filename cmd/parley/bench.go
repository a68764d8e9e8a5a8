package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/term"

	"github.com/parleychat/parley/internal/auth"
	"github.com/parleychat/parley/internal/bench"
)

func init() {
	commands["bench"] = command{summary: "load-test an endpoint", run: runBench}
}

func runBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("parley bench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: parley bench [flags]

Simulates users over real WebSockets against a Parley endpoint, sends at a fixed rate
(open loop) and reports ack and end-to-end latency percentiles, throughput and errors.
Tokens are minted per simulated user from --secret (or PARLEY_JWT_SECRET), or read from
--tokens-file (one JWT per line, the user id taken from its "sub").

Examples:
  parley bench --scenario dm --users 200 --rate 100 --duration 30s
  parley bench --scenario group --users 100 --group-size 100 --rate 5 --duration 30s

flags:`)
		fs.PrintDefaults()
	}
	var (
		cfg        bench.Config
		scenario   = fs.String("scenario", bench.ScenarioDM, "dm (users in pairs) or group")
		action     = fs.String("action", bench.ActionSend, "send (messages) or react (reactions, protocol 1.1: each adds an emoji to a message sent before the run)")
		secret     = fs.String("secret", "", "HS256 secret to mint tokens (default $PARLEY_JWT_SECRET)")
		tokensFile = fs.String("tokens-file", "", "file of tokens, one per line, one per simulated user")
		asJSON     = fs.Bool("json", false, "print the report as JSON on stdout")
		progress   = fs.String("progress", "auto", "progress bar on stderr: auto (when a terminal), on, off")
	)
	fs.StringVar(&cfg.URL, "url", "ws://127.0.0.1:8080/ws", "WebSocket endpoint (ws:// or wss://)")
	fs.IntVar(&cfg.Users, "users", 20, "simulated users, one connection each")
	fs.IntVar(&cfg.GroupSize, "group-size", 0, "members per group in the group scenario (default: all users)")
	fs.Float64Var(&cfg.Rate, "rate", 10, "messages per second, overall")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured window")
	fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "unmeasured sending before the window")
	fs.DurationVar(&cfg.Drain, "drain", 10*time.Second, "time to wait for outstanding acks and deliveries")
	fs.IntVar(&cfg.DialConcurrency, "dial-concurrency", 16, "handshakes in flight at once")
	fs.IntVar(&cfg.BodyBytes, "body-size", 100, "bytes per message body")
	fs.StringVar(&cfg.UserPrefix, "user-prefix", "", "user id prefix (default: bench- and a random suffix)")
	fs.BoolVar(&cfg.TokenInHeader, "auth-header", false, "send tokens in the Authorization header instead of the query")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg.Scenario = *scenario
	cfg.Action = *action
	ttl := cfg.Warmup + cfg.Duration + cfg.Drain + time.Hour
	switch {
	case *tokensFile != "":
		tokens, err := readTokens(*tokensFile)
		if err != nil {
			return err
		}
		cfg.UserIDs = make([]string, 0, len(tokens))
		for id := range tokens {
			cfg.UserIDs = append(cfg.UserIDs, id)
		}
		sort.Strings(cfg.UserIDs)
		cfg.Token = func(user string) (string, error) { return tokens[user], nil }
	default:
		key, err := secretFrom(*secret)
		if err != nil {
			return err
		}
		cfg.Token = func(user string) (string, error) { return auth.Sign(key, user, ttl) }
	}
	switch *progress {
	case "on":
		cfg.Progress = os.Stderr
	case "auto":
		if term.IsTerminal(int(os.Stderr.Fd())) {
			cfg.Progress = os.Stderr
		}
	case "off":
	default:
		return fmt.Errorf("--progress %q must be auto, on or off", *progress)
	}
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	return writeReport(os.Stdout, rep, *asJSON)
}

// report is what bench and verify print: text, or its JSON form.
type report interface{ WriteText(io.Writer) error }

// writeReport writes rep as text, or as indented JSON with asJSON.
func writeReport(w io.Writer, rep report, asJSON bool) error {
	if !asJSON {
		return rep.WriteText(w)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	return nil
}

// secretFrom returns the HS256 secret from the flag or PARLEY_JWT_SECRET.
func secretFrom(flagValue string) ([]byte, error) {
	s := flagValue
	if s == "" {
		s = os.Getenv("PARLEY_JWT_SECRET")
	}
	if s == "" {
		return nil, errors.New("no token source: give --secret, set PARLEY_JWT_SECRET, or give a token")
	}
	return []byte(s), nil
}

// readTokens reads one JWT per line (blank lines and # comments skipped) and keys them by
// their unverified "sub" claim; the server verifies them.
func readTokens(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read tokens: %w", err)
	}
	defer f.Close()
	tokens := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		tok := strings.TrimSpace(sc.Text())
		if tok == "" || strings.HasPrefix(tok, "#") {
			continue
		}
		sub, err := tokenSubject(tok)
		if err != nil {
			return nil, fmt.Errorf("read tokens: %s line %d: %w", path, line, err)
		}
		tokens[sub] = tok
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read tokens %s: %w", path, err)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("read tokens: %s holds no tokens", path)
	}
	return tokens, nil
}

// tokenSubject returns a JWT's "sub" without verifying it.
func tokenSubject(tok string) (string, error) {
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &claims); err != nil {
		return "", fmt.Errorf("parse token: %w", err)
	}
	if claims.Subject == "" {
		return "", errors.New("token has no sub")
	}
	return claims.Subject, nil
}
