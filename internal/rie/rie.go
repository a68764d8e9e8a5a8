// Package rie runs a Lambda function's built bootstrap under the AWS Lambda Runtime
// Interface Emulator (aws-lambda-rie, github.com/aws/aws-lambda-runtime-interface-emulator)
// and invokes it through the emulator's HTTP invoke API,
//
//	POST http://127.0.0.1:PORT/2015-03-31/functions/function/invocations
//
// as Lambda's Invoke API would. The bootstrap talks to the emulator's Runtime API exactly as
// it talks to Lambda's (the provided.al2023 contract), so what runs is the packaged
// artifact with its configuration: its environment, its init, its JSON decoding of the
// events and encoding of the responses, its timeout.
//
// Every emulator listens on 127.0.0.1 only, on ports of its own (the invoke API and the
// Runtime API), so several run side by side. The emulator runs on Linux only.
//
// What the emulator does not do, this package does: it serializes invocations (one
// emulator runs one invocation at a time, as one execution environment does, and crashes
// when it gets two at once), it turns the emulator's answers into Go errors (the emulator
// answers a function's error with HTTP 200 and the error payload, and sets no
// X-Amz-Function-Error header), and it restarts an emulator that died.
package rie

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// DefaultTimeout is the emulator's own invocation timeout, used when Options.Timeout is 0.
const DefaultTimeout = 300 * time.Second

// startTimeout bounds the start of one emulator (until both its ports accept connections).
const startTimeout = 15 * time.Second

// Options configures a Function. Emulator, Bootstrap and Name are required.
type Options struct {
	// Emulator is the aws-lambda-rie binary.
	Emulator string
	// Bootstrap is the function's executable, built for this machine. It runs in its own
	// directory, as Lambda runs it in /var/task.
	Bootstrap string
	// Name is the function's name: AWS_LAMBDA_FUNCTION_NAME, and the prefix of its output
	// lines and errors.
	Name string
	// Env is the function's whole environment. The emulator passes its own environment on
	// to the bootstrap, so the bootstrap sees exactly Env and what Lambda's runtime adds
	// (AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_TIMEOUT,
	// AWS_LAMBDA_FUNCTION_MEMORY_SIZE, AWS_LAMBDA_RUNTIME_API, ...): nothing of this
	// process's environment.
	Env map[string]string
	// Timeout ends an invocation: the function's context has this deadline, and the
	// emulator stops the runtime when it passes (AWS_LAMBDA_FUNCTION_TIMEOUT, whole seconds,
	// rounded up). Default DefaultTimeout.
	Timeout time.Duration
	// MemoryMB is the memory size reported to the function (AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
	// the emulator enforces no limit. Default: the emulator's (3008).
	MemoryMB int
	// Instances is the number of emulators, each with its own bootstrap process: an
	// invocation goes to an idle one and waits while all are busy (where Lambda would start
	// another execution environment). Default 1.
	Instances int
	// Output receives the output of the emulators and of the bootstraps (the emulator's
	// START, END and REPORT lines around each invocation, the function's own logs), line by
	// line, each prefixed with "NAME: " ("NAME#2: " for the second instance). Writes to
	// every Output are serialized across all Functions. Default: discarded.
	Output io.Writer
}

// Function is a running function: Options.Instances emulators of one bootstrap. Its
// methods are safe for concurrent use.
type Function struct {
	opts   Options
	client *http.Client
	idle   chan *process

	mu      sync.Mutex
	procs   []*process
	closed  bool
	closing chan struct{}
}

// Start starts the emulators of opts and returns once every one accepts invocations. The
// function's init runs at its first invocation, as on Lambda; an init error comes back
// from that Invoke. On error, what was started is stopped.
func Start(ctx context.Context, opts Options) (*Function, error) {
	if opts.Emulator == "" || opts.Bootstrap == "" || opts.Name == "" {
		return nil, errors.New("rie: Options.Emulator, Bootstrap and Name are required")
	}
	if err := supported(); err != nil {
		return nil, err
	}
	// The emulator runs in the bootstrap's directory: relative paths must not move.
	emulator, err := exec.LookPath(opts.Emulator)
	if err == nil {
		opts.Emulator, err = filepath.Abs(emulator)
	}
	if err != nil {
		return nil, fmt.Errorf("rie: function %s: the emulator: %w", opts.Name, err)
	}
	if opts.Bootstrap, err = filepath.Abs(opts.Bootstrap); err != nil {
		return nil, fmt.Errorf("rie: function %s: %w", opts.Name, err)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	opts.Instances = max(opts.Instances, 1)
	if opts.Output == nil {
		opts.Output = io.Discard
	}
	f := &Function{
		opts: opts,
		// The emulator answers within the timeout (it stops the runtime then); the slack
		// only bounds an emulator that stopped answering.
		client:  &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: opts.Timeout + 10*time.Second},
		idle:    make(chan *process, opts.Instances),
		closing: make(chan struct{}),
	}
	for i := range opts.Instances {
		p, err := f.start(ctx, f.label(i))
		if err != nil {
			_ = f.Close()
			return nil, err
		}
		f.mu.Lock()
		f.procs = append(f.procs, p)
		f.mu.Unlock()
		f.idle <- p
	}
	return f, nil
}

