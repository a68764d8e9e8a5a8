//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/parleychat/parley/internal/auth"
	"github.com/parleychat/parley/internal/client"
	"github.com/parleychat/parley/internal/dynalite"
	"github.com/parleychat/parley/internal/schema"
)

// TestCrashLosesNothingAcked runs the parley binary (`parley local --data-dir D`), kills
// it with SIGKILL in the middle of a burst of group messages, and starts it again on D.
// Every acknowledged message has its stream record on disk at the kill, is in every
// member's history and in the syncs afterwards, and the restarted process delivers the
// stream records the first one had not delivered: the Messages mapping's checkpoint moves
// past them, and a message sent after the restart (behind them in the one shard) reaches a
// connected member live.
//
// It does not run in parallel: the suite's parallel tests (TestSyncMoreThan1000's
// thousand messages) would starve the two processes and dynalite of CPU, and its phases
// are timed.
func TestCrashLosesNothingAcked(t *testing.T) {
	start := time.Now()
	bin := buildParley(t)
	t.Logf("built in %v", time.Since(start).Round(time.Millisecond))
	dir := t.TempDir()
	const senders, offline, acksBeforeKill = 4, 30, 40
	names := make([]string, 0, senders+1+offline)
	for i := range senders {
		names = append(names, fmt.Sprintf("sender%d", i))
	}
	names = append(names, "reader")
	for i := range offline {
		names = append(names, fmt.Sprintf("offline%d", i))
	}
	users := newUsers(names...)
	reader := users[senders]

	// First run: a group of all, a burst from every sender, SIGKILL mid-burst.
	p1 := startParley(t, bin, dir)
	ctx := ctxFor(t, 2*time.Minute)
	devs := make([]*client.Conn, senders)
	for i := range devs {
		devs[i] = p1.dial(t, users[i])
	}
	g, err := devs[0].CreateConversation(ctx, "crash", users[1:]...)
	if err != nil {
		t.Fatalf("create group: %v", err)
	}
	p1.dial(t, reader) // a member online during the burst
	t.Logf("group of %d created %v after the start", len(users), time.Since(start).Round(time.Millisecond))

	var mu sync.Mutex
	acked := map[string]bool{}
	enough := make(chan struct{})
	var wg sync.WaitGroup
	for i, d := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				ack, err := d.Send(ctx, g.ConversationID, fmt.Sprintf("c%d-%d", i, n), fmt.Sprintf("message %d of %s", n, users[i]))
				if err != nil {
					return // the server died
				}
				mu.Lock()
				acked[ack.MessageID] = true
				if len(acked) == acksBeforeKill {
					close(enough)
				}
				mu.Unlock()
			}
		}()
	}
	select {
	case <-enough:
	case <-time.After(eventTimeout):
		t.Fatal("the burst got too few acks")
	}
	p1.kill(t)
	wg.Wait() // the senders are done with acked
	t.Logf("killed the first run after %d acks, %v after the start", len(acked), time.Since(start).Round(time.Millisecond))

	// At the kill: every acked message has its record in the stream log, and some were
	// not delivered yet (after the mapping's checkpoint).
	log := readStreamLog(t, dir, "parley-"+schema.MessagesID)
	checkpoint := readCheckpoint(t, dir, "parley-"+schema.MessagesID)
	for id := range acked {
		if _, ok := log.byMessage[id]; !ok {
			t.Errorf("acked message %s has no record in the stream log at the kill", id)
		}
	}
	undelivered := 0
	for _, seq := range log.byMessage {
		if seq > checkpoint {
			undelivered++
		}
	}
	t.Logf("at the kill: %d records in the Messages stream, %d after the checkpoint", len(log.byMessage), undelivered)
	if undelivered == 0 {
		t.Fatal("the fan-out had delivered everything before the kill: nothing to deliver after the restart")
	}

	// Second run on the same directory.
	restart := time.Now()
	p2 := startParley(t, bin, dir)
	t.Logf("restarted in %v", time.Since(restart).Round(time.Millisecond))
	eventually(t, "the checkpoint past the records of the first run", func() bool {
		return readCheckpoint(t, dir, "parley-"+schema.MessagesID) >= log.last
	})
	live := p2.dial(t, reader)
	after, err := p2.dial(t, users[0]).Send(ctx, g.ConversationID, "after", "after the restart")
	if err != nil {
		t.Fatalf("send after the restart: %v", err)
	}
	waitMessage(t, live, g.ConversationID, after.MessageID)
	acked[after.MessageID] = true

	// Every member's history has every acked message; two members' syncs too.
	var failed []string
	var fmu sync.Mutex
	sem := make(chan struct{}, 8)
	var hw sync.WaitGroup
	for _, u := range users {
		hw.Add(1)
		sem <- struct{}{}
		go func() {
			defer hw.Done()
			defer func() { <-sem }()
			if missing := missingFromHistory(ctx, p2, u, g.ConversationID, acked); missing != "" {
				fmu.Lock()
				failed = append(failed, missing)
				fmu.Unlock()
			}
		}()
	}
	hw.Wait()
	if len(failed) > 0 {
		t.Fatalf("histories after the restart: %s", strings.Join(failed, "; "))
	}
	for _, u := range []string{reader, users[senders+1]} {
		c := p2.dial(t, u)
		res, err := c.Sync(ctx)
		if err != nil {
			t.Fatalf("%s: sync: %v", u, err)
		}
		got := map[string]bool{}
		for drained := false; !drained; {
			select {
			case ev := <-c.Events():
				if ev.Type == client.TypeMessage {
					got[ev.Message.MessageID] = true
				}
			default:
				drained = true // sync's messages arrive before its reply
			}
		}
		for id := range acked {
			if !got[id] {
				t.Fatalf("%s's sync (%d messages) after the restart misses acked message %s", u, res.Count, id)
			}
		}
	}
	t.Logf("done in %v", time.Since(start).Round(time.Millisecond))
}

