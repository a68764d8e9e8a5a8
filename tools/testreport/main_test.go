package main

import (
	"strings"
	"testing"
)

func TestReport(t *testing.T) {
	tests := []struct {
		name     string
		in       []string
		wantCode int
		want     []string
	}{
		{
			name: "pass with subtests and a skip",
			in: []string{
				`{"Action":"pass","Package":"p","Test":"TestA/one"}`,
				`{"Action":"pass","Package":"p","Test":"TestA"}`,
				`{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:9: needs X\n"}`,
				`{"Action":"output","Package":"p","Test":"TestB","Output":"--- SKIP: TestB (0.00s)\n"}`,
				`{"Action":"skip","Package":"p","Test":"TestB"}`,
				`{"Action":"pass","Package":"p","Elapsed":0.5}`,
			},
			want: []string{"ok  \tp\t0.500s", "2 passed, 1 skipped; with subtests: TestA (1)", "--- SKIP: TestB: b_test.go:9: needs X", "go: 2 passed, 0 failed, 1 skipped"},
		},
		{
			name: "a failure shows its output",
			in: []string{
				`{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:3: boom\n"}`,
				`{"Action":"fail","Package":"p","Test":"TestA"}`,
				`{"Action":"fail","Package":"p","Elapsed":0.2}`,
			},
			wantCode: 1,
			want:     []string{"--- FAIL: TestA", "a_test.go:3: boom", "FAIL\tp\t0.200s", "go: 0 passed, 1 failed, 0 skipped"},
		},
		{
			name:     "a build failure fails",
			in:       []string{`{"ImportPath":"p","Action":"build-output","Output":"p/x.go:1: syntax error\n"}`, `{"ImportPath":"p","Action":"build-fail"}`},
			wantCode: 1,
			want:     []string{"syntax error", "FAIL"},
		},
		{
			name:     "no test at all fails",
			in:       []string{`{"Action":"skip","Package":"p"}`},
			wantCode: 1,
			want:     []string{"no test ran"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			code, err := report(strings.NewReader(strings.Join(tt.in, "\n")), &out)
			if err != nil || code != tt.wantCode {
				t.Fatalf("code %d, err %v; want %d\n%s", code, err, tt.wantCode, out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
