package web_test

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/local"
	"github.com/parleychat/parley/internal/local/localtest"
	"github.com/parleychat/parley/web"
)

// defaultChromium is where Debian's chromium package puts the browser (`make deps`).
const defaultChromium = "/usr/bin/chromium"

// TestBrowserChat runs web/e2e/chat.mjs: two people (two headless Chromium contexts) chat
// through the web client served by a real `parley local` on a free port. They start a direct
// conversation, see each other's messages, typing, read marks and presence, then a group
// with "read by N", added members, scroll-back paging and leaving, then version 1.1: a reply
// with its quote, an edit, reactions and a delete, seen live, after a reload, and after one
// of them was away (page closed, client stopped) while the other changed things.
// Screenshots go to the test's output folder, whose path the test logs.
//
// It needs Node.js, Debian's chromium and the npm packages of /package.json; `make deps`
// installs them. PARLEY_SKIP_BROWSER=1 skips the test; PARLEY_CHROMIUM names another browser.
func TestBrowserChat(t *testing.T) {
	if os.Getenv("PARLEY_SKIP_BROWSER") == "1" {
		t.Skip("PARLEY_SKIP_BROWSER=1")
	}
	chromium := os.Getenv("PARLEY_CHROMIUM")
	if chromium == "" {
		chromium = defaultChromium
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the browser test needs Chromium at %s (%v): run `make deps` (or set PARLEY_SKIP_BROWSER=1 to skip it)", chromium, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("the browser test needs Node.js: run `make deps` (or set PARLEY_SKIP_BROWSER=1 to skip it): %v", err)
	}
	root := repoRoot(t)
	ensurePlaywright(t, root)
	out := outputDir(t, root)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	m := localtest.Start(t, local.Config{
		JWTSecret: []byte("browser-test-secret-browser-test-secret"),
		Web:       web.Handler(),
		Logger:    slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: testLogLevel()})),
	})
	base := "http://" + m.Addr()
	t.Logf("parley local at %s; screenshots in %s", base, out)

	cmd := exec.CommandContext(ctx, node, filepath.Join("e2e", "chat.mjs"))
	cmd.Dir = filepath.Join(root, "web")
	cmd.Env = append(os.Environ(), "PARLEY_URL="+base, "PARLEY_OUT="+out, "PARLEY_CHROMIUM="+chromium)
	cmd.WaitDelay = 10 * time.Second
	logs := &lineLogger{t: t}
	cmd.Stdout = logs
	cmd.Stderr = logs
	err = cmd.Run()
	logs.flush()
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("browser scenario did not finish in time: %v (screenshots in %s)", err, out)
		}
		t.Fatalf("browser scenario failed: %v (screenshots in %s)", err, out)
	}
	if !logs.saw("PASS") {
		t.Fatalf("browser scenario exited without reporting PASS")
	}
	shots, err := filepath.Glob(filepath.Join(out, "*.png"))
	if err != nil || len(shots) == 0 {
		t.Fatalf("no screenshots in %s (%v)", out, err)
	}
	t.Logf("%d screenshots in %s", len(shots), out)
}

// repoRoot is the directory holding go.mod, above the package directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("getwd: %v", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.mod above %s", dir)
		}
	}
}

// ensurePlaywright installs the repository's npm packages when playwright-core is missing.
func ensurePlaywright(t *testing.T, root string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(root, "node_modules", "playwright-core", "package.json")); err == nil {
		return
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("playwright-core is not installed and npm is missing: run `make deps`: %v", err)
	}
	t.Logf("installing the npm packages of %s/package.json", root)
	cmd := exec.Command(npm, "install", "--no-audit", "--no-fund")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install: %v\n%s", err, b)
	}
}

// outputDir is where screenshots go: the test's artifact directory under -outputdir when
// `go test -artifacts` is given, else test-output/browser at the repository root (ignored
// by git), emptied first so that it holds only this run's files.
func outputDir(t *testing.T, root string) string {
	t.Helper()
	if f := flag.Lookup("test.artifacts"); f != nil && f.Value.String() == "true" {
		return t.ArtifactDir()
	}
	dir := filepath.Join(root, "test-output", "browser")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatalf("clear %s: %v", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("create %s: %v", dir, err)
	}
	return dir
}

// lineLogger sends a child process's output to the test log, line by line.
type lineLogger struct {
	t     *testing.T
	mu    sync.Mutex
	buf   []byte
	lines []string
}

var _ io.Writer = (*lineLogger)(nil)

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := strings.IndexByte(string(l.buf), '\n')
		if i < 0 {
			return len(p), nil
		}
		l.emit(string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
}

func (l *lineLogger) emit(line string) {
	l.lines = append(l.lines, line)
	l.t.Log("chat.mjs: " + line)
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.emit(string(l.buf))
		l.buf = nil
	}
}

func (l *lineLogger) saw(line string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if strings.TrimSpace(s) == line {
			return true
		}
	}
	return false
}

// testLogLevel is the runtime's log level in this test: warnings, or what
// PARLEY_TEST_LOG_LEVEL says (debug, info) when a failure needs its story.
func testLogLevel() slog.Level {
	var l slog.Level = slog.LevelWarn
	if v := os.Getenv("PARLEY_TEST_LOG_LEVEL"); v != "" {
		_ = l.UnmarshalText([]byte(v))
	}
	return l
}
