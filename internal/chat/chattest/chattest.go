// Package chattest holds the contract test suites of the chat stores. Every implementation
// of chat.MessageStore, chat.ConversationStore and chat.ConnectionStore runs the suite of
// its interface, in the manner of watermill's RunPubSubTests:
//
//	func TestMessageStore(t *testing.T) {
//		chattest.RunMessageStoreTests(t, func(t *testing.T) chat.MessageStore { return store })
//	}
//
// The suites use fresh ULIDs for every conversation and user, so all subtests (which run in
// parallel) and all suites can share one database; newStore may return the same store
// every time. They assume nothing about the engine behind the interface.
package chattest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/oklog/ulid/v2"
)

// timeout bounds each subtest's store calls.
const timeout = 60 * time.Second

// contract is one named test of a contract suite.
type contract[S any] struct {
	name string
	fn   func(t *testing.T, s S)
}

// runContract runs each test of a suite as a parallel subtest on a store from newStore.
func runContract[S any](t *testing.T, newStore func(t *testing.T) S, tests []contract[S]) {
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

// ctxFor returns a context that ends with the test or after timeout.
func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	return ctx
}

// newID returns a fresh ULID. Successive calls return increasing ids (ulid.Make is
// monotonic within a process).
func newID() string { return ulid.Make().String() }

// newUser returns a fresh legal user id with a readable prefix.
func newUser(name string) string { return name + "-" + strings.ToLower(newID()) }

// newConv returns a fresh conversation id.
func newConv() string { return "g-" + newID() }

// wantErrIs fails the test unless errors.Is(err, target).
func wantErrIs(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error = %v, want %v", what, err, target)
	}
}

// must fails the test on err.
func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// diff fails the test when got and want differ.
func diff(t *testing.T, got, want any, what string) {
	t.Helper()
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// eventually retries check until it returns nil or the deadline passes; for reads that
// are eventually consistent in some engines (a DynamoDB GSI).
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after 10 s: %v", what, err)
		}
		<-tick.C
	}
}

// sortedBy returns xs sorted by key.
func sortedBy[T any](xs []T, key func(T) string) []T {
	out := slices.Clone(xs)
	slices.SortFunc(out, func(a, b T) int { return strings.Compare(key(a), key(b)) })
	return out
}
