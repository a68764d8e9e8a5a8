package protocoldoc_test

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/topology"
)

// root is the repository's root, seen from this package's directory (where go test runs).
var root = filepath.Join("..", "..")

// docFile is the document under test, relative to root.
const docFile = "docs/asyncapi.yaml"

// TestAsyncAPIValid parses docs/asyncapi.yaml with the AsyncAPI parser and fails on every
// diagnostic of severity error. It needs Node.js and the npm packages (`make deps`).
func TestAsyncAPIValid(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("validating %s needs Node.js: run `make deps`: %v", docFile, err)
	}
	if _, err := os.Stat(filepath.Join(root, "node_modules", "@asyncapi", "parser", "package.json")); err != nil {
		t.Fatalf("validating %s needs the npm package @asyncapi/parser: run `make deps`: %v", docFile, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("scripts", "asyncapi-validate.mjs"), docFile)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	t.Logf("node scripts/asyncapi-validate.mjs %s:\n%s", docFile, out)
	if err != nil {
		t.Fatalf("%s is not valid AsyncAPI: %v", docFile, err)
	}
}

// serverFrames maps every server frame type to its Go frame. TestFrameTableComplete keeps
// it complete: a new Type* constant or *Frame type in internal/chat must be added here,
// and then to the document.
var serverFrames = map[string]any{
	chat.TypeAck:           chat.AckFrame{},
	chat.TypeMessage:       chat.MessageFrame{},
	chat.TypeTyping:        chat.TypingFrame{},
	chat.TypeReceipt:       chat.ReceiptFrame{},
	chat.TypeHistory:       chat.HistoryFrame{},
	chat.TypeSynced:        chat.SyncedFrame{},
	chat.TypeConversation:  chat.ConversationFrame{},
	chat.TypeConversations: chat.ConversationsFrame{},
	chat.TypePresence:      chat.PresenceFrame{},
	chat.TypeHeartbeat:     chat.HeartbeatFrame{},
	chat.TypeError:         chat.ErrorFrame{},
}

// chatDecls is what the test reads from internal/chat's source: constants by type and the
// names of the exported *Frame struct types.
type chatDecls struct {
	typeConsts map[string]string // TypeAck → "ack"
	codes      []string          // the values of every constant of type Code
	frames     []string          // AckFrame, …
}

func readChatDecls(t *testing.T) chatDecls {
	t.Helper()
	fset := token.NewFileSet()
	dir := filepath.Join("..", "chat")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	d := chatDecls{typeConsts: map[string]string{}}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, 0)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, spec := range gd.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					if _, isStruct := s.Type.(*ast.StructType); isStruct && s.Name.IsExported() && strings.HasSuffix(s.Name.Name, "Frame") {
						d.frames = append(d.frames, s.Name.Name)
					}
				case *ast.ValueSpec:
					if gd.Tok != token.CONST {
						continue
					}
					for i, n := range s.Names {
						if i >= len(s.Values) {
							continue
						}
						lit, ok := s.Values[i].(*ast.BasicLit)
						if !ok || lit.Kind != token.STRING {
							continue
						}
						v, err := strconv.Unquote(lit.Value)
						if err != nil {
							t.Fatalf("%s: constant %s: %v", name, n.Name, err)
						}
						if id, ok := s.Type.(*ast.Ident); ok && id.Name == "Code" {
							d.codes = append(d.codes, v)
						}
						if strings.HasPrefix(n.Name, "Type") && len(n.Name) > len("Type") {
							d.typeConsts[n.Name] = v
						}
					}
				}
			}
		}
	}
	return d
}

