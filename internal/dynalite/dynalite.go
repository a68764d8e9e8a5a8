// Package dynalite runs dynalite, a DynamoDB-compatible server written for Node.js, as a
// child process: the DynamoDB engine of Parley's tests and of `parley local`.
//
// dynalite is an npm dependency of the repository (package.json at the repo root). Start
// installs it with `npm install` when node_modules/dynalite is missing, starts
// `node node_modules/dynalite/cli.js` on 127.0.0.1, and waits until a real, signed
// ListTables call through the AWS SDK succeeds. dynalite keeps its data in memory, or in a
// LevelDB directory (Options.Dir) through the classic-level package, whose prebuilt native
// binaries ship inside the npm package.
//
// dynalite implements the table and item API, but no Streams, TTL or transactions.
package dynalite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Region and credentials that clients of a local dynalite use. dynalite checks that requests
// are signed but accepts any key.
const (
	Region          = "us-east-1"
	AccessKeyID     = "local"
	SecretAccessKey = "local"
)

// DefaultStartTimeout bounds Start (installation excluded) when its context has no deadline.
const DefaultStartTimeout = 30 * time.Second

// Options configure Start. The zero value runs an in-memory dynalite on a free port.
type Options struct {
	// Dir is the directory dynalite keeps its LevelDB data in; it is created when missing.
	// Default "": data lives in memory and is lost when the server stops.
	Dir string
	// Port is the TCP port on 127.0.0.1. Default 0: a free port.
	Port int
	// Root is the repository root holding package.json and node_modules. Default "": found
	// by walking up from the working directory to the directory holding go.mod.
	Root string
	// Stderr receives dynalite's output and npm's output. Default nil: discarded (the tail
	// of dynalite's output is still quoted in errors).
	Stderr io.Writer
}

// Server is a running dynalite process.
type Server struct {
	cmd      *exec.Cmd
	endpoint string
	out      *tailBuffer
	done     chan struct{}

	mu      sync.Mutex
	err     error // why the process ended; set before done is closed
	closing bool

	closeOnce sync.Once
	closeErr  error
}

// Start starts dynalite and returns once it answers ListTables. It installs dynalite with
// `npm install` in the repository root first when node_modules/dynalite is missing. It
// returns an error when node or npm are missing, when the process exits early, or when it
// does not become healthy before ctx's deadline (DefaultStartTimeout if ctx has none).
// ctx bounds only the start: the server runs until Close.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("dynalite: invalid port %d", opts.Port)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("dynalite: node not found on PATH (install Node.js 18 or later and npm, e.g. `apt-get install nodejs npm`): %w", err)
	}
	root := opts.Root
	if root == "" {
		if root, err = FindRoot(); err != nil {
			return nil, err
		}
	}
	cli, err := ensureInstalled(ctx, root, opts.Stderr)
	if err != nil {
		return nil, err
	}
	if opts.Dir != "" {
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("dynalite: create data dir: %w", err)
		}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultStartTimeout)
		defer cancel()
	}
	// A free port chosen here can be taken by someone else before dynalite binds it; then
	// dynalite exits at once and another port is tried.
	attempts := 1
	if opts.Port == 0 {
		attempts = 5
	}
	for i := 0; ; i++ {
		port := opts.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, err
			}
		}
		s, err := start(ctx, node, cli, port, opts)
		if err == nil {
			return s, nil
		}
		if i+1 >= attempts || !errors.Is(err, errAddrInUse) || ctx.Err() != nil {
			return nil, err
		}
	}
}

var errAddrInUse = errors.New("address in use")

func start(ctx context.Context, node, cli string, port int, opts Options) (*Server, error) {
	args := []string{cli, "--host", "127.0.0.1", "--port", strconv.Itoa(port)}
	if opts.Dir != "" {
		args = append(args, "--path", opts.Dir)
	}
	cmd := exec.Command(node, args...)
	cmd.Dir = filepath.Dir(cli)
	out := &tailBuffer{max: 8 << 10}
	var w io.Writer = out
	if opts.Stderr != nil {
		w = io.MultiWriter(out, opts.Stderr)
	}
	cmd.Stdout, cmd.Stderr = w, w
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("dynalite: start node: %w", err)
	}
	s := &Server{
		cmd:      cmd,
		endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
		out:      out,
		done:     make(chan struct{}),
	}
	go s.wait()
	if err := s.waitHealthy(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) wait() {
	err := s.cmd.Wait()
	s.mu.Lock()
	switch {
	case s.closing:
		s.err = nil
	case err != nil:
		s.err = fmt.Errorf("dynalite exited: %w; output: %s", err, s.out.String())
	default:
		s.err = fmt.Errorf("dynalite exited unexpectedly; output: %s", s.out.String())
	}
	s.mu.Unlock()
	close(s.done)
}

// waitHealthy polls ListTables until it succeeds, the process dies or ctx ends.
func (s *Server) waitHealthy(ctx context.Context) error {
	client := s.Client(func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	// Calls in flight end as soon as the process dies.
	hctx, hcancel := context.WithCancel(ctx)
	defer hcancel()
	go func() {
		select {
		case <-s.done:
			hcancel()
		case <-hctx.Done():
		}
	}()
	var lastErr error
	for {
		callCtx, cancel := context.WithTimeout(hctx, 2*time.Second)
		_, err := client.ListTables(callCtx, &dynamodb.ListTablesInput{})
		cancel()
		if err == nil {
			return nil
		}
		lastErr = err
		select {
		case <-s.done:
			err := s.Err()
			if strings.Contains(s.out.String(), "EADDRINUSE") {
				return fmt.Errorf("dynalite: port %s: %w: %v", s.endpoint, errAddrInUse, err)
			}
			return fmt.Errorf("dynalite: died while starting: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("dynalite: not healthy at %s before the deadline (last ListTables error: %v; output: %s): %w",
				s.endpoint, lastErr, s.out.String(), ctx.Err())
		case <-tick.C:
		}
	}
}

// Endpoint returns the server's base URL, http://127.0.0.1:PORT.
func (s *Server) Endpoint() string { return s.endpoint }

// Client returns a DynamoDB client for this server: region us-east-1, static credentials,
// the endpoint overridden. optFns adjust its options further.
func (s *Server) Client(optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return NewClient(s.endpoint, optFns...)
}

// NewClient returns a DynamoDB client for a local endpoint (dynalite, or a proxy in front of
// it): region us-east-1, static credentials, BaseEndpoint = endpoint.
func NewClient(endpoint string, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	opts := dynamodb.Options{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(endpoint),
	}
	return dynamodb.New(opts, optFns...)
}

// Done is closed when the process has ended, whether by Close or on its own.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err reports why the process ended: nil while it runs or when Close stopped it, an error
// describing the exit (with the tail of its output) when it died on its own.
func (s *Server) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close stops the process group (SIGTERM, then SIGKILL after 5 s) and waits for it to end.
// It returns the error of a process that had already died on its own. Close is safe to
// call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		select {
		case <-s.done:
			// Died before Close: report that.
			s.closeErr = s.err
			s.mu.Unlock()
			return
		default:
		}
		s.closing = true
		s.mu.Unlock()
		terminate(s.cmd)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			kill(s.cmd)
			<-s.done
		}
	})
	return s.closeErr
}

// FindRoot returns the repository root: the nearest directory at or above the working
// directory that holds go.mod.
func FindRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("dynalite: find repo root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("dynalite: find repo root: no go.mod above the working directory; set Options.Root")
		}
		dir = parent
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("dynalite: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSpace(b.buf.String())
	if s == "" {
		return "(none)"
	}
	return s
}
