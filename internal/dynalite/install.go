package dynalite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
)

// CLIPath returns where dynalite's command-line entry point lives under root.
func CLIPath(root string) string {
	return filepath.Join(root, "node_modules", "dynalite", "cli.js")
}

// ensureInstalled returns the path of dynalite's cli.js under root, running `npm install`
// in root first when it is missing. Test binaries of several packages run in parallel, so
// the install holds a lock file (one per root, in the temp dir) and checks again under it.
func ensureInstalled(ctx context.Context, root string, stderr io.Writer) (string, error) {
	cli := CLIPath(root)
	if _, err := os.Stat(cli); err == nil {
		return cli, nil
	}
	if _, err := os.Stat(filepath.Join(root, "package.json")); err != nil {
		return "", fmt.Errorf("dynalite: not installed and no package.json in %s to install it from: %w", root, err)
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("dynalite: %s is missing and npm is not on PATH to install it (install Node.js 18 or later and npm, e.g. `apt-get install nodejs npm`, then run `npm install` in %s): %w", cli, root, err)
	}
	sum := sha256.Sum256([]byte(root))
	lock := flock.New(filepath.Join(os.TempDir(), "parley-npm-install-"+hex.EncodeToString(sum[:8])+".lock"))
	locked, err := lock.TryLockContext(ctx, 250*time.Millisecond)
	if err != nil || !locked {
		return "", fmt.Errorf("dynalite: wait for the npm install lock %s: %w", lock.Path(), err)
	}
	defer lock.Unlock()
	if _, err := os.Stat(cli); err == nil {
		return cli, nil // another process installed it while we waited
	}
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund")
	cmd.Dir = root
	out := &tailBuffer{max: 8 << 10}
	var w io.Writer = out
	if stderr != nil {
		w = io.MultiWriter(out, stderr)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("dynalite: npm install in %s: %w; output: %s", root, err, out.String())
	}
	if _, err := os.Stat(cli); err != nil {
		return "", fmt.Errorf("dynalite: npm install in %s succeeded but %s is missing (is dynalite in package.json?): %w", root, cli, err)
	}
	return cli, nil
}