// TestFrameTableComplete checks that serverFrames names every Type* constant and every
// exported *Frame type of internal/chat, so that the other tests see every frame.
func TestFrameTableComplete(t *testing.T) {
	t.Parallel()
	d := readChatDecls(t)
	var consts, tableTypes, frames, tableFrames []string
	for _, v := range d.typeConsts {
		consts = append(consts, v)
	}
	for typ, f := range serverFrames {
		tableTypes = append(tableTypes, typ)
		tableFrames = append(tableFrames, reflect.TypeOf(f).Name())
	}
	frames = d.frames
	diffNamed(t, "server frame types", "internal/chat's Type* constants", consts, "serverFrames", tableTypes)
	diffNamed(t, "frame structs", "internal/chat's *Frame types", frames, "serverFrames", tableFrames)
}

// TestServerFramesMatchDoc compares every server frame's JSON fields, recursively, with
// the payload schema of the document's message of that type.
func TestServerFramesMatchDoc(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	byType := doc.payloadsBy("type")
	var docTypes, goTypes []string
	for typ := range byType {
		docTypes = append(docTypes, typ)
	}
	for typ := range serverFrames {
		goTypes = append(goTypes, typ)
	}
	diffSets(t, "server frame types: Go vs the document's messages with a `type` const", goTypes, docTypes)
	for typ, frame := range serverFrames {
		payload, ok := byType[typ]
		if !ok {
			continue // reported above
		}
		rt := reflect.TypeOf(frame)
		t.Run(rt.Name(), func(t *testing.T) {
			t.Parallel()
			doc.compare(t, rt.Name(), rt, payload, false)
			if got := doc.resolve(t, doc.prop(t, payload, "type"))["const"]; got != typ {
				t.Errorf("%s: the payload's type const is %v, chat's constant is %q", rt.Name(), got, typ)
			}
			if !slices.Contains(doc.required(payload), "type") {
				t.Errorf("%s: type is not required", rt.Name())
			}
		})
	}
}

// TestClientActionsMatchDoc checks that the document's client actions are exactly the
// routes of internal/topology (function routes and mock routes), and that their fields are
// exactly the json fields of chat.Request.
func TestClientActionsMatchDoc(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	byAction := doc.payloadsBy("action")
	var docActions []string
	for a := range byAction {
		docActions = append(docActions, a)
	}
	routes := append(topology.Actions(), topology.MockActions()...)
	diffSets(t, "client actions: internal/topology vs the document's messages with an `action` const", routes, docActions)

	reqType := reflect.TypeOf(chat.Request{})
	fields := jsonFields(reqType)
	used := map[string]bool{}
	for action, payload := range byAction {
		if !slices.Contains(doc.required(payload), "action") {
			t.Errorf("action %s: `action` is not required", action)
		}
		for name, schema := range doc.properties(t, payload) {
			used[name] = true
			f, ok := fields[name]
			if !ok {
				t.Errorf("action %s: property %s is no json field of chat.Request", action, name)
				continue
			}
			doc.compare(t, "action "+action+"."+name, f.typ, schema, false)
		}
	}
	for name := range fields {
		if !used[name] {
			t.Errorf("chat.Request field %s is a property of no action in %s", name, docFile)
		}
	}
}

// TestOperations checks that every client action is received by an operation and every
// server frame sent by one, and that every reply names only server frames.
func TestOperations(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	ops, _ := doc.tree["operations"].(map[string]any)
	if len(ops) == 0 {
		t.Fatalf("%s has no operations", docFile)
	}
	received, sent := map[string]bool{}, map[string]bool{}
	for id, o := range ops {
		op, _ := o.(map[string]any)
		msgs, _ := op["messages"].([]any)
		for _, m := range msgs {
			payload := doc.resolve(t, doc.resolve(t, m)["payload"])
			a, isAction := doc.constOf(t, payload, "action")
			ty, isFrame := doc.constOf(t, payload, "type")
			switch {
			case op["action"] == "receive" && isAction:
				received[a] = true
			case op["action"] == "send" && isFrame:
				sent[ty] = true
			default:
				t.Errorf("operation %s (%v) carries a message that is neither a client action it receives nor a frame it sends", id, op["action"])
			}
		}
		if reply, ok := op["reply"].(map[string]any); ok {
			rmsgs, _ := reply["messages"].([]any)
			for _, m := range rmsgs {
				payload := doc.resolve(t, doc.resolve(t, m)["payload"])
				if _, isFrame := doc.constOf(t, payload, "type"); !isFrame {
					t.Errorf("operation %s: a reply message is not a server frame", id)
				}
			}
		}
	}
	for a := range doc.payloadsBy("action") {
		if !received[a] {
			t.Errorf("no receive operation carries the action %s", a)
		}
	}
	for typ := range doc.payloadsBy("type") {
		if !sent[typ] {
			t.Errorf("no send operation carries the frame %s", typ)
		}
	}
}

