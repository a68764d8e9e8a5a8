package topology

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/schema"
)

// TestFunctionDirectories checks that functions/ holds exactly one main package per
// declared function, each starting the function of its own name: the Makefile builds
// every directory under functions/, so this also keeps its list equal to Functions.
func TestFunctionDirectories(t *testing.T) {
	root := filepath.Join("..", "..")
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	want := Names()
	slices.Sort(want)
	if !slices.Equal(dirs, want) {
		t.Fatalf("functions/ has %q, the topology declares %q", dirs, want)
	}
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(root, "functions", d, "main.go"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `lambdamain.Main("`+d+`")`) {
			t.Errorf("functions/%s/main.go does not call lambdamain.Main(%q)", d, d)
		}
	}
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^FUNCTIONS := \$\(notdir \$\(wildcard functions/\*\)\)$`).Match(mk) {
		t.Errorf("the Makefile's FUNCTIONS is not the list of directories under functions/")
	}
}

func TestDeclaration(t *testing.T) {
	seen := map[string]string{}
	for _, f := range Functions {
		if f.MemoryMB < 128 || f.Timeout <= 0 || f.Timeout > 15*time.Minute {
			t.Errorf("%s: memory %d MB, timeout %v", f.Name, f.MemoryMB, f.Timeout)
		}
		if f.Kind == KindRoute && f.Timeout >= 29*time.Second {
			t.Errorf("%s: a route function's timeout %v reaches API Gateway's 29 s limit", f.Name, f.Timeout)
		}
		if (f.Kind == KindRoute) != (len(f.Routes) > 0) {
			t.Errorf("%s (%v) serves routes %q", f.Name, f.Kind, f.Routes)
		}
		for _, r := range f.Routes {
			if other, dup := seen[r]; dup {
				t.Errorf("route %s served by %s and %s", r, other, f.Name)
			}
			seen[r] = f.Name
		}
	}
	for _, r := range []string{RouteConnect, RouteDisconnect, RouteDefault} {
		if seen[r] == "" {
			t.Errorf("no function serves %s", r)
		}
	}
	for _, r := range MockActions() {
		if fn, served := seen[r]; served || strings.HasPrefix(r, "$") || !IsMock(r) {
			t.Errorf("mock route %q is also served by function %q, or is not an action", r, fn)
		}
	}
	if IsMock("send") {
		t.Error(`IsMock("send")`)
	}
	tables := map[string]schema.Table{}
	for _, tb := range schema.All() {
		tables[tb.ID] = tb
	}
	for _, m := range Mappings {
		fn, ok := Lookup(m.Function)
		if !ok || fn.Kind != KindStream {
			t.Errorf("mapping %s invokes %q, not a stream function", m.Name, m.Function)
		}
		if tables[m.Table].Stream == schema.NoStream {
			t.Errorf("mapping %s reads table %q, which has no stream", m.Name, m.Table)
		}
		if m.BatchSize < 1 || m.BatchSize > 10000 || m.Parallelization < 1 || m.Parallelization > 10 ||
			m.RetryAttempts < 0 || m.RetryAttempts > 10000 || m.MaxRecordAge < time.Minute || m.MaxRecordAge > 7*24*time.Hour ||
			m.BatchWindow < 0 || m.BatchWindow > 5*time.Minute {
			t.Errorf("mapping %s has settings outside Lambda's ranges: %+v", m.Name, m)
		}
	}
	for _, store := range []string{StoreDynamoDB, StoreKeyspaces} {
		var msgs int
		for _, m := range MappingsFor(store) {
			if m.Filter.EventName == "INSERT" {
				msgs++
			}
		}
		if msgs != 1 {
			t.Errorf("store %s: %d message mappings, want 1", store, msgs)
		}
	}
	if err := CheckMessageStore("mongodb"); err == nil || !strings.Contains(err.Error(), `"mongodb"`) {
		t.Errorf("CheckMessageStore(mongodb) = %v", err)
	}
}

func TestFilter(t *testing.T) {
	presence := Filter{EventName: "REMOVE", ServiceDeletion: true, SortKey: schema.PresenceSK}
	ttl := Record{EventName: "REMOVE", IdentityType: "Service", PrincipalID: ServiceIdentity, SortKey: schema.PresenceSK}
	tests := []struct {
		name string
		f    Filter
		r    Record
		want bool
	}{
		{"insert matches insert", Filter{EventName: "INSERT"}, Record{EventName: "INSERT"}, true},
		{"modify is not insert", Filter{EventName: "INSERT"}, Record{EventName: "MODIFY"}, false},
		{"ttl deletion of presence", presence, ttl, true},
		{"user deletion of presence", presence, Record{EventName: "REMOVE", SortKey: schema.PresenceSK}, false},
		{"ttl deletion of a connection", presence, Record{EventName: "REMOVE", IdentityType: "Service", PrincipalID: ServiceIdentity, SortKey: "conn-1"}, false},
		{"another service", presence, Record{EventName: "REMOVE", IdentityType: "Service", PrincipalID: "other.amazonaws.com", SortKey: schema.PresenceSK}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.Match(tt.r); got != tt.want {
				t.Fatalf("Match = %v, want %v", got, tt.want)
			}
		})
	}
	p := presence.Pattern()
	if _, ok := p["userIdentity"]; !ok || len(p) != 3 {
		t.Fatalf("pattern %v", p)
	}
}
