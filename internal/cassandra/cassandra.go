// Package cassandra gives tests a real Apache Cassandra on 127.0.0.1.
//
// One Cassandra serves a whole test run. When PARLEY_CASSANDRA_HOSTS is set (the Makefile
// and .ci/run start the node with scripts/cassandra/cassandra.sh and export it), tests use
// that node. Otherwise the first test that asks starts one through the same script, which
// fetches Cassandra's jars from Maven Central on first use into .tools/cassandra, and takes a
// lease on it for the test process; test binaries of other packages that run at the same
// time share it, and a watchdog stops it once no leasing process is alive.
package cassandra

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// EnvHosts names the environment variable that points tests at a running Cassandra, as
// "host:port" (the CQL native port).
const EnvHosts = "PARLEY_CASSANDRA_HOSTS"

// StartTimeout bounds how long StartForTest waits for a node to start and answer CQL.
const StartTimeout = 5 * time.Minute

// envTimeout bounds the wait for a node named by EnvHosts to answer CQL.
const envTimeout = time.Minute

var (
	once     sync.Once
	addrHost string
	addrPort int
	startErr error
)

// StartForTest returns the address of a Cassandra node that answers CQL, starting one if
// needed (see the package doc). It is called from tests of any package; the node is started
// at most once per test process. Under -short it skips the test. It fails the test with the
// reason (and where the node's log is) when no node can be had within StartTimeout.
func StartForTest(t testing.TB) (hosts string, port int) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping: needs a real Cassandra (run without -short)")
	}
	once.Do(func() {
		addrHost, addrPort, startErr = start()
	})
	if startErr != nil {
		t.Fatalf("cassandra: %v", startErr)
	}
	return addrHost, addrPort
}

func start() (string, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	addr := os.Getenv(EnvHosts)
	if addr == "" {
		var err error
		addr, err = startShared(ctx)
		if err != nil {
			return "", 0, err
		}
	} else {
		// A node named in the environment is already up: a short wait suffices.
		var cancelEnv context.CancelFunc
		ctx, cancelEnv = context.WithTimeout(ctx, envTimeout)
		defer cancelEnv()
	}
	host, port, err := SplitAddr(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%s=%q: %w", EnvHosts, addr, err)
	}
	if err := WaitCQL(ctx, host, port); err != nil {
		return "", 0, err
	}
	return host, port, nil
}

// SplitAddr parses "host:port" into its parts.
func SplitAddr(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(strings.TrimSpace(addr))
	if err != nil {
		return "", 0, fmt.Errorf("parse cassandra address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("parse cassandra address %q: bad port %q", addr, p)
	}
	return host, port, nil
}

// startShared runs scripts/cassandra/cassandra.sh start with a lease for this process and
// returns the address it prints.
func startShared(ctx context.Context) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	script := filepath.Join(root, "scripts", "cassandra", "cassandra.sh")
	cmd := exec.CommandContext(ctx, "bash", script, "start", "--lease", strconv.Itoa(os.Getpid()))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("start Cassandra with %s: %w\n%s", script, err, tail(stderr.String(), 40))
	}
	addr := strings.TrimSpace(stdout.String())
	if addr == "" {
		return "", fmt.Errorf("start Cassandra with %s: it printed no address\n%s", script, tail(stderr.String(), 40))
	}
	return addr, nil
}

// WaitCQL waits until the node at host:port answers a CQL query, or ctx ends.
func WaitCQL(ctx context.Context, host string, port int) error {
	var last error
	for {
		if last = queryVersion(host, port); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cassandra at %s did not answer CQL: %w (last error: %v)",
				net.JoinHostPort(host, strconv.Itoa(port)), ctx.Err(), last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func queryVersion(host string, port int) error {
	cluster := gocql.NewCluster(host)
	cluster.Port = port
	cluster.Timeout = 5 * time.Second
	cluster.ConnectTimeout = 5 * time.Second
	cluster.DisableInitialHostLookup = true
	session, err := cluster.CreateSession()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer session.Close()
	var version string
	if err := session.Query("SELECT release_version FROM system.local").Scan(&version); err != nil {
		return fmt.Errorf("query system.local: %w", err)
	}
	return nil
}

// repoRoot finds the module root (the directory holding go.mod and scripts/cassandra) from
// the working directory, which go test sets to the package's directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "scripts", "cassandra", "cassandra.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repository root: no scripts/cassandra/cassandra.sh above the working directory")
		}
		dir = parent
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