// TestEnumsAndLimits checks the document's enums and limits against internal/chat's
// constants.
func TestEnumsAndLimits(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	d := readChatDecls(t)
	enums := []struct {
		ptr  string
		want []string
	}{
		{"#/components/schemas/ErrorCode", d.codes},
		{"#/components/schemas/Kind", []string{chat.KindDirect, chat.KindGroup}},
		{"#/components/schemas/HistoryMessage/properties/status", []string{chat.StatusSent, chat.StatusDelivered, chat.StatusRead}},
		{"#/components/messages/receiptAction/payload/properties/status", []string{chat.StatusDelivered, chat.StatusRead}},
		{"#/components/messages/receiptFrame/payload/properties/status", []string{chat.StatusDelivered, chat.StatusRead}},
	}
	for _, e := range enums {
		raw, _ := doc.resolve(t, map[string]any{"$ref": e.ptr})["enum"].([]any)
		var got []string
		for _, v := range raw {
			got = append(got, fmt.Sprint(v))
		}
		diffSets(t, "enum "+e.ptr, e.want, got)
	}
	limits := []struct {
		ptr, keyword string
		want         int
	}{
		{"#/components/schemas/RequestId", "maxLength", chat.MaxIDLength},
		{"#/components/schemas/ClientMsgId", "maxLength", chat.MaxIDLength},
		{"#/components/messages/sendAction/payload/properties/body", "maxLength", chat.MaxBodyBytes},
		{"#/components/messages/receiptAction/payload/properties/messageId", "maxLength", chat.MaxIDLength},
		{"#/components/messages/historyAction/payload/properties/limit", "maximum", chat.MaxHistoryLimit},
		{"#/components/messages/historyAction/payload/properties/limit", "default", chat.DefaultHistoryLimit},
		{"#/components/messages/createConversationAction/payload/properties/members", "maxItems", chat.MaxGroupMembers},
		{"#/components/messages/createConversationAction/payload/properties/name", "maxLength", chat.MaxNameLength},
		{"#/components/messages/addMembersAction/payload/properties/members", "maxItems", chat.MaxGroupMembers},
		{"#/components/messages/presenceAction/payload/properties/userIds", "maxItems", chat.MaxPresenceQuery},
		{"#/components/schemas/ConversationSummary/properties/unread", "maximum", chat.MaxUnread},
	}
	for _, l := range limits {
		got := doc.resolve(t, map[string]any{"$ref": l.ptr})[l.keyword]
		if n, ok := got.(int); !ok || n != l.want {
			t.Errorf("%s %s is %v, internal/chat says %d", l.ptr, l.keyword, got, l.want)
		}
	}
}

// document is the parsed AsyncAPI document.
type document struct {
	tree map[string]any
}

func loadDoc(t *testing.T) document {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, docFile))
	if err != nil {
		t.Fatalf("read %s: %v", docFile, err)
	}
	var tree map[string]any
	if err := yaml.Unmarshal(b, &tree); err != nil {
		t.Fatalf("parse %s: %v", docFile, err)
	}
	return document{tree: tree}
}