// missingFromHistory pages through user's history of the conversation and describes the
// acked messages it lacks ("" when none).
func missingFromHistory(ctx context.Context, p *parleyProc, user, conversationID string, acked map[string]bool) string {
	c, err := client.Dial(ctx, p.wsURL, tokenFor(user), clientOptions())
	if err != nil {
		return fmt.Sprintf("%s: connect: %v", user, err)
	}
	defer c.Close()
	seen := map[string]bool{}
	for before := ""; ; {
		page, err := c.History(ctx, conversationID, before, 100)
		if err != nil {
			return fmt.Sprintf("%s: history: %v", user, err)
		}
		for _, m := range page.Messages {
			seen[m.MessageID] = true
		}
		if before = page.Next; before == "" {
			break
		}
	}
	n := 0
	for id := range acked {
		if !seen[id] {
			n++
		}
	}
	if n > 0 {
		return fmt.Sprintf("%s misses %d of %d acked messages", user, n, len(acked))
	}
	return ""
}

func waitMessage(t *testing.T, c *client.Conn, conversationID, messageID string) {
	t.Helper()
	timeout := time.After(eventTimeout)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("connection ended before message %s: %v", messageID, c.Err())
			}
			if ev.Type == client.TypeMessage && ev.Message.ConversationID == conversationID && ev.Message.MessageID == messageID {
				return
			}
		case <-timeout:
			t.Fatalf("message %s not received live within %v", messageID, eventTimeout)
		}
	}
}

// tokenFor signs a token for user (the processes' PARLEY_JWT_SECRET is the suite's
// secret); it is safe to call from any goroutine.
func tokenFor(user string) string {
	tok, _ := auth.Sign(secret, user, time.Hour) // fails only for an empty secret
	return tok
}

// buildParley builds cmd/parley into the test's temporary directory.
func buildParley(t *testing.T) string {
	t.Helper()
	root, err := dynalite.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "parley")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/parley")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/parley: %v\n%s", err, out)
	}
	return bin
}

// parleyProc is a running `parley local` process.
type parleyProc struct {
	cmd      *exec.Cmd
	wsURL    string
	dynalite int // pid of its dynalite child
	exited   chan struct{}
	stderr   *bytes.Buffer
	errMu    *sync.Mutex
}

