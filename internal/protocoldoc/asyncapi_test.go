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
	// Version 1.1.
	chat.TypeEdited:   chat.EditedFrame{},
	chat.TypeDeleted:  chat.DeletedFrame{},
	chat.TypeReaction: chat.ReactionFrame{},
	chat.TypeMuted:    chat.MutedFrame{},
}

// chatDecls is what the test reads from internal/chat's source: constants by type and the
// names of the exported *Frame struct types.
type chatDecls struct {
	typeConsts  map[string]string // TypeAck → "ack"
	changeKinds map[string]string // ChangeEdit → "edit"
	codes       []string          // the values of every constant of type Code
	frames      []string          // AckFrame, …
	limitConsts []string          // the names of the constants of limitsFile that are not strings
}

// limitsFile is internal/chat's file of client-facing limits: TestEnumsAndLimits checks
// every constant declared there (or says why not).
const limitsFile = "limits.go"

func readChatDecls(t *testing.T) chatDecls {
	t.Helper()
	fset := token.NewFileSet()
	dir := filepath.Join("..", "chat")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	d := chatDecls{typeConsts: map[string]string{}, changeKinds: map[string]string{}}
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
							if name == limitsFile && n.IsExported() {
								d.limitConsts = append(d.limitConsts, n.Name)
							}
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
						if strings.HasPrefix(n.Name, "Change") && len(n.Name) > len("Change") {
							d.changeKinds[n.Name] = v
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

// dispatchFile is where the one dispatch of client actions lives (the Lambda handler, which
// `parley local` runs too): its function dispatch switches on the action and makes the one
// chat.Service call of each. The test reads it as source (it imports nothing of it).
var dispatchFile = filepath.Join("..", "awslambda", "handler.go")

// dispatchCase is what one case of dispatch does with its request.
type dispatchCase struct {
	fields  []string // json names of the chat.Request fields it reads (action, requestId aside)
	methods []string // the chat.Service methods it calls
}

// readDispatch parses dispatchFile's function dispatch: for every case of its switch, by
// action, the request fields it reads and the service methods it calls.
func readDispatch(t *testing.T) map[string]dispatchCase {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), dispatchFile, nil, 0)
	if err != nil {
		t.Fatalf("parse %s: %v", dispatchFile, err)
	}
	var fn *ast.FuncDecl
	for _, decl := range f.Decls {
		if d, ok := decl.(*ast.FuncDecl); ok && d.Name.Name == "dispatch" {
			fn = d
		}
	}
	if fn == nil || fn.Body == nil {
		t.Fatalf("%s: no function dispatch: the test reads the actions' fields from it; update readDispatch", dispatchFile)
	}
	req := "" // the name of dispatch's chat.Request parameter
	for _, p := range fn.Type.Params.List {
		if sel, ok := p.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Request" && len(p.Names) == 1 {
			req = p.Names[0].Name
		}
	}
	if req == "" {
		t.Fatalf("%s: dispatch has no chat.Request parameter; update readDispatch", dispatchFile)
	}
	byGoName := map[string]string{}
	for name, fd := range jsonFields(reflect.TypeOf(chat.Request{})) {
		byGoName[fd.goName] = name
	}
	svc := reflect.TypeOf((*chat.Service)(nil))
	out := map[string]dispatchCase{}
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		cc, ok := n.(*ast.CaseClause)
		if !ok {
			return true
		}
		var c dispatchCase
		for _, stmt := range cc.Body {
			ast.Inspect(stmt, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.SelectorExpr:
					if id, ok := x.X.(*ast.Ident); ok && id.Name == req {
						name, ok := byGoName[x.Sel.Name]
						if !ok {
							t.Errorf("%s: dispatch reads %s.%s, which is no json field of chat.Request", dispatchFile, req, x.Sel.Name)
						} else if name != "action" && name != "requestId" && !slices.Contains(c.fields, name) {
							c.fields = append(c.fields, name)
						}
					}
				case *ast.CallExpr:
					if sel, ok := x.Fun.(*ast.SelectorExpr); ok {
						if _, isMethod := svc.MethodByName(sel.Sel.Name); isMethod {
							if _, onSelector := sel.X.(*ast.SelectorExpr); onSelector {
								c.methods = append(c.methods, sel.Sel.Name)
							}
						}
					}
				}
				return true
			})
		}
		for _, e := range cc.List {
			if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				action, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatalf("%s: case %s: %v", dispatchFile, lit.Value, err)
				}
				out[action] = c
			}
		}
		return false
	})
	if len(out) == 0 {
		t.Fatalf("%s: dispatch has no case of a string action; update readDispatch", dispatchFile)
	}
	return out
}

