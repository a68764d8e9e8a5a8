package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCostJSON checks the keys `parley cost --json` promises, with their types.
func TestCostJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := costCommand([]string{"--load", "mid", "--json"}, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	var rep map[string]any
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if v, ok := rep["monthlyUSD"].(float64); !ok || v <= 0 {
		t.Errorf("monthlyUSD = %#v", rep["monthlyUSD"])
	}
	for _, k := range []string{"byComponent", "byAction"} {
		m, ok := rep[k].(map[string]any)
		if !ok || len(m) == 0 {
			t.Fatalf("%s = %#v", k, rep[k])
		}
		for name, v := range m {
			if _, ok := v.(float64); !ok {
				t.Errorf("%s[%q] = %#v, want a number", k, name, v)
			}
		}
	}
	for _, k := range []string{"API Gateway messages", "API Gateway connection minutes", "Lambda requests", "Lambda duration",
		"DynamoDB writes", "DynamoDB reads", "DynamoDB Streams", "EventBridge", "CloudWatch Logs"} {
		if _, ok := rep["byComponent"].(map[string]any)[k]; !ok {
			t.Errorf("byComponent has no %q", k)
		}
	}
	for _, k := range []string{"send", "receipts", "heartbeat/keepalive", "connect/disconnect", "sync"} {
		if _, ok := rep["byAction"].(map[string]any)[k]; !ok {
			t.Errorf("byAction has no %q", k)
		}
	}
	qs, ok := rep["quotas"].([]any)
	if !ok || len(qs) == 0 {
		t.Fatalf("quotas = %#v", rep["quotas"])
	}
	for _, q := range qs {
		m := q.(map[string]any)
		_, name := m["name"].(string)
		_, needed := m["needed"].(float64)
		_, def := m["default"].(float64)
		_, adj := m["adjustable"].(bool)
		if !name || !needed || !def || !adj {
			t.Errorf("quota %v lacks name, needed, default or adjustable", m)
		}
	}
}

func TestCostText(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := costCommand([]string{"--load", "small", "--liveness", "before", "--dau", "20000"}, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	for _, want := range []string{"Load small+flags: 20,000 DAU", "liveness before", "Monthly bill (30 days): $", "Liveness share", "Quotas at the peak:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in\n%s", want, out.String())
		}
	}
}

func TestCostFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--dau", "-5"}, "--dau must be a number ≥ 0"},
		{[]string{"--region", "eu-west-9"}, `no prices for region "eu-west-9" (have: us-east-1)`},
		{[]string{"--load", "huge"}, `unknown load "huge"`},
		{[]string{"--group-size", "10:0.5"}, "sum to 0.5"},
		{[]string{"--liveness", "never"}, "--liveness"},
		{[]string{"--keepalive-interval", "15m"}, "idle"},
		{[]string{"--no-such-flag"}, "not defined"},
		{[]string{"extra"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := costCommand(tt.args, &out, &errOut)
			var ue usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want a usage error containing %q", err, tt.want)
			}
		})
	}
}

// TestCostExitStatus runs the built command: a bad value exits 2 with the message, -h 0.
func TestCostExitStatus(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "parley")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"cost", "--dau", "-1"}, {"cost", "--region", "mars-1"}, {"cost", "--load", "huge"}, {"cost", "--bogus"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "parley cost") && !strings.Contains(string(out), "not defined") {
			t.Errorf("parley %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if out, err := exec.Command(bin, "cost", "-h").CombinedOutput(); err != nil || !strings.Contains(string(out), "--liveness") {
		t.Errorf("parley cost -h: %v\n%s", err, out)
	}
}
