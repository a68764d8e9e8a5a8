// Package topology declares Parley's deployment once, as plain data: the Lambda functions,
// the WebSocket route keys each serves, their memory and timeout, and the settings of every
// stream event source mapping.
//
// Everything that needs one of these facts reads it from here: functions/*/main.go and the
// route dispatch (internal/lambdamain, internal/awslambda), `parley local`'s gateway and
// mappings (internal/local), the CDK stack (infra/stack) and, through a test, the
// Makefile's function list (the directories under functions/). Like internal/schema, the
// package imports nothing from AWS: each consumer turns the data into its own API's types.
package topology

import (
	"fmt"
	"slices"
	"time"

	"github.com/parleychat/parley/internal/schema"
)

// Route keys of the WebSocket API that are not client actions.
const (
	RouteConnect    = "$connect"
	RouteDisconnect = "$disconnect"
	RouteDefault    = "$default"
)

// Kind says how a function is invoked.
type Kind int

// Function kinds.
const (
	// KindRoute functions serve WebSocket route keys (API Gateway Lambda integrations).
	KindRoute Kind = iota + 1
	// KindAuthorizer is the REQUEST authorizer of $connect.
	KindAuthorizer
	// KindStream functions consume DynamoDB streams through event source mappings.
	KindStream
)

