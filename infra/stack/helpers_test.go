package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// functionsDir holds placeholder bootstraps: the stack only packages them.
var functionsDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "parley-infra-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, f := range Functions {
		if err := os.MkdirAll(filepath.Join(dir, f), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		// Distinct content per function, so each gets its own asset as with real binaries.
		if err := os.WriteFile(filepath.Join(dir, f, "bootstrap"), []byte("#!/bin/sh\n# placeholder "+f+"\n"), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	functionsDir = dir
	code := m.Run()
	jsii.Close()
	os.RemoveAll(dir)
	for _, d := range outDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// synthesized is one synthesized variant of the stack.
type synthesized struct {
	stack *Stack
	tpl   assertions.Template
	json  map[string]any
}

var (
	variantsMu sync.Mutex
	variants   = map[string]*synthesized{}
	outDirs    []string
)

// variant builds (once per test binary) the stack with props adjusted by mutate, with
// cdk-nag's AwsSolutions checks applied as in main.go, and synthesizes it.
func variant(t *testing.T, name string, mutate func(*Props)) *synthesized {
	t.Helper()
	variantsMu.Lock()
	defer variantsMu.Unlock()
	if v, ok := variants[name]; ok {
		return v
	}
	// The assembly outlives this test (later tests share the variant): TestMain removes it.
	out, err := os.MkdirTemp("", "parley-cdk-out-")
	if err != nil {
		t.Fatal(err)
	}
	outDirs = append(outDirs, out)
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(out)})
	p := Props{Stage: "prod", FunctionsDir: functionsDir}
	if mutate != nil {
		mutate(&p)
	}
	s, err := New(app, "Parley-"+name, p)
	if err != nil {
		t.Fatalf("build %s: %v", name, err)
	}
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(nil), nil)
	tpl := assertions.Template_FromStack(s.Stack, nil)
	v := &synthesized{stack: s, tpl: tpl, json: *tpl.ToJSON()}
	variants[name] = v
	return v
}

func defaultVariant(t *testing.T) *synthesized { return variant(t, "default", nil) }

// resources returns the template's resources of one type, by logical id.
func (v *synthesized) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range v.json["Resources"].(map[string]any) {
		m := r.(map[string]any)
		if m["Type"] == typ {
			out[id] = m
		}
	}
	return out
}

// props returns a resource's Properties.
func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

// functionID returns the logical id of a function's AWS::Lambda::Function.
func (v *synthesized) functionID(t *testing.T, name string) string {
	t.Helper()
	fn, ok := v.stack.Functions[name]
	if !ok {
		t.Fatalf("no function %s", name)
	}
	return *v.stack.GetLogicalId(fn.Node().DefaultChild().(awscdk.CfnElement))
}

// statements returns every IAM statement attached to a function's role, flattened to
// (action, resource-as-JSON) pairs.
func (v *synthesized) statements(t *testing.T, name string) []stmt {
	t.Helper()
	role := *v.stack.GetLogicalId(v.stack.Functions[name].Role().Node().DefaultChild().(awscdk.CfnElement))
	var out []stmt
	for _, r := range v.resources("AWS::IAM::Policy") {
		p := props(r)
		attached := false
		for _, ref := range p["Roles"].([]any) {
			if m, ok := ref.(map[string]any); ok && m["Ref"] == role {
				attached = true
			}
		}
		if !attached {
			continue
		}
		for _, s := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			sm := s.(map[string]any)
			if sm["Effect"] != "Allow" {
				t.Fatalf("%s: unexpected statement effect %v", name, sm["Effect"])
			}
			for _, a := range list(sm["Action"]) {
				for _, res := range list(sm["Resource"]) {
					out = append(out, stmt{Action: a.(string), Resource: render(res)})
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no policy statements found for role %s", name, role)
	}
	return out
}

type stmt struct{ Action, Resource string }

func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// render turns a CloudFormation value (string, Ref, GetAtt, Join, Sub) into a readable
// string: {"Ref":"X"} => ${X}, GetAtt => ${X.Attr}, Join => concatenation.
func render(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if r, ok := x["Ref"]; ok {
			return "${" + r.(string) + "}"
		}
		if g, ok := x["Fn::GetAtt"]; ok {
			l := g.([]any)
			return "${" + l[0].(string) + "." + l[1].(string) + "}"
		}
		if j, ok := x["Fn::Join"]; ok {
			l := j.([]any)
			var parts []string
			for _, p := range l[1].([]any) {
				parts = append(parts, render(p))
			}
			return strings.Join(parts, l[0].(string))
		}
		if s, ok := x["Fn::Sub"]; ok {
			return fmt.Sprint(s)
		}
	}
	return fmt.Sprint(v)
}

// actionsOn lists the actions a function has on resources containing substr, sorted.
func actionsOn(ss []stmt, substr string) []string {
	seen := map[string]bool{}
	for _, s := range ss {
		if strings.Contains(s.Resource, substr) {
			seen[s.Action] = true
		}
	}
	out := make([]string, 0, len(seen))
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// tableID is the logical id of a schema table's AWS::DynamoDB::Table.
func (v *synthesized) tableID(id string) string {
	return *v.stack.GetLogicalId(v.stack.Tables[id].Node().DefaultChild().(awscdk.CfnElement))
}

// assert runs one CDK assertion, turning its panic (how jsii reports a failed match) into
// a test error with the assertion's message, so one failure does not stop the others.
func assert(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	f()
}

func (v *synthesized) has(t *testing.T, typ string, p map[string]any) {
	t.Helper()
	assert(t, "HasResourceProperties "+typ, func() { v.tpl.HasResourceProperties(jsii.String(typ), p) })
}

func (v *synthesized) hasResource(t *testing.T, typ string, p map[string]any) {
	t.Helper()
	assert(t, "HasResource "+typ, func() { v.tpl.HasResource(jsii.String(typ), p) })
}

func (v *synthesized) all(t *testing.T, typ string, p map[string]any) {
	t.Helper()
	assert(t, "AllResourcesProperties "+typ, func() { v.tpl.AllResourcesProperties(jsii.String(typ), p) })
}

func (v *synthesized) count(t *testing.T, typ string, n int) {
	t.Helper()
	assert(t, "ResourceCountIs "+typ, func() { v.tpl.ResourceCountIs(jsii.String(typ), jsii.Number(float64(n))) })
}

func (v *synthesized) hasOutput(t *testing.T, name string, p map[string]any) {
	t.Helper()
	assert(t, "HasOutput "+name, func() { v.tpl.HasOutput(jsii.String(name), p) })
}
