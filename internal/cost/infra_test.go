package cost

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestInfraThrottles reads the CDK stack's sources (a separate module, so not imported)
// and fails when the throttles copied into StageThrottle and RouteThrottles differ.
func TestInfraThrottles(t *testing.T) {
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("..", "..", "infra", "stack", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	num := func(s string) float64 {
		t.Helper()
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	stage := regexp.MustCompile(`p\.Throttle = Throttle\{Rate: ([0-9.]+), Burst: ([0-9.]+)\}`).FindStringSubmatch(read("props.go"))
	if stage == nil {
		t.Fatal("infra/stack/props.go: no default `p.Throttle = Throttle{Rate: …, Burst: …}` found")
	}
	if got := (Throttle{num(stage[1]), num(stage[2])}); got != StageThrottle {
		t.Errorf("infra/stack/props.go's stage throttle is %v, StageThrottle %v", got, StageThrottle)
	}
	api := read("api.go")
	block := regexp.MustCompile(`(?s)var RouteThrottles = map\[string\]Throttle\{(.*?)\n\}`).FindStringSubmatch(api)
	if block == nil {
		t.Fatal("infra/stack/api.go: no RouteThrottles map found")
	}
	entries := regexp.MustCompile(`"([^"]+)":\s*\{Rate: ([0-9.]+), Burst: ([0-9.]+)\}`).FindAllStringSubmatch(block[1], -1)
	got := map[string]Throttle{}
	for _, e := range entries {
		got[e[1]] = Throttle{num(e[2]), num(e[3])}
	}
	if len(got) != len(RouteThrottles) {
		t.Errorf("infra/stack/api.go has %d route throttles %v, RouteThrottles %d %v", len(got), got, len(RouteThrottles), RouteThrottles)
	}
	for k, v := range RouteThrottles {
		if got[k] != v {
			t.Errorf("route %s: infra/stack/api.go %v, RouteThrottles %v", k, got[k], v)
		}
	}
}