// TestActionsMatchDispatch checks every client action of the document against the case of
// the action in the handler's dispatch: the action's properties (action and requestId
// aside) are exactly the chat.Request fields the case reads, and its operation's reply names
// the frame the service method returns, and `error`. The mock actions, which no function
// serves, read nothing and have no reply.
func TestActionsMatchDispatch(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	cases := readDispatch(t)
	var dispatched []string
	for a := range cases {
		dispatched = append(dispatched, a)
	}
	diffNamed(t, "client actions", "topology.Actions", topology.Actions(), dispatchFile+"'s dispatch", dispatched)
	frameOf := map[reflect.Type]string{}
	for typ, f := range serverFrames {
		frameOf[reflect.TypeOf(f)] = typ
	}
	svc := reflect.TypeOf((*chat.Service)(nil))
	for action, payload := range doc.payloadsBy("action") {
		var props []string
		for name := range doc.properties(t, payload) {
			if name != "action" && name != "requestId" {
				props = append(props, name)
			}
		}
		replies, hasOp := doc.replyTypes(t, action)
		if !hasOp {
			continue // TestOperations reports it
		}
		if topology.IsMock(action) {
			diffNamed(t, "action "+action+" (a mock route) fields", "nothing", nil, docFile, props)
			if len(replies) > 0 {
				t.Errorf("action %s is a mock route (no reply), but its operation replies %v", action, replies)
			}
			continue
		}
		c, ok := cases[action]
		if !ok {
			continue // reported above, or by TestClientActionsMatchDoc
		}
		diffNamed(t, "action "+action+" fields", dispatchFile+"'s dispatch", c.fields, docFile, props)
		want := []string{chat.TypeError}
		for _, m := range c.methods {
			meth, _ := svc.MethodByName(m)
			if meth.Type.NumOut() == 0 {
				continue
			}
			if typ, isFrame := frameOf[meth.Type.Out(0)]; isFrame {
				want = append(want, typ)
			}
		}
		if missing := minus(want, replies); len(missing) > 0 {
			t.Errorf("action %s: the reply of its operation lacks %v (the frame chat.Service.%v returns, and error); it names %v", action, missing, c.methods, replies)
		}
	}
}

// TestSyncReplaysTimeline checks that sync's reply names every frame a sync may send: the
// frame chat.TimelineFrame makes of a message and of every change kind (the Change*
// constants of internal/chat), and synced.
func TestSyncReplaysTimeline(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	d := readChatDecls(t)
	if len(d.changeKinds) == 0 {
		t.Fatalf("found no Change* constants in internal/chat")
	}
	items := map[string]chat.Message{"a message": {ConversationID: "dm:a:b", MessageID: "m"}}
	for name, kind := range d.changeKinds {
		items[name] = chat.Message{ConversationID: "dm:a:b", MessageID: "e", Change: &chat.Change{
			Kind: kind, EventID: "e", MessageID: "m", UserID: "a", Body: "b", Emoji: "x", State: chat.ReactionAdd}}
	}
	want := []string{chat.TypeSynced, chat.TypeError}
	for what, m := range items {
		f, ok := chat.TimelineFrame(m)
		if !ok {
			t.Errorf("chat.TimelineFrame makes no frame of %s", what)
			continue
		}
		typ, _ := reflect.ValueOf(f).FieldByName("Type").Interface().(string)
		if goFrame, known := serverFrames[typ]; !known || reflect.TypeOf(goFrame) != reflect.TypeOf(f) {
			t.Errorf("chat.TimelineFrame makes a %T of type %q for %s, which serverFrames does not map so", f, typ, what)
		}
		want = append(want, typ)
	}
	replies, ok := doc.replyTypes(t, "sync")
	if !ok {
		t.Fatalf("no operation receives the action sync")
	}
	if missing := minus(want, replies); len(missing) > 0 {
		t.Errorf("sync: the reply of its operation lacks %v; it names %v", missing, replies)
	}
}

