package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/cost"
)

func init() {
	commands["cost"] = command{summary: "a load's monthly AWS bill and the quotas it reaches", run: runCost}
}

// usageError is a bad flag or value: `parley cost` exits 2 on it, as flag.ExitOnError does.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func runCost(_ context.Context, args []string) error {
	err := costCommand(args, os.Stdout, os.Stderr)
	var ue usageError
	if errors.As(err, &ue) {
		if !errors.Is(err, errFlagParse) {
			fmt.Fprintf(os.Stderr, "parley cost: %v\n", err)
		}
		os.Exit(2)
	}
	return err
}

// errFlagParse marks a parse error the flag package has already printed.
var errFlagParse = errors.New("bad flag")

// groupSizesFlag is --group-size.
type groupSizesFlag struct{ v *cost.GroupSizes }

func (g groupSizesFlag) String() string {
	if g.v == nil {
		return ""
	}
	return g.v.String()
}

func (g groupSizesFlag) Set(s string) error {
	v, err := cost.ParseGroupSizes(s)
	if err != nil {
		return err
	}
	*g.v = v
	return nil
}

// durationFlag is a cost.Duration flag.
type durationFlag struct{ v *cost.Duration }

func (d durationFlag) String() string {
	if d.v == nil {
		return ""
	}
	return time.Duration(*d.v).String()
}

func (d durationFlag) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d.v = cost.Duration(v)
	return nil
}

