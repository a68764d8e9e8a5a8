//go:build linux

package e2e

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parleychat/parley/internal/client"
	"github.com/parleychat/parley/internal/local"
	"github.com/parleychat/parley/internal/rie/rietest"
	"github.com/parleychat/parley/internal/topology"
)

// TestLambdaRIE runs parley local as `--lambda-rie` does: the test builds every function's
// bootstrap (for this machine, with the Makefile's flags) and the runtime runs each as a
// process of its own under the AWS Lambda Runtime Interface Emulator, invoked through the
// emulator's HTTP API by the gateway and the stream mapping. A direct message, a receipt,
// a group message and a sync go through them; the emulators' own START lines and the
// bootstrap processes prove the binaries served them, and after Close none of those
// processes runs.
func TestLambdaRIE(t *testing.T) {
	t.Parallel()
	began := time.Now()
	ctx := ctxFor(t, 3*time.Minute)
	emulator := rietest.Emulator(t)
	root, err := rietest.Root()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := local.BuildFunctions(ctx, root, dir); err != nil {
		t.Fatal(err)
	}
	built := time.Now()

	var outMu sync.Mutex
	var out bytes.Buffer
	output := func() string {
		outMu.Lock()
		defer outMu.Unlock()
		return out.String()
	}
	s := &system{m: local.New(local.Config{
		Addr:      "127.0.0.1:0",
		JWTSecret: secret,
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		LambdaRIE: &local.RIEConfig{Emulator: emulator, Functions: dir, Output: lockedWriter{mu: &outMu, w: &out}},
	})}
	t.Cleanup(func() {
		_ = s.m.Close()
		if t.Failed() {
			t.Logf("the emulators' and functions' output:\n%s", output())
		}
	})
	if err := s.m.Start(ctx); err != nil {
		t.Fatalf("start parley local with the functions under the emulator: %v", err)
	}
	if got := processesIn(dir); len(got.emulators) != len(topology.Functions) {
		t.Fatalf("got %d emulators running the built functions, want one per function (%d)", len(got.emulators), len(topology.Functions))
	}
	started := time.Now()

	u := newUsers("alice", "bob", "carol")
	alice, bob := s.connect(t, u[0]), s.connect(t, u[1])

	// A direct message: send, then the fan-out from the Messages stream.
	dm, err := alice.SendDirect(ctx, u[1], "d1", "hello through the emulator")
	if err != nil {
		t.Fatalf("send a direct message: %v", err)
	}
	bob.wait(t, "alice's direct message", messageWith(dm.ConversationID, dm.MessageID))

	// A receipt, pushed to the sender.
	if _, err := bob.Receipt(ctx, dm.ConversationID, dm.MessageID, client.StatusRead); err != nil {
		t.Fatalf("receipt: %v", err)
	}
	alice.wait(t, "bob's read receipt", receiptOf(dm.ConversationID, u[1], client.StatusRead, dm.MessageID))

	// A group message; carol is offline.
	g, err := alice.CreateConversation(ctx, "under the emulator", u[1], u[2])
	if err != nil {
		t.Fatalf("create a group: %v", err)
	}
	gm, err := bob.Send(ctx, g.ConversationID, "g1", "hello, group")
	if err != nil {
		t.Fatalf("send to the group: %v", err)
	}
	alice.wait(t, "bob's group message", messageWith(g.ConversationID, gm.MessageID))

	// Carol comes online and syncs what she missed.
	carol := s.connect(t, u[2])
	res, err := carol.Sync(ctx)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	carol.wait(t, "the group message through sync", messageWith(g.ConversationID, gm.MessageID))
	if res.Count < 1 {
		t.Errorf("sync reported %d messages, want the group message", res.Count)
	}

	// The authorizer's error "Unauthorized" (no token) is still HTTP 401, its Deny policy
	// (a bad token) 403.
	if _, resp, err := websocket.Dial(ctx, s.m.WebSocketURL(), nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("dial without a token: resp %v, err %v; want HTTP 401", resp, err)
	}
	_, err = client.Dial(ctx, s.m.WebSocketURL(), "not-a-jwt", &client.Options{HeartbeatInterval: -1})
	if he, ok := errors.AsType[*client.HandshakeError](err); !ok || he.StatusCode != http.StatusForbidden {
		t.Errorf("dial with a bad token: %v, want HTTP 403", err)
	}

	// The emulators ran the invocations (their START lines), in the bootstraps' processes.
	used := []string{"authorizer", "connect", "send", "receipts", "conversations", "history", "fanout"}
	for _, fn := range used {
		if !strings.Contains(output(), fn+": START RequestId: ") {
			t.Errorf("the %s emulator logged no invocation", fn)
		}
	}
	running := processesIn(dir)
	for _, fn := range used {
		if running.bootstraps[fn] == 0 {
			t.Errorf("no bootstrap process of %s runs (running: %v)", fn, running.bootstraps)
		}
	}
	served := time.Now()

	if err := s.m.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	var pids []int
	for _, pid := range running.bootstraps {
		pids = append(pids, pid)
	}
	for _, pid := range append(pids, running.emulators...) {
		if alive(pid) {
			t.Errorf("process %d still runs after Close", pid)
		}
	}
	if left := processesIn(dir); len(left.emulators)+len(left.bootstraps) > 0 {
		t.Errorf("after Close, still running: emulators %v, bootstraps %v", left.emulators, left.bootstraps)
	}
	t.Logf("build %v, start %v, scenario %v, close %v", built.Sub(began).Round(time.Millisecond),
		started.Sub(built).Round(time.Millisecond), served.Sub(started).Round(time.Millisecond), time.Since(served).Round(time.Millisecond))
}

// rieProcesses are the processes that run the functions built into one directory.
type rieProcesses struct {
	emulators  []int
	bootstraps map[string]int // function name -> pid
}

// processesIn finds the live emulators and bootstraps whose command line names a
// bootstrap under dir.
func processesIn(dir string) rieProcesses {
	p := rieProcesses{bootstraps: map[string]int{}}
	files, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || !bytes.Contains(b, []byte(dir+"/")) {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		if err != nil || !alive(pid) {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if filepath.Base(args[0]) == "aws-lambda-rie" {
			p.emulators = append(p.emulators, pid)
		} else if rel, err := filepath.Rel(dir, args[0]); err == nil {
			p.bootstraps[filepath.Dir(rel)] = pid
		}
	}
	return p
}
