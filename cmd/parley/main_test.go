package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHelpExitsZero runs the built command: `parley <command> -h` prints the command's
// flags and exits 0 (asking for help is not an error); a bad flag still exits non-zero.
func TestHelpExitsZero(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "parley")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for name := range commands {
		args := []string{name, "-h"}
		if name == "migrate" {
			args = []string{name, "keyspaces", "-h"}
		}
		t.Run(name, func(t *testing.T) {
			out, err := exec.Command(bin, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("parley %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			if !strings.Contains(string(out), "-") || strings.Contains(string(out), "help requested") {
				t.Fatalf("parley %s printed no usage, or an error:\n%s", strings.Join(args, " "), out)
			}
		})
	}
	t.Run("bad flag", func(t *testing.T) {
		cmd := exec.Command(bin, "token", "--no-such-flag")
		cmd.Env = append(os.Environ(), "PARLEY_JWT_SECRET=x")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("parley token --no-such-flag: %v\n%s", err, out)
		}
	})
	t.Run("local notify flags", func(t *testing.T) {
		out, _ := exec.Command(bin, "local", "-h").CombinedOutput()
		for _, f := range []string{"-notify-url", "-notify-preview"} {
			if !strings.Contains(string(out), f) {
				t.Errorf("parley local -h does not list %s:\n%s", f, out)
			}
		}
		// A bad URL is refused before anything starts.
		out, err := exec.Command(bin, "local", "--notify-url", "ftp://127.0.0.1/hook").CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "bad --notify-url") {
			t.Fatalf("parley local --notify-url ftp://...: %v\n%s", err, out)
		}
	})
	t.Run("bad user", func(t *testing.T) {
		cmd := exec.Command(bin, "token", "--user", "not a user!")
		cmd.Env = append(os.Environ(), "PARLEY_JWT_SECRET=x")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "not a valid user id") {
			t.Fatalf("parley token --user 'not a user!': %v\n%s", err, out)
		}
	})
}