// costCommand runs `parley cost` with args, printing the report on stdout and usage on
// stderr. Bad flags and values come back as usageError.
func costCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("parley cost", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: parley cost [flags]

Prices a load on AWS for a 30-day month and lists the quotas (AWS's and Parley's own) it
reaches at its peak. The requests of every action come from internal/cost/requests.json,
measured on the real code paths; prices from a dated file per region (internal/cost/prices/).
Without flags it prices the seed; --load picks a ready-made load, and any flag given
overrides that load's value. docs/scale.md explains the model and its assumptions.

Loads (--load):
  small   10,000 DAU, 2,000 online, 100,000 msg/day, peak 10 msg/s, busiest group 1 msg/s
  mid     1,000,000 DAU, 100,000 online, 10,000,000 msg/day, peak 1,000 msg/s, busiest group 5 msg/s
  seed    50,000,000 DAU, 10,000,000 online, 500,000,000 msg/day, peak 50,000 msg/s, busiest group 10 msg/s

--group-size is N (every group message goes to N members) or a distribution of group
messages over sizes, N:SHARE,… with shares summing to 1, e.g. 10:0.7,100:0.25,500:0.05.

--liveness before is today's heartbeat (a Lambda invocation and a DynamoDB write each);
after (the default) is the new contract: heartbeat and keepalive answered by API Gateway
MOCK integrations, presence refreshed at most once per active user per 5 minutes.

Examples:
  parley cost --load seed
  parley cost --load seed --liveness before
  parley cost --load mid --v1-share 0.3 --message-store keyspaces --json

Regions with prices: %s. Bad flags or values exit 2.

flags:
`, strings.Join(cost.Regions(), ", "))
		fs.PrintDefaults()
	}
	def := cost.Defaults()
	var (
		set    = def // the flags' values; copied over the load for the flags given
		load   = fs.String("load", "seed", "ready-made load: "+strings.Join(cost.PresetNames(), ", "))
		region = fs.String("region", "us-east-1", "AWS region whose prices apply")
		asJSON = fs.Bool("json", false, "print the report as JSON on stdout (monthlyUSD, byComponent, byAction, quotas, …)")
	)
	fs.Float64Var(&set.DAU, "dau", def.DAU, "daily active users")
	fs.Float64Var(&set.Concurrent, "concurrent", def.Concurrent, "connections online at once, on average")
	fs.Float64Var(&set.MessagesPerDay, "messages-per-day", def.MessagesPerDay, "messages sent a day")
	fs.Float64Var(&set.PeakRate, "peak-rate", def.PeakRate, "messages per second at the peak")
	fs.Float64Var(&set.DirectShare, "direct-share", def.DirectShare, "fraction of messages that are direct (the rest go to groups)")
	fs.Var(groupSizesFlag{&set.GroupSizes}, "group-size", "members of a group message's conversation: N or N:SHARE,…")
	fs.Float64Var(&set.ReceiptsPerMessage, "receipts-per-message", def.ReceiptsPerMessage, "receipts (delivered, read) sent per recipient per message")
	fs.Var(durationFlag{&set.HeartbeatInterval}, "heartbeat-interval", "version-1 clients' heartbeat interval")
	fs.Var(durationFlag{&set.KeepaliveInterval}, "keepalive-interval", "version-1.1 clients' keepalive interval (after only)")
	fs.Float64Var(&set.V1Share, "v1-share", def.V1Share, "fraction of connections on version-1 clients (after only; before, all are)")
	fs.StringVar(&set.Liveness, "liveness", def.Liveness, "liveness contract: before (heartbeat through Lambda) or after (MOCK routes)")
	fs.StringVar(&set.MessageStore, "message-store", def.MessageStore, "dynamodb or keyspaces")
	fs.IntVar(&set.InlineMaxMembers, "inline-max-members", def.InlineMaxMembers, "INLINE_MAX_MEMBERS: larger conversations take the stream path (0: all do)")
	fs.Float64Var(&set.SessionsPerDay, "sessions-per-day", def.SessionsPerDay, "connects per DAU a day")
	fs.IntVar(&set.HotGroupMembers, "hot-group-members", def.HotGroupMembers, "members of the busiest conversation (hot-spot quotas)")
	fs.Float64Var(&set.HotGroupRate, "hot-group-rate", def.HotGroupRate, "messages per second of the busiest conversation at its peak")
	fs.Float64Var(&set.ChangesPerMessage, "changes-per-message", def.ChangesPerMessage, "edits, deletes and reactions per message (protocol 1.1), priced as reactions")
	fs.BoolVar(&set.Notifications, "notifications", def.Notifications, "price the offline notifications on EventBridge (the stack's default), offline being 1 − concurrent/DAU")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{fmt.Errorf("%w: %w", errFlagParse, err)}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	l, err := cost.Preset(*load)
	if err != nil {
		return usageError{fmt.Errorf("--load: %w", err)}
	}
	copyFlag := map[string]func(){
		"dau": func() { l.DAU = set.DAU }, "concurrent": func() { l.Concurrent = set.Concurrent },
		"messages-per-day": func() { l.MessagesPerDay = set.MessagesPerDay }, "peak-rate": func() { l.PeakRate = set.PeakRate },
		"direct-share": func() { l.DirectShare = set.DirectShare }, "group-size": func() { l.GroupSizes = set.GroupSizes },
		"receipts-per-message": func() { l.ReceiptsPerMessage = set.ReceiptsPerMessage },
		"heartbeat-interval":   func() { l.HeartbeatInterval = set.HeartbeatInterval },
		"keepalive-interval":   func() { l.KeepaliveInterval = set.KeepaliveInterval },
		"v1-share":             func() { l.V1Share = set.V1Share }, "liveness": func() { l.Liveness = set.Liveness },
		"message-store":       func() { l.MessageStore = set.MessageStore },
		"inline-max-members":  func() { l.InlineMaxMembers = set.InlineMaxMembers },
		"sessions-per-day":    func() { l.SessionsPerDay = set.SessionsPerDay },
		"hot-group-members":   func() { l.HotGroupMembers = set.HotGroupMembers },
		"hot-group-rate":      func() { l.HotGroupRate = set.HotGroupRate },
		"changes-per-message": func() { l.ChangesPerMessage = set.ChangesPerMessage },
		"notifications":       func() { l.Notifications = set.Notifications },
	}
	overridden := false
	fs.Visit(func(f *flag.Flag) {
		if c, ok := copyFlag[f.Name]; ok {
			c()
			overridden = overridden || f.Name == "dau" || f.Name == "concurrent" || f.Name == "messages-per-day" || f.Name == "peak-rate"
		}
	})
	if overridden {
		l.Name += "+flags"
	}
	if err := l.Validate(); err != nil {
		return usageError{err}
	}
	if _, err := cost.LoadPrices(*region); err != nil {
		return usageError{fmt.Errorf("--region: %w", err)}
	}
	rep, err := cost.Run(l, *region)
	if err != nil {
		return err
	}
	return writeReport(stdout, rep, *asJSON)
}
