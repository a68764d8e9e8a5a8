package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/parleychat/parley/internal/auth"
	"github.com/parleychat/parley/internal/chat"
)

func init() {
	commands["token"] = command{summary: "print a local token", run: runToken}
}

// runToken prints an HS256 token for --user signed with PARLEY_JWT_SECRET, the secret
// `parley local` verifies with.
func runToken(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("parley token", flag.ContinueOnError)
	user := fs.String("user", "", "user id ("+chat.UserIDRule+"); required")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token is valid")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *user == "" {
		return errors.New("--user is required")
	}
	secret := os.Getenv("PARLEY_JWT_SECRET")
	if secret == "" {
		return errors.New("PARLEY_JWT_SECRET is not set: set it to the secret `parley local` runs with " +
			"(or ask a running `parley local` at /local/token?user=NAME)")
	}
	tok, err := auth.Sign([]byte(secret), *user, *ttl)
	if err != nil {
		return fmt.Errorf("sign token for %s: %w", *user, err)
	}
	fmt.Println(tok)
	return nil
}
