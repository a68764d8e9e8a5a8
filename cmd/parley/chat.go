package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/parleychat/parley/internal/auth"
	"github.com/parleychat/parley/internal/client"
	"github.com/parleychat/parley/internal/tui"
)

func init() {
	commands["chat"] = command{summary: "a terminal chat client", run: runChat}
}

func runChat(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("parley chat", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: parley chat --user NAME [--secret S] | --token JWT [flags]

A line-oriented chat client. Type /help once connected.

flags:`)
		fs.PrintDefaults()
	}
	var (
		url    = fs.String("url", "ws://127.0.0.1:8080/ws", "WebSocket endpoint (ws:// or wss://)")
		user   = fs.String("user", "", "user id to sign a token for (with --secret or PARLEY_JWT_SECRET)")
		secret = fs.String("secret", "", "HS256 secret (default $PARLEY_JWT_SECRET)")
		token  = fs.String("token", "", "a token to use as is (its sub is the user)")
		header = fs.Bool("auth-header", false, "send the token in the Authorization header instead of the query")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg := tui.Config{URL: *url, Options: &client.Options{TokenInHeader: *header}}
	switch {
	case *token != "":
		sub, err := tokenSubject(*token)
		if err != nil {
			return err
		}
		if *user != "" && *user != sub {
			return fmt.Errorf("--user %q does not match the token's user %q", *user, sub)
		}
		cfg.User = sub
		tok := *token
		cfg.Token = func(context.Context) (string, error) { return tok, nil }
	case *user != "":
		key, err := secretFrom(*secret)
		if err != nil {
			return err
		}
		if _, err := auth.Sign(key, *user, time.Minute); err != nil {
			return err // a bad user id, said clearly before connecting
		}
		cfg.User = *user
		u := *user
		cfg.Token = func(context.Context) (string, error) { return auth.Sign(key, u, 12*time.Hour) }
	default:
		return errors.New("give --user (with --secret or PARLEY_JWT_SECRET) or --token")
	}
	return tui.New(cfg, os.Stdout).Run(ctx, os.Stdin)
}