func (f *Function) label(i int) string {
	if i == 0 {
		return f.opts.Name
	}
	return f.opts.Name + "#" + strconv.Itoa(i+1)
}

// env is the emulator's environment: Options.Env and the function settings the emulator
// reads.
func (f *Function) env() []string {
	out := make([]string, 0, len(f.opts.Env)+3)
	for k, v := range f.opts.Env {
		out = append(out, k+"="+v)
	}
	out = append(out,
		"AWS_LAMBDA_FUNCTION_NAME="+f.opts.Name,
		"AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(int(math.Ceil(f.opts.Timeout.Seconds()))))
	if f.opts.MemoryMB > 0 {
		out = append(out, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(f.opts.MemoryMB))
	}
	return out
}

// Invoke invokes the function with payload (the event, JSON) and returns its response
// (JSON). A failed invocation is a *FunctionError: the function returned an error or
// panicked, its runtime exited, it timed out, or its init failed. When ctx ends first,
// Invoke returns ctx's error at once; the emulator finishes (or times out) the invocation
// before it takes another.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var p *process
	select {
	case p = <-f.idle:
	case <-ctx.Done():
		return nil, fmt.Errorf("rie: invoke %s: wait for an idle emulator: %w", f.opts.Name, ctx.Err())
	case <-f.closing:
		return nil, fmt.Errorf("rie: invoke %s: closed", f.opts.Name)
	}
	p, err := f.alive(ctx, p)
	if err != nil {
		f.idle <- p
		return nil, err
	}
	type result struct {
		body []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer func() { f.idle <- p }() // only once the emulator is done with it
		body, err := f.invoke(p, payload)
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" && p.exited(time.Second) {
			// The emulator died since its last invocation and never got this one: send it
			// to a new emulator.
			if np, rerr := f.alive(context.Background(), p); rerr == nil {
				p = np
				body, err = f.invoke(p, payload)
			}
		}
		done <- result{body, err}
	}()
	select {
	case r := <-done:
		return r.body, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("rie: invoke %s: %w", f.opts.Name, ctx.Err())
	}
}

// alive returns p, or a new emulator in its place when p's has exited.
func (f *Function) alive(ctx context.Context, p *process) (*process, error) {
	select {
	case <-p.done:
	default:
		return p, nil
	}
	np, err := f.start(ctx, p.label)
	if err != nil {
		return p, fmt.Errorf("rie: restart the emulator of %s, which exited (%v): %w", p.label, p.exitErr, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		np.stop()
		return p, fmt.Errorf("rie: invoke %s: closed", f.opts.Name)
	}
	for i := range f.procs {
		if f.procs[i] == p {
			f.procs[i] = np
		}
	}
	return np, nil
}

func (f *Function) invoke(p *process, payload []byte) ([]byte, error) {
	req, err := http.NewRequest(http.MethodPost, p.url, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("rie: invoke %s: %w", p.label, err)
	}
	req.Header.Set("Content-Type", "application/json")
	mark := p.out.written()
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("rie: invoke %s at %s: %w", p.label, p.url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("rie: invoke %s: read the response: %w", p.label, err)
	}
	out, err := decode(f.opts.Name, resp.StatusCode, resp.Header, body)
	var fe *FunctionError
	if errors.As(err, &fe) && fe.Type == "" {
		fe.Output = p.out.since(mark)
	}
	return out, err
}

// Pids returns the process ids of the running emulators (each the parent of its
// bootstrap's process).
func (f *Function) Pids() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for _, p := range f.procs {
		select {
		case <-p.done:
		default:
			out = append(out, p.cmd.Process.Pid)
		}
	}
	return out
}

// Close stops every emulator and its bootstrap and waits for them to exit. Invocations in
// flight fail.
func (f *Function) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	close(f.closing)
	procs := f.procs
	f.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(p.stop)
	}
	wg.Wait()
	f.client.CloseIdleConnections()
	return nil
}