// payloadsBy returns the payload schemas of components.messages whose property key (type
// or action) has a const, by that const.
func (d document) payloadsBy(key string) map[string]map[string]any {
	out := map[string]map[string]any{}
	comps, _ := d.tree["components"].(map[string]any)
	msgs, _ := comps["messages"].(map[string]any)
	for _, m := range msgs {
		msg, _ := m.(map[string]any)
		payload, _ := msg["payload"].(map[string]any)
		props, _ := payload["properties"].(map[string]any)
		p, _ := props[key].(map[string]any)
		if c, ok := p["const"].(string); ok {
			out[c] = payload
		}
	}
	return out
}

// pointer follows a local JSON pointer (#/a/b).
func (d document) pointer(t *testing.T, ref string) map[string]any {
	t.Helper()
	if !strings.HasPrefix(ref, "#/") {
		t.Fatalf("%s: $ref %q is not local", docFile, ref)
	}
	var cur any = d.tree
	for _, part := range strings.Split(ref[2:], "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("%s: $ref %q: %q is not in an object", docFile, ref, part)
		}
		if cur, ok = m[part]; !ok {
			t.Fatalf("%s: $ref %q: no %q", docFile, ref, part)
		}
	}
	m, ok := cur.(map[string]any)
	if !ok {
		t.Fatalf("%s: $ref %q is not an object", docFile, ref)
	}
	return m
}

// resolve follows $ref and merges allOf, returning one schema (or object).
func (d document) resolve(t *testing.T, v any) map[string]any {
	t.Helper()
	m, _ := v.(map[string]any)
	for depth := 0; m != nil; depth++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			break
		}
		if depth > 20 {
			t.Fatalf("%s: $ref loop at %q", docFile, ref)
		}
		m = d.pointer(t, ref)
	}
	all, ok := m["allOf"].([]any)
	if !ok {
		return m
	}
	merged := map[string]any{}
	for _, part := range all {
		for k, v := range d.resolve(t, part) {
			merged[k] = v
		}
	}
	for k, v := range m {
		if k != "allOf" {
			merged[k] = v
		}
	}
	return merged
}

func (d document) properties(t *testing.T, schema map[string]any) map[string]any {
	props, _ := d.resolve(t, schema)["properties"].(map[string]any)
	return props
}

func (d document) prop(t *testing.T, schema map[string]any, name string) map[string]any {
	p, _ := d.properties(t, schema)[name].(map[string]any)
	return p
}

func (d document) constOf(t *testing.T, schema map[string]any, name string) (string, bool) {
	c, ok := d.resolve(t, d.prop(t, schema, name))["const"].(string)
	return c, ok
}

func (d document) required(schema map[string]any) []string {
	raw, _ := schema["required"].([]any)
	out := make([]string, 0, len(raw))
	for _, r := range raw {
		out = append(out, fmt.Sprint(r))
	}
	return out
}

// schemaType is the schema's type keyword, or "" when it has none.
func schemaType(s map[string]any) string {
	ty, _ := s["type"].(string)
	return ty
}

// alternatives splits a oneOf/anyOf schema into its non-null branches and whether a null
// branch exists; a schema without them is its own only branch.
func (d document) alternatives(t *testing.T, s map[string]any) ([]map[string]any, bool) {
	var branches []any
	for _, k := range []string{"oneOf", "anyOf"} {
		if b, ok := s[k].([]any); ok {
			branches = append(branches, b...)
		}
	}
	if len(branches) == 0 || schemaType(s) != "" || s["properties"] != nil {
		return []map[string]any{s}, false
	}
	var out []map[string]any
	null := false
	for _, b := range branches {
		r := d.resolve(t, b)
		if schemaType(r) == "null" {
			null = true
			continue
		}
		out = append(out, r)
	}
	return out, null
}

