package web_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestClientUnits runs the node:test suite of the client's protocol logic and model
// (web/jstest): outbox resend with the same clientMsgId, the sync loop, dedupe and order by
// messageId, receipt marks, typing expiry, and version 1.1: the edit, delete and react
// requests, send's replyTo, and the model applying changes once by eventId, skipping those
// a history snapshot folded in (lastEventId) and counting reactions. It needs Node.js
// (`make deps`).
func TestClientUnits(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("the client's unit tests need Node.js: run `make deps`: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", filepath.Join("jstest", "client.test.mjs"))
	out, err := cmd.CombinedOutput()
	t.Logf("node --test:\n%s", out)
	if err != nil {
		t.Fatalf("client unit tests failed: %v", err)
	}
}
