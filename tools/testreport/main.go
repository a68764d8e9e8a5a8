// Command testreport turns `go test -json` into go test's usual summary, adding what the
// summary hides: how many tests (and subtests) ran in each package, which were skipped and
// why, and the full output of every failure.
//
//	set -o pipefail; go test -json ./... | go run ./tools/testreport
//
// It exits 1 when a test or a package failed, or when the input holds no test at all.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Elapsed    float64
	Output     string
	ImportPath string
}

type pkgState struct {
	output       map[string][]string // by test name ("" for the package itself)
	passed       int
	skipped      []string
	failed       []string
	toplevel     map[string]int // subtests passed under each top-level test
	sawTestEvent bool
}

func main() {
	code, err := report(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

func report(in io.Reader, out io.Writer) (int, error) {
	pkgs := map[string]*pkgState{}
	get := func(p string) *pkgState {
		if pkgs[p] == nil {
			pkgs[p] = &pkgState{output: map[string][]string{}, toplevel: map[string]int{}}
		}
		return pkgs[p]
	}
	failed, total, passed, skipped, failedTests := false, 0, 0, 0, 0
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Fprintln(out, sc.Text()) // not JSON: pass it through (a build error on stderr merged)
			continue
		}
		switch e.Action {
		case "build-output":
			fmt.Fprint(out, e.Output)
			continue
		case "build-fail":
			failed = true
			continue
		}
		if e.Package == "" {
			continue
		}
		p := get(e.Package)
		switch e.Action {
		case "output":
			p.output[e.Test] = append(p.output[e.Test], e.Output)
		case "pass":
			if e.Test == "" {
				fmt.Fprintf(out, "ok  \t%s\t%.3fs\n", e.Package, e.Elapsed)
				summary(out, p)
				continue
			}
			p.sawTestEvent = true
			p.passed++
			total++
			passed++
			if top, _, sub := strings.Cut(e.Test, "/"); sub {
				p.toplevel[top]++
			}
		case "skip":
			if e.Test == "" {
				fmt.Fprintf(out, "?   \t%s\t[no test files]\n", e.Package)
				continue
			}
			total++
			skipped++
			p.skipped = append(p.skipped, e.Test+": "+reason(p.output[e.Test]))
		case "fail":
			failed = true
			if e.Test == "" {
				for _, t := range p.failed {
					fmt.Fprintf(out, "--- FAIL: %s\n%s", t, strings.Join(p.output[t], ""))
				}
				fmt.Fprint(out, strings.Join(p.output[""], ""))
				fmt.Fprintf(out, "FAIL\t%s\t%.3fs\n", e.Package, e.Elapsed)
				continue
			}
			total++
			failedTests++
			p.failed = append(p.failed, e.Test)
		}
	}
	if err := sc.Err(); err != nil {
		return 2, err
	}
	if total == 0 && !failed {
		fmt.Fprintln(out, "testreport: no test ran")
		return 1, nil
	}
	fmt.Fprintf(out, "go: %d passed, %d failed, %d skipped (tests and subtests)\n", passed, failedTests, skipped)
	if failed {
		fmt.Fprintln(out, "FAIL")
		return 1, nil
	}
	return 0, nil
}

// summary prints a passed package's counts, its subtest-carrying tests and its skips.
func summary(out io.Writer, p *pkgState) {
	if !p.sawTestEvent && len(p.skipped) == 0 {
		return
	}
	line := fmt.Sprintf("    %d passed", p.passed)
	if len(p.skipped) > 0 {
		line += fmt.Sprintf(", %d skipped", len(p.skipped))
	}
	var tops []string
	for t, n := range p.toplevel {
		tops = append(tops, fmt.Sprintf("%s (%d)", t, n))
	}
	sort.Strings(tops)
	if len(tops) > 0 {
		line += "; with subtests: " + strings.Join(tops, ", ")
	}
	fmt.Fprintln(out, line)
	for _, s := range p.skipped {
		fmt.Fprintf(out, "    --- SKIP: %s\n", s)
	}
}

// reason returns the last line a skipped test logged (its t.Skip message).
func reason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l != "" && !strings.HasPrefix(l, "--- SKIP") && !strings.HasPrefix(l, "=== ") {
			return l
		}
	}
	return "(no reason given)"
}
