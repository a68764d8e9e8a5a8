package rie

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// invokePath is the emulator's invoke API.
const invokePath = "/2015-03-31/functions/function/invocations"

// startAttempts is how often start tries before it gives up: an emulator that exits at
// once (another process took one of its ports between the choice and the bind) is started
// again on other ports.
const startAttempts = 3

// process is one emulator and, once the function has been initialized, its bootstrap.
type process struct {
	label string
	cmd   *exec.Cmd
	url   string
	out   *lineWriter
	// done is closed when the emulator has exited, exitErr set before.
	done    chan struct{}
	exitErr error
}

// start starts one emulator and waits until it serves.
func (f *Function) start(ctx context.Context, label string) (*process, error) {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	var errs []error
	for range startAttempts {
		p, err := f.startOnce(ctx, label)
		if err == nil {
			return p, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("rie: start the emulator of %s: %w", label, errors.Join(errs...))
}

func (f *Function) startOnce(ctx context.Context, label string) (*process, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	invokeAddr, runtimeAddr := ports[0], ports[1]
	out := &lineWriter{w: f.opts.Output, prefix: label + ": "}
	cmd := exec.Command(f.opts.Emulator,
		"--log-level", "warn", // the emulator's own log level; the function's LOG_LEVEL stays the function's
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", runtimeAddr,
		f.opts.Bootstrap)
	cmd.Dir = filepath.Dir(f.opts.Bootstrap)
	cmd.Env = f.env()
	cmd.Stdout, cmd.Stderr = out, out
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", f.opts.Emulator, err)
	}
	p := &process{label: label, cmd: cmd, url: "http://" + invokeAddr + invokePath, out: out, done: make(chan struct{})}
	go func() {
		p.exitErr = cmd.Wait()
		out.flush()
		close(p.done)
	}()
	if err := p.waitReady(ctx, invokeAddr, runtimeAddr); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// waitReady waits until both the invoke API and the Runtime API accept connections.
func (p *process) waitReady(ctx context.Context, addrs ...string) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var d net.Dialer
	for _, addr := range addrs {
		for {
			c, err := d.DialContext(ctx, "tcp", addr)
			if err == nil {
				_ = c.Close()
				break
			}
			select {
			case <-p.done:
				return fmt.Errorf("the emulator exited before it served on %s (%v); its output: %s", addr, p.exitErr, p.out.since(0))
			case <-ctx.Done():
				return fmt.Errorf("the emulator did not serve on %s: %w; its output: %s", addr, ctx.Err(), p.out.since(0))
			case <-tick.C:
			}
		}
	}
	return nil
}

// exited reports whether the emulator has exited, waiting up to d for it to.
func (p *process) exited(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// stop ends the bootstrap and the emulator and waits for the emulator to exit. The
// emulator runs the bootstrap in a process group of its own and does not stop it when it
// is told to stop (the bootstrap would exit once it finds the Runtime API gone, but only
// after the invocation it runs), so stop kills it first.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	killChildren(p.cmd.Process.Pid)
	terminate(p.cmd)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// freePorts returns n distinct free ports of 127.0.0.1, as HOST:PORT.
func freePorts(n int) ([]string, error) {
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		out = append(out, l.Addr().String())
	}
	return out, nil
}

// outputMu serializes the writes to every Options.Output.
var outputMu sync.Mutex

// tailSize is how much of its output a process keeps for error messages.
const tailSize = 4 << 10

// lineWriter writes whole lines with a prefix to w, and keeps the last tailSize bytes.
type lineWriter struct {
	w      io.Writer
	prefix string

	mu      sync.Mutex
	partial []byte
	tail    []byte
	total   int64 // bytes written so far
}

func (l *lineWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total += int64(len(b))
	l.tail = append(l.tail, b...)
	if len(l.tail) > tailSize {
		l.tail = append(l.tail[:0], l.tail[len(l.tail)-tailSize:]...)
	}
	l.partial = append(l.partial, b...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.emit(l.partial[:i+1])
		l.partial = l.partial[i+1:]
	}
	return len(b), nil
}

func (l *lineWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.partial) > 0 {
		l.emit(append(l.partial, '\n'))
		l.partial = nil
	}
}

func (l *lineWriter) emit(line []byte) {
	outputMu.Lock()
	defer outputMu.Unlock()
	_, _ = l.w.Write(append([]byte(l.prefix), line...))
}

// written is the number of bytes written so far, a mark for since.
func (l *lineWriter) written() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// since returns what was written after mark, as far as the tail still holds it.
func (l *lineWriter) since(mark int64) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := min(l.total-mark, int64(len(l.tail)))
	return string(l.tail[int64(len(l.tail))-n:])
}
