package awslambda

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"testing"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/topology"
)

// TestDispatchCoversTopology checks that the actions the route dispatch serves are exactly
// the client actions that internal/topology routes to functions: a route added to one and
// not the other fails here rather than as unknown_action on AWS.
func TestDispatchCoversTopology(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "handler.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var cases []string
	ast.Inspect(f, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "dispatch" {
			return true
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if cc, ok := n.(*ast.CaseClause); ok {
				for _, e := range cc.List {
					if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, _ := strconv.Unquote(lit.Value)
						cases = append(cases, s)
					}
				}
			}
			return true
		})
		return false
	})
	want := topology.Actions()
	slices.Sort(cases)
	slices.Sort(want)
	if len(cases) == 0 || !slices.Equal(cases, want) {
		t.Fatalf("dispatch serves %q, topology routes %q", cases, want)
	}
}

// TestEveryActionDispatched calls each action of the topology through the handler: none
// may come back as unknown_action.
func TestEveryActionDispatched(t *testing.T) {
	e := newEnv(t, chat.Options{RateLimit: -1})
	alice := uid("alice")
	conn := e.connect(alice)
	for _, a := range topology.Actions() {
		t.Run(a, func(t *testing.T) {
			reply := e.call(alice, conn, map[string]any{"action": a, "requestId": "r"})
			if reply["code"] == "unknown_action" {
				t.Fatalf("%s is routed by the topology but not dispatched: %v", a, reply)
			}
		})
	}
}