func (k Kind) String() string {
	switch k {
	case KindRoute:
		return "route"
	case KindAuthorizer:
		return "authorizer"
	case KindStream:
		return "stream"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Function is one Lambda function.
type Function struct {
	// Name is the directory under functions/ (functions/<Name>/main.go) and the base of
	// the stack's construct ids.
	Name string
	Kind Kind
	// Routes are the route keys a KindRoute function serves.
	Routes []string
	// MemoryMB and Timeout size the function. Route functions stay well under API
	// Gateway's 29 s integration limit.
	MemoryMB int
	Timeout  time.Duration
}

// Functions is every function, in a stable order. Routes are grouped by the data they
// touch, so that each function's IAM policy stays narrow: history serves sync (up to 1000
// pushed messages) and conversations counts unread messages per conversation, so both get
// more time; fanout pushes with 64 concurrent posts per invocation and gets the most CPU
// (memory buys CPU).
var Functions = []Function{
	{Name: "authorizer", Kind: KindAuthorizer, MemoryMB: 256, Timeout: 5 * time.Second},
	{Name: "connect", Kind: KindRoute, Routes: []string{RouteConnect}, MemoryMB: 256, Timeout: 10 * time.Second},
	{Name: "disconnect", Kind: KindRoute, Routes: []string{RouteDisconnect}, MemoryMB: 256, Timeout: 10 * time.Second},
	{Name: "send", Kind: KindRoute, Routes: []string{"send", "typing", "edit", "delete", "react"}, MemoryMB: 512, Timeout: 10 * time.Second},
	{Name: "receipts", Kind: KindRoute, Routes: []string{"receipt"}, MemoryMB: 512, Timeout: 10 * time.Second},
	{Name: "history", Kind: KindRoute, Routes: []string{"history", "sync"}, MemoryMB: 512, Timeout: 25 * time.Second},
	{Name: "conversations", Kind: KindRoute, Routes: []string{"conversations", "createConversation", "addMembers", "leave", "mute", "unmute"}, MemoryMB: 512, Timeout: 20 * time.Second},
	{Name: "presence", Kind: KindRoute, Routes: []string{"presence", "heartbeat", RouteDefault}, MemoryMB: 256, Timeout: 10 * time.Second},
	{Name: "fanout", Kind: KindStream, MemoryMB: 1024, Timeout: 60 * time.Second},
}

// MockRoute is a route key that API Gateway answers itself, with a MOCK integration: no
// function runs and nothing is read or written, so the frame costs one API Gateway message
// and nothing else. `parley local`'s gateway answers it the same way.
type MockRoute struct {
	Key string
}

// MockRoutes are the route keys answered without a function: keepalive, the one-way
// frame that keeps an idle connection under API Gateway's 10-minute idle limit
// (docs/protocol.md). It gets no reply and refreshes nothing.
var MockRoutes = []MockRoute{{Key: "keepalive"}}

// MockActions lists the route keys of MockRoutes.
func MockActions() []string {
	out := make([]string, len(MockRoutes))
	for i, r := range MockRoutes {
		out[i] = r.Key
	}
	return out
}

// IsMock reports whether key is one of MockRoutes.
func IsMock(key string) bool { return slices.Contains(MockActions(), key) }

// Lookup returns the function named name.
func Lookup(name string) (Function, bool) {
	i := slices.IndexFunc(Functions, func(f Function) bool { return f.Name == name })
	if i < 0 {
		return Function{}, false
	}
	return Functions[i], true
}

// Names lists the function names in the order of Functions.
func Names() []string {
	out := make([]string, len(Functions))
	for i, f := range Functions {
		out[i] = f.Name
	}
	return out
}

// Routes maps every route key to the name of the function that serves it.
func Routes() map[string]string {
	m := map[string]string{}
	for _, f := range Functions {
		for _, r := range f.Routes {
			m[r] = f.Name
		}
	}
	return m
}

// Actions lists the route keys that are client actions (PROTOCOL.md §4): every route key
// but $connect, $disconnect and $default, in the order of Functions.
func Actions() []string {
	var out []string
	for _, f := range Functions {
		for _, r := range f.Routes {
			if r != RouteConnect && r != RouteDisconnect && r != RouteDefault {
				out = append(out, r)
			}
		}
	}
	return out
}

// Filter selects the stream records a mapping passes to its function (Lambda's event
// filtering). Zero fields match everything.
type Filter struct {
	// EventName is INSERT, MODIFY or REMOVE.
	EventName string
	// ServiceDeletion keeps only records made by DynamoDB itself (TTL deletions:
	// userIdentity type "Service", principal ServiceIdentity).
	ServiceDeletion bool
	// SortKey keeps only records whose key attribute schema.AttrSK is this string.
	SortKey string
}

// ServiceIdentity is the principal of DynamoDB's own (TTL) deletions on a stream record.
const ServiceIdentity = "dynamodb.amazonaws.com"

// Pattern is the filter as a Lambda event filter pattern (FilterCriteria), the JSON object
// the stack renders.
func (f Filter) Pattern() map[string]any {
	p := map[string]any{}
	if f.EventName != "" {
		p["eventName"] = []string{f.EventName}
	}
	if f.ServiceDeletion {
		p["userIdentity"] = map[string]any{
			"type":        []string{"Service"},
			"principalId": []string{ServiceIdentity},
		}
	}
	if f.SortKey != "" {
		p["dynamodb"] = map[string]any{
			"Keys": map[string]any{schema.AttrSK: map[string]any{"S": []string{f.SortKey}}},
		}
	}
	return p
}

// Record is what a Filter looks at in a stream record.
type Record struct {
	EventName string
	// IdentityType and PrincipalID are the record's userIdentity ("" when absent).
	IdentityType, PrincipalID string
	// SortKey is the string value of the key attribute schema.AttrSK ("" when absent).
	SortKey string
}

// Match reports whether the filter keeps r, with the semantics of Pattern.
func (f Filter) Match(r Record) bool {
	if f.EventName != "" && r.EventName != f.EventName {
		return false
	}
	if f.ServiceDeletion && (r.IdentityType != "Service" || r.PrincipalID != ServiceIdentity) {
		return false
	}
	if f.SortKey != "" && r.SortKey != f.SortKey {
		return false
	}
	return true
}

// Mapping is one stream event source mapping.
type Mapping struct {
	// Name identifies the mapping in logs and tests.
	Name string
	// Table is the schema ID of the table whose stream is read.
	Table string
	// Function is the name of the function it invokes.
	Function string
	// Store limits the mapping to one message store ("dynamodb" or "keyspaces"); "" is
	// both.
	Store  string
	Filter Filter
	// BatchSize is the most records per invocation.
	BatchSize int
	// BatchWindow is how long Lambda waits for a batch to fill (MaximumBatchingWindow).
	BatchWindow time.Duration
	// Parallelization is the concurrent batches per shard (ParallelizationFactor);
	// records with one partition key stay in order.
	Parallelization int
	// RetryAttempts is how often a failing batch is retried before it goes to the
	// on-failure destination (MaximumRetryAttempts).
	RetryAttempts int
	// MaxRecordAge drops older records to the on-failure destination
	// (MaximumRecordAgeInSeconds).
	MaxRecordAge time.Duration
	// Bisect splits a failing batch in two (BisectBatchOnFunctionError).
	Bisect bool
	// ReportItemFailures lets the function name the failed records
	// (FunctionResponseTypes ReportBatchItemFailures).
	ReportItemFailures bool
}

// Message stores, as MESSAGE_STORE names them.
const (
	StoreDynamoDB  = "dynamodb"
	StoreKeyspaces = "keyspaces"
)

// CheckMessageStore reports whether store names a message store; the runtime, the
// functions' configuration and the stack all check with it.
func CheckMessageStore(store string) error {
	switch store {
	case StoreDynamoDB, StoreKeyspaces:
		return nil
	}
	return fmt.Errorf("unknown message store %q (want %s or %s)", store, StoreDynamoDB, StoreKeyspaces)
}

// messageDelivery is the settings of the mappings that feed new messages to fanout: no
// batching window (latency first), four concurrent batches per shard (a conversation's
// records stay in order: they share a partition key), bounded retries and age (a push
// older than 10 minutes is worth less than the client's own sync), bisection on error and
// partial batch failures, then the on-failure queue.
func messageDelivery(name, table, store string) Mapping {
	return Mapping{
		Name: name, Table: table, Function: "fanout", Store: store,
		Filter:    Filter{EventName: "INSERT"},
		BatchSize: 100, BatchWindow: 0, Parallelization: 4, RetryAttempts: 5,
		MaxRecordAge: 10 * time.Minute, Bisect: true, ReportItemFailures: true,
	}
}

// Mappings is every event source mapping. Messages (or, with the Keyspaces store, the
// Outbox) INSERTs go to fanout; so do TTL deletions of presence items, which fanout
// announces as offline: a few seconds of batching are fine for an event that is already
// late.
var Mappings = []Mapping{
	messageDelivery("messages", schema.MessagesID, StoreDynamoDB),
	messageDelivery("outbox", schema.OutboxID, StoreKeyspaces),
	{
		Name: "presence-expiry", Table: schema.ConnectionsID, Function: "fanout",
		Filter:    Filter{EventName: "REMOVE", ServiceDeletion: true, SortKey: schema.PresenceSK},
		BatchSize: 100, BatchWindow: 5 * time.Second, Parallelization: 1, RetryAttempts: 3,
		MaxRecordAge: time.Hour, Bisect: true, ReportItemFailures: true,
	},
}

// MappingsFor returns the mappings in force with the given message store.
func MappingsFor(store string) []Mapping {
	var out []Mapping
	for _, m := range Mappings {
		if m.Store == "" || m.Store == store {
			out = append(out, m)
		}
	}
	return out
}
