// Package dynalitetest starts a dynalite server for a test and stops it when the test ends.
package dynalitetest

import (
	"context"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/dynalite"
)

// startTimeout bounds the start, including a first `npm install`.
const startTimeout = 3 * time.Minute

// StartForTest starts an in-memory dynalite on a free port of 127.0.0.1 and registers its
// shutdown with t.Cleanup. It never skips: when Node.js or npm are missing, or dynalite
// cannot start, the test fails with a message that says how to fix it. At cleanup it also
// fails the test if dynalite died while the test ran.
func StartForTest(t testing.TB) *dynalite.Server {
	t.Helper()
	return StartWithOptions(t, dynalite.Options{})
}

// StartWithOptions is StartForTest with explicit options (a data directory, a port).
func StartWithOptions(t testing.TB, opts dynalite.Options) *dynalite.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	s, err := dynalite.Start(ctx, opts)
	if err != nil {
		t.Fatalf("dynalitetest: %v\n\nThese tests need dynalite, a DynamoDB engine run by Node.js: install Node.js 18+ and npm "+
			"(e.g. `apt-get install nodejs npm`), then run `npm install` at the repository root "+
			"(the tests also try that themselves).", err)
	}
	t.Cleanup(func() {
		select {
		case <-s.Done():
			t.Errorf("dynalitetest: dynalite died during the test: %v", s.Err())
		default:
		}
		if err := s.Close(); err != nil {
			t.Logf("dynalitetest: close: %v", err)
		}
	})
	return s
}