// compare checks the schema against the Go type the code marshals: structs field by field
// (both directions, required exactly the fields without omitempty), slices by their items,
// maps by additionalProperties, scalars by their JSON type. nullable says the Go value may
// marshal as null (a pointer without omitempty): the schema must then allow null.
func (d document) compare(t *testing.T, path string, rt reflect.Type, raw any, nullable bool) {
	t.Helper()
	s := d.resolve(t, raw)
	if s == nil {
		t.Errorf("%s: no schema", path)
		return
	}
	if rt.Kind() == reflect.Pointer {
		d.compare(t, path, rt.Elem(), s, nullable)
		return
	}
	alts, hasNull := d.alternatives(t, s)
	if nullable && !hasNull {
		t.Errorf("%s: the Go field may be null (a pointer without omitempty) but the schema does not allow null", path)
	}
	if !nullable && hasNull {
		t.Errorf("%s: the schema allows null but the Go field is never null", path)
	}
	if len(alts) != 1 {
		t.Errorf("%s: want one non-null schema, have %d", path, len(alts))
		return
	}
	s = alts[0]
	want := map[reflect.Kind]string{
		reflect.String: "string", reflect.Bool: "boolean",
		reflect.Int: "integer", reflect.Int32: "integer", reflect.Int64: "integer",
		reflect.Struct: "object", reflect.Map: "object", reflect.Slice: "array",
	}[rt.Kind()]
	if want == "" {
		t.Errorf("%s: the test does not know how %v marshals", path, rt)
		return
	}
	if got := schemaType(s); got != want {
		t.Errorf("%s: the schema's type is %q, the Go type %v marshals as %q", path, got, rt, want)
		return
	}
	switch rt.Kind() {
	case reflect.Slice:
		d.compare(t, path+"[]", rt.Elem(), s["items"], false)
	case reflect.Map:
		d.compare(t, path+"{}", rt.Elem(), s["additionalProperties"], false)
	case reflect.Struct:
		fields := jsonFields(rt)
		props, _ := s["properties"].(map[string]any)
		required := d.required(s)
		for name, f := range fields {
			p, ok := props[name]
			if !ok {
				t.Errorf("%s: Go field %s (%s) is missing from the schema's properties", path, name, f.goName)
				continue
			}
			if in := slices.Contains(required, name); in == f.optional {
				t.Errorf("%s.%s: required is %v in the schema, but the Go field has omitempty=%v", path, name, in, f.optional)
			}
			d.compare(t, path+"."+name, f.typ, p, f.typ.Kind() == reflect.Pointer && !f.optional)
		}
		for name := range props {
			if _, ok := fields[name]; !ok {
				t.Errorf("%s: property %s is in the schema but no field of %v", path, name, rt)
			}
		}
		for _, name := range required {
			if _, ok := fields[name]; !ok {
				t.Errorf("%s: %s is required by the schema but no field of %v", path, name, rt)
			}
		}
	}
}

// field is one JSON member of a Go struct.
type field struct {
	goName   string
	typ      reflect.Type
	optional bool // omitempty
}

// jsonFields lists the JSON members encoding/json makes of a struct: exported fields by
// their json tag name (or Go name), json:"-" skipped, untagged embedded structs flattened.
func jsonFields(rt reflect.Type) map[string]field {
	out := map[string]field{}
	for i := range rt.NumField() {
		f := rt.Field(i)
		tag, hasTag := f.Tag.Lookup("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && !hasTag && f.Type.Kind() == reflect.Struct {
			for k, v := range jsonFields(f.Type) {
				if _, shadowed := out[k]; !shadowed {
					out[k] = v
				}
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = field{goName: f.Name, typ: f.Type, optional: slices.Contains(strings.Split(opts, ","), "omitempty")}
	}
	return out
}

// diffSets reports what is in one list and not the other, both ways.
func diffSets(t *testing.T, what string, goSide, docSide []string) {
	t.Helper()
	diffNamed(t, what, "Go", goSide, docFile, docSide)
}

// diffNamed is diffSets with both sides named.
func diffNamed(t *testing.T, what, aName string, a []string, bName string, b []string) {
	t.Helper()
	if missing := minus(a, b); len(missing) > 0 {
		t.Errorf("%s: in %s, not in %s: %v", what, aName, bName, missing)
	}
	if extra := minus(b, a); len(extra) > 0 {
		t.Errorf("%s: in %s, not in %s: %v", what, bName, aName, extra)
	}
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}
