package rie_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/rie"
	"github.com/parleychat/parley/internal/rie/rietest"
)

// buildFn builds testdata/fn as DIR/fn/bootstrap, as the Makefile builds a function (for
// this machine), and returns its path.
func buildFn(t *testing.T) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the Lambda Runtime Interface Emulator runs on Linux only")
	}
	out := filepath.Join(t.TempDir(), "fn", "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", out, "./testdata/fn")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build testdata/fn: %v\n%s", err, b)
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type response struct {
	Env      map[string]string `json:"env"`
	Deadline float64           `json:"deadline"`
	Function string            `json:"function"`
	Pid      int               `json:"pid"`
}

func invoke(t *testing.T, ctx context.Context, f *rie.Function, ev string) (response, error) {
	t.Helper()
	b, err := f.Invoke(ctx, []byte(ev))
	if err != nil {
		return response{}, err
	}
	var r response
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return r, nil
}

// running reports whether pid is a live process (a zombie is not).
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && !bytes.HasPrefix(bytes.TrimSpace(b[i+1:]), []byte("Z"))
}

// waitGone waits until none of pids runs: a killed process disappears a moment after its
// signal.
func waitGone(t *testing.T, what string, pids []int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for running(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("%s %d still runs after Close", what, pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func wantFunctionError(t *testing.T, err error, typ, msg string) *rie.FunctionError {
	t.Helper()
	var fe *rie.FunctionError
	if !errors.As(err, &fe) {
		t.Fatalf("got %v (%T), want a *rie.FunctionError", err, err)
	}
	if fe.Type != typ || !strings.Contains(fe.Message, msg) {
		t.Fatalf("got type %q message %q, want type %q and a message with %q", fe.Type, fe.Message, typ, msg)
	}
	return fe
}

// TestFunction runs testdata/fn under two emulators: its environment, its deadline, every
// kind of failure, serialized concurrent invocations, a caller that gives up, an emulator
// that dies, and Close stopping every process.
func TestFunction(t *testing.T) {
	t.Parallel()
	bootstrap := buildFn(t)
	out := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f, err := rie.Start(ctx, rie.Options{
		Emulator: rietest.Emulator(t), Bootstrap: bootstrap, Name: "fn",
		Env:     map[string]string{"GREETING": "hello"},
		Timeout: 2 * time.Second, MemoryMB: 128, Instances: 2, Output: out,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bootstraps := map[int]bool{}

	r, err := invoke(t, ctx, f, `{}`)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	bootstraps[r.Pid] = true
	if r.Env["GREETING"] != "hello" || r.Env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] != "128" || r.Env["AWS_LAMBDA_FUNCTION_TIMEOUT"] != "2" || r.Function != "fn" {
		t.Errorf("got env %v, function %q; want GREETING, the memory size, the timeout and the name", r.Env, r.Function)
	}
	if _, ok := r.Env["HOME"]; ok {
		t.Errorf("the function got this process's HOME (%v): its environment must be Options.Env only", r.Env)
	}
	if r.Deadline <= 0 || r.Deadline > 2 {
		t.Errorf("got %.3f s before the deadline, want (0, 2]", r.Deadline)
	}

	_, err = invoke(t, ctx, f, `{"fail":"boom"}`)
	wantFunctionError(t, err, "errorString", "boom")
	_, err = invoke(t, ctx, f, `{"panic":true}`)
	if fe := wantFunctionError(t, err, "string", "asked to panic"); fe.Function != "fn" {
		t.Errorf("got function %q, want fn", fe.Function)
	}
	_, err = invoke(t, ctx, f, `{"exit":true}`)
	wantFunctionError(t, err, "Runtime.ExitError", "exit status 3")

	start := time.Now()
	_, err = invoke(t, ctx, f, `{"sleep":"10s"}`)
	wantFunctionError(t, err, rie.TypeTimeout, "timed out after 2")
	if d := time.Since(start); d < 2*time.Second || d > 5*time.Second {
		t.Errorf("the timeout came after %v, want about 2 s", d)
	}

	// Six invocations of 300 ms at once on two emulators: each runs one at a time (an
	// emulator given two at once crashes), so they take three rounds.
	start = time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	pids := make(chan int, 6)
	for range 6 {
		wg.Go(func() {
			r, err := invoke(t, ctx, f, `{"sleep":"300ms"}`)
			errs <- err
			pids <- r.Pid
		})
	}
	wg.Wait()
	close(errs)
	close(pids)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent invoke: %v", err)
		}
	}
	for pid := range pids {
		bootstraps[pid] = true
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("six 300 ms invocations on two emulators took %v, want three rounds", d)
	}

	// A caller that gives up gets its context's error at once; the emulator finishes the
	// invocation before it takes the next one.
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	start = time.Now()
	_, err = invoke(t, short, f, `{"sleep":"1s"}`)
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 500*time.Millisecond {
		t.Errorf("got %v after %v, want the context's deadline at once", err, time.Since(start))
	}

	// An emulator that dies is replaced at the next invocation that gets it.
	emulators := f.Pids()
	if len(emulators) != 2 {
		t.Fatalf("got emulators %v, want 2", emulators)
	}
	for _, pid := range emulators {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	waitGone(t, "killed emulator", emulators)
	for deadline := time.Now().Add(5 * time.Second); len(f.Pids()) > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the Function still counts emulators %v as running", f.Pids())
		}
	}
	for range 2 {
		if r, err = invoke(t, ctx, f, `{}`); err != nil {
			t.Fatalf("invoke after the emulators died: %v", err)
		}
		bootstraps[r.Pid] = true
	}
	emulators = f.Pids()
	if len(emulators) != 2 {
		t.Fatalf("got emulators %v after the restart, want 2", emulators)
	}

	for _, want := range []string{"fn: START RequestId: ", "fn#2: START RequestId: ", "fn: fn: handled an event", "fn: REPORT RequestId: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output has no %q:\n%s", want, out.String())
		}
	}

	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	waitGone(t, "emulator", emulators)
	var boots []int
	for pid := range bootstraps {
		boots = append(boots, pid)
	}
	waitGone(t, "bootstrap", boots)
	if _, err := f.Invoke(ctx, []byte(`{}`)); err == nil {
		t.Error("invoke after Close succeeded")
	}
}

// TestInitFailure: a bootstrap that exits at init fails its invocations with the output
// that says why.
func TestInitFailure(t *testing.T) {
	t.Parallel()
	bootstrap := buildFn(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f, err := rie.Start(ctx, rie.Options{
		Emulator: rietest.Emulator(t), Bootstrap: bootstrap, Name: "broken",
		Env: map[string]string{"FAIL_INIT": "1"}, Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for range 2 { // and again: the emulator tries the init again
		_, err = f.Invoke(ctx, []byte(`{}`))
		fe := wantFunctionError(t, err, "", "502")
		t.Logf("init failure: %v", fe)
	}
}