// startParley starts `parley local --addr 127.0.0.1:0 --data-dir dir` and waits for its
// banner; the process and its dynalite are killed when the test ends, if still running.
func startParley(t *testing.T, bin, dir string) *parleyProc {
	t.Helper()
	root, err := dynalite.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "local", "--addr", "127.0.0.1:0", "--data-dir", dir)
	cmd.Dir = root // where dynalite's node_modules are
	cmd.Env = append(os.Environ(), "PARLEY_JWT_SECRET="+string(secret))
	p := &parleyProc{cmd: cmd, exited: make(chan struct{}), stderr: &bytes.Buffer{}, errMu: &sync.Mutex{}}
	cmd.Stderr = lockedWriter{p.errMu, p.stderr}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start parley: %v", err)
	}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { p.stop(t) })
	banner := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "WebSocket:"); ok {
				banner <- strings.TrimSuffix(strings.TrimSpace(rest), "?token=TOKEN")
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case p.wsURL = <-banner:
	case <-p.exited:
		t.Fatalf("parley exited before its banner: %s", p.stderrTail())
	case <-time.After(startTimeout):
		t.Fatalf("no banner from parley within %v: %s", startTimeout, p.stderrTail())
	}
	p.dynalite = childOf(cmd.Process.Pid)
	return p
}

// dial connects user; the connection is closed when the test ends.
func (p *parleyProc) dial(t *testing.T, user string) *client.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	c, err := client.Dial(ctx, p.wsURL, tokenFor(user), clientOptions())
	if err != nil {
		t.Fatalf("connect %s: %v", user, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// kill sends SIGKILL and waits until the process and its dynalite (which the kernel kills
// with it, PR_SET_PDEATHSIG) are gone, so that LevelDB's lock is free again.
func (p *parleyProc) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	if p.dynalite > 0 {
		eventually(t, "dynalite gone after the kill", func() bool { return !alive(p.dynalite) })
	}
}

// stop ends the process (SIGTERM, then SIGKILL after 10 s) and its dynalite.
func (p *parleyProc) stop(t *testing.T) {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.exited
		}
	}
	if p.dynalite > 0 && alive(p.dynalite) {
		_ = syscall.Kill(-p.dynalite, syscall.SIGKILL) // its own process group
	}
	if t.Failed() {
		t.Logf("parley's output: %s", p.stderrTail())
	}
}

func (p *parleyProc) stderrTail() string {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	b := p.stderr.Bytes()
	return string(b[max(0, len(b)-4000):])
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// childOf returns the pid of a child process of pid (parley's only one is dynalite), 0
// when there is none.
func childOf(pid int) int {
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range procs {
		if ppid, _, ok := procStat(f); ok && ppid == pid {
			n, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			return n
		}
	}
	return 0
}

// alive reports whether pid runs (a zombie does not: it holds no locks).
func alive(pid int) bool {
	_, state, ok := procStat(fmt.Sprintf("/proc/%d/stat", pid))
	return ok && state != "Z"
}

// procStat reads the parent pid and state of /proc/PID/stat.
func procStat(path string) (ppid int, state string, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, "", false
	}
	i := bytes.LastIndexByte(b, ')') // the command name may contain spaces
	if i < 0 {
		return 0, "", false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, "", false
	}
	ppid, err = strconv.Atoi(f[1])
	return ppid, f[0], err == nil
}

// streamLog is what a test reads of a table's stream log: each message's record sequence
// number, and the highest.
type streamLog struct {
	byMessage map[string]uint64
	last      uint64
}

// readStreamLog reads D/localddb/streams/TABLE.jsonl; a partial last line (the kill) is
// skipped.
func readStreamLog(t *testing.T, dir, table string) streamLog {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "localddb", "streams", table+".jsonl"))
	if err != nil {
		t.Fatalf("read the stream log: %v", err)
	}
	out := streamLog{byMessage: map[string]uint64{}}
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		var l struct {
			T      string
			Seq    uint64
			Record events.DynamoDBEventRecord
		}
		if json.Unmarshal(line, &l) != nil || l.T != "record" {
			continue
		}
		out.byMessage[l.Record.Change.Keys[schema.AttrMessageID].String()] = l.Seq
		out.last = max(out.last, l.Seq)
	}
	return out
}

// readCheckpoint returns the sequence number of mapping name's checkpoint, 0 when none.
func readCheckpoint(t *testing.T, dir, name string) uint64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "localddb", "checkpoints", name+".json"))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	var cp struct{ SequenceNumber string }
	if err != nil || json.Unmarshal(b, &cp) != nil {
		t.Fatalf("checkpoint %s: %v %s", name, err, b)
	}
	seq, err := strconv.ParseUint(cp.SequenceNumber, 10, 64)
	if err != nil {
		t.Fatalf("checkpoint %s: %v", name, err)
	}
	return seq
}
