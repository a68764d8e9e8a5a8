// Package rietest gives tests the AWS Lambda Runtime Interface Emulator, installed by the
// repository's scripts/install-rie.sh, and the function binaries they run under it.
package rietest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	once sync.Once
	path string
	err  error
)

// Emulator returns the path of aws-lambda-rie, running scripts/install-rie.sh (once per
// test binary; it does nothing when the pinned version is installed) to install it into
// .tools/bin/. It never skips: when the emulator cannot be installed, the test fails with
// the script's output.
func Emulator(t testing.TB) string {
	t.Helper()
	once.Do(func() { path, err = install() })
	if err != nil {
		t.Fatalf("rietest: %v\n\nThese tests run the AWS Lambda Runtime Interface Emulator (Linux only), which "+
			"scripts/install-rie.sh builds with `go install` from the Go module proxy: it needs Go and access to the proxy.", err)
	}
	return path
}

func install() (string, error) {
	root, err := Root()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "install-rie.sh"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", errors.Join(err, errors.New(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// Root returns the repository root: the nearest directory at or above the working
// directory with scripts/install-rie.sh.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "scripts", "install-rie.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no scripts/install-rie.sh at or above the working directory")
		}
		dir = parent
	}
}