// TestEnumsAndLimits checks the document's enums and limits against internal/chat's
// constants. Every constant of internal/chat/limits.go must be checked here, as a schema
// keyword, an x-limits extension or a description's words, or be exempted with its
// reason: a new limit fails the test until the document states it.
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
		{"#/components/messages/reactAction/payload/properties/state", []string{chat.ReactionAdd, chat.ReactionRemove}},
		{"#/components/messages/reactionFrame/payload/properties/state", []string{chat.ReactionAdd, chat.ReactionRemove}},
	}
	for _, e := range enums {
		raw, _ := doc.resolve(t, map[string]any{"$ref": e.ptr})["enum"].([]any)
		var got []string
		for _, v := range raw {
			got = append(got, fmt.Sprint(v))
		}
		diffSets(t, "enum "+e.ptr, e.want, got)
	}
	if got := doc.resolve(t, map[string]any{"$ref": "#/components/messages/reactAction/payload/properties/state"})["default"]; got != chat.ReactionAdd {
		t.Errorf("reactAction state: default is %v, internal/chat's is %q", got, chat.ReactionAdd)
	}

	// Every limit of limitsFile is a keyword of a schema (or an extension), or, where JSON
	// Schema has no keyword for it, stated in a description; exempt says why one is neither.
	limits := []struct {
		name, ptr, keyword string
		want               int
	}{
		{"MaxIDLength", "#/components/schemas/RequestId", "maxLength", chat.MaxIDLength},
		{"MaxIDLength", "#/components/schemas/ClientMsgId", "maxLength", chat.MaxIDLength},
		{"MaxBodyBytes", "#/components/messages/sendAction/payload/properties/body", "maxLength", chat.MaxBodyBytes},
		{"MaxIDLength", "#/components/messages/receiptAction/payload/properties/messageId", "maxLength", chat.MaxIDLength},
		{"MaxHistoryLimit", "#/components/messages/historyAction/payload/properties/limit", "maximum", chat.MaxHistoryLimit},
		{"DefaultHistoryLimit", "#/components/messages/historyAction/payload/properties/limit", "default", chat.DefaultHistoryLimit},
		{"MaxHistoryLimit", "#/components/messages/historyFrame/payload/properties/messages", "maxItems", chat.MaxHistoryLimit},
		{"MaxGroupMembers", "#/components/messages/createConversationAction/payload/properties/members", "maxItems", chat.MaxGroupMembers},
		{"MaxNameLength", "#/components/messages/createConversationAction/payload/properties/name", "maxLength", chat.MaxNameLength},
		{"MaxGroupMembers", "#/components/messages/addMembersAction/payload/properties/members", "maxItems", chat.MaxGroupMembers},
		{"MaxGroupMembers", "#/components/schemas/ConversationView/properties/members", "maxItems", chat.MaxGroupMembers},
		{"MaxPresenceQuery", "#/components/messages/presenceAction/payload/properties/userIds", "maxItems", chat.MaxPresenceQuery},
		{"MaxPresenceQuery", "#/components/messages/presenceFrame/payload/properties/users", "maxItems", chat.MaxPresenceQuery},
		{"MaxUnread", "#/components/schemas/ConversationSummary/properties/unread", "maximum", chat.MaxUnread},
		// Version 1.1.
		{"MaxBodyBytes", "#/components/messages/editAction/payload/properties/body", "maxLength", chat.MaxBodyBytes},
		{"MaxEmojiBytes", "#/components/messages/reactAction/payload/properties/emoji", "maxLength", chat.MaxEmojiBytes},
		{"MaxEmojiBytes", "#/components/messages/reactionFrame/payload/properties/emoji", "maxLength", chat.MaxEmojiBytes},
		{"MaxEmojiBytes", "#/components/schemas/ReactionCount/properties/emoji", "maxLength", chat.MaxEmojiBytes},
		{"MaxUserReactions", "#/components/messages/reactAction/x-limits", "reactionsPerUser", chat.MaxUserReactions},
		{"MaxMessageReactions", "#/components/messages/reactAction/x-limits", "reactionsPerMessage", chat.MaxMessageReactions},
		{"MaxMessageReactions", "#/components/schemas/HistoryMessage/properties/reactions", "maxItems", chat.MaxMessageReactions},
		{"MaxMessageReactions", "#/components/schemas/ReactionCount/properties/count", "maximum", chat.MaxMessageReactions},
		{"MaxPreviewRunes", "#/components/schemas/ReplyRef/properties/preview", "maxLength", chat.MaxPreviewRunes},
	}
	prose := []struct {
		name, ptr, key, text string
	}{
		{"MaxFrameBytes", "#/info", "description", fmt.Sprintf("(%d bytes)", chat.MaxFrameBytes)},
		{"MaxSyncMessages", "#/components/messages/syncAction", "description", fmt.Sprintf("at most %d per call", chat.MaxSyncMessages)},
		{"MaxSettleReplay", "#/components/messages/syncAction", "description", fmt.Sprintf("up to %d per conversation", chat.MaxSettleReplay)},
		{"MaxReceiptFanout", "#/operations/receiptFrame", "summary", fmt.Sprintf("at most %d members", chat.MaxReceiptFanout)},
		{"PresenceWindowMillis", "#/components/schemas/Presence/properties/online", "description", fmt.Sprintf("at most %d minutes", chat.PresenceWindowMillis/60_000)},
		{"MaxUserReactions", "#/components/messages/reactAction", "description", fmt.Sprintf("At most %d distinct emojis per user", chat.MaxUserReactions)},
		{"MaxMessageReactions", "#/components/messages/reactAction", "description", fmt.Sprintf("%d reactions per message", chat.MaxMessageReactions)},
		{"MaxEmojiBytes", "#/components/messages/reactAction", "description", fmt.Sprintf("1 to %d bytes", chat.MaxEmojiBytes)},
	}
	exempt := map[string]string{
		"MaxNotifyRecipients": "bounds an offline notification (chat.Notification), which is no WebSocket frame",
	}
	for _, l := range limits {
		got := doc.resolve(t, map[string]any{"$ref": l.ptr})[l.keyword]
		if n, ok := got.(int); !ok || n != l.want {
			t.Errorf("%s %s is %v, internal/chat's %s is %d", l.ptr, l.keyword, got, l.name, l.want)
		}
	}
	for _, p := range prose {
		got, _ := doc.resolve(t, map[string]any{"$ref": p.ptr})[p.key].(string)
		if !strings.Contains(got, p.text) {
			t.Errorf("%s %s does not say %q (internal/chat's %s)", p.ptr, p.key, p.text, p.name)
		}
	}
	var covered []string
	for _, l := range limits {
		covered = append(covered, l.name)
	}
	for _, p := range prose {
		covered = append(covered, p.name)
	}
	for name := range exempt {
		covered = append(covered, name)
	}
	diffNamed(t, "limits", "internal/chat/"+limitsFile, d.limitConsts, "the limits TestEnumsAndLimits checks", covered)
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

// replyTypes returns the frame types of the reply of the receive operation that carries
// the action, and whether there is such an operation.
func (d document) replyTypes(t *testing.T, action string) ([]string, bool) {
	ops, _ := d.tree["operations"].(map[string]any)
	for _, o := range ops {
		op, _ := o.(map[string]any)
		if op["action"] != "receive" {
			continue
		}
		msgs, _ := op["messages"].([]any)
		carries := false
		for _, m := range msgs {
			if a, ok := d.constOf(t, d.resolve(t, d.resolve(t, m)["payload"]), "action"); ok && a == action {
				carries = true
			}
		}
		if !carries {
			continue
		}
		var out []string
		reply, _ := op["reply"].(map[string]any)
		rmsgs, _ := reply["messages"].([]any)
		for _, m := range rmsgs {
			if ty, ok := d.constOf(t, d.resolve(t, d.resolve(t, m)["payload"]), "type"); ok {
				out = append(out, ty)
			}
		}
		return out, true
	}
	return nil, false
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
