package stack

import (
	"github.com/parleychat/parley/internal/topology"

	"path/filepath"
	"slices"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/parleychat/parley/internal/schema"
)

// DynamoDB actions, grouped. The store (internal/dynamo) calls only GetItem, PutItem,
// UpdateItem, DeleteItem, Query and BatchGetItem.
var (
	ddbRead  = []string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"}
	ddbWrite = []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
	ddbRW    = append(append([]string{}, ddbRead...), ddbWrite...)
)

// access is what one function may do.
type access struct {
	// Tables maps a schema table ID to the DynamoDB actions on it (and its indexes).
	Tables map[string][]string
	// Messages is the message store's actions on the Messages table (DynamoDB mode).
	Messages []string
	// Keyspaces is the message store's access in Keyspaces mode, where messages,
	// reservations and cursors all live in the keyspace: "" none, "read"
	// (cassandra:Select) or "write" (cassandra:Select and cassandra:Modify).
	Keyspaces string
	// Outbox: dynamodb:PutItem on the Outbox table (Keyspaces mode), whose stream feeds fanout.
	Outbox bool
	// Push: execute-api:ManageConnections for POST @connections/{id} (PostToConnection) on
	// this stage's connections. A handler that starts calling DeleteConnection or
	// GetConnection needs DELETE or GET added in grantPush.
	Push bool
	// Secret: secretsmanager:GetSecretValue on the HS256 secret.
	Secret bool
	// Notify: the function delivers messages, so it emits offline notifications:
	// NOTIFY_BUS and NOTIFY_PREVIEW in its environment, events:PutEvents on that bus
	// (unless notifyBus is none).
	Notify bool
}

// Every route handler refreshes the caller's presence on each frame (Connections
// UpdateItem), looks up members and a user's direct conversations (Conversations Query,
// on the byUser index too), reads connections to push, and deletes a connection that the
// Management API reports gone.
var routeBase = map[string][]string{
	schema.ConnectionsID:   ddbRW,
	schema.ConversationsID: ddbRead,
}

func with(base map[string][]string, id string, actions []string) map[string][]string {
	out := map[string][]string{}
	for k, v := range base {
		out[k] = v
	}
	out[id] = actions
	return out
}

// Access is each function's least privilege: only the tables and actions its handlers use
// (derived from internal/chat's store calls per action).
var Access = map[string]access{
	// Verifies the JWT; HS256 reads the secret. No table.
	"authorizer": {Secret: true},
	// Stores the connection, marks presence, announces it to direct-conversation partners.
	"connect":    {Tables: routeBase, Push: true},
	"disconnect": {Tables: routeBase, Push: true},
	"presence":   {Tables: routeBase, Push: true},
	// send: the idempotency reservation, the last-message summary and the inline delivery
	// mark live in Conversations (PutItem/UpdateItem), a direct conversation is created on
	// first use; the message is a conditional PutItem, a resend and a reply read one
	// (GetItem); the inline path reads members and connections and posts. typing only
	// reads. edit, delete and react read the message, update its state (UpdateItem, also
	// erasing a superseded body) and put the change event.
	"send": {Tables: with(routeBase, schema.ConversationsID, []string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"}),
		Messages: []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}, Keyspaces: "write", Outbox: true, Push: true, Notify: true},
	// receipt: checks the message exists, moves the member's cursor (UpdateItem; with
	// Keyspaces the cursors live in the keyspace).
	"receipts": {Tables: with(routeBase, schema.ConversationsID, []string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:UpdateItem"}),
		Messages: []string{"dynamodb:GetItem"}, Keyspaces: "write", Push: true},
	// history and sync: read messages and the members' cursors.
	"history": {Tables: routeBase, Messages: []string{"dynamodb:Query"}, Keyspaces: "read", Push: true},
	// conversations, createConversation, addMembers, leave: member and meta items
	// (conditional puts, counters, deletes); unread counts query Messages.
	"conversations": {Tables: with(routeBase, schema.ConversationsID, ddbRW), Messages: []string{"dynamodb:Query"}, Keyspaces: "read", Push: true},
	// fanout: the inline marks (Conversations BatchGetItem), members of a conversation,
	// their connections (deleting gone ones), and the lapsed-presence record (RecordLapse: conditional PutItem). Stream reads are granted
	// by the event source mappings. send and fanout deliver messages, so both notify.
	"fanout": {Tables: routeBase, Push: true, Notify: true},
}

// newFunction creates one function with its own role (no managed policy: only its log
// group, granted below) and its own log group with the configured retention.
func newFunction(s awscdk.Stack, p *Props, name string, env map[string]*string) awslambda.Function {
	id := pascal(name)
	lg := awslogs.NewLogGroup(s, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention:     retentions[p.LogRetentionDays],
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	role := awsiam.NewRole(s, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Parley " + name + " function"),
	})
	lg.GrantWrite(role)
	size, _ := topology.Lookup(name)
	fn := awslambda.NewFunction(s, jsii.String(id+"Function"), &awslambda.FunctionProps{
		Description:   jsii.String("Parley " + name),
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Handler:       jsii.String("bootstrap"),
		Code:          awslambda.Code_FromAsset(jsii.String(filepath.Join(p.FunctionsDir, name)), nil),
		MemorySize:    jsii.Number(float64(size.MemoryMB)),
		Timeout:       awscdk.Duration_Seconds(jsii.Number(size.Timeout.Seconds())),
		Environment:   &env,
		Role:          role,
		LogGroup:      lg,
		LoggingFormat: awslambda.LoggingFormat_JSON,
	})
	// The role's policy must exist before the function runs (the mappings poll at once).
	return fn
}

// grantTables applies a function's table access: one statement per table, on the table
// and, for reads, on its named indexes (never index/*).
func grantTables(fn awslambda.Function, a access, tables tableSet, store string) {
	ids := make([]string, 0, len(a.Tables))
	for id := range a.Tables {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if t, ok := tables[id]; ok {
			grantTable(fn, id, t, a.Tables[id])
		}
	}
	if len(a.Messages) > 0 && store == StoreDynamoDB {
		grantTable(fn, schema.MessagesID, tables[schema.MessagesID], a.Messages)
	}
}

func grantTable(fn awslambda.Function, id string, t awsdynamodb.Table, actions []string) {
	resources := []*string{t.TableArn()}
	for _, def := range schema.All() {
		if def.ID != id || !slices.Contains(actions, "dynamodb:Query") {
			continue
		}
		for _, ix := range def.Indexes {
			resources = append(resources, awscdk.Fn_Join(jsii.String(""), &[]*string{t.TableArn(), jsii.String("/index/" + ix.Name)}))
		}
	}
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(actions...),
		Resources: &resources,
	}))
}

// grantPush allows PostToConnection (POST @connections/{id}), the only Management API call
// the pusher makes, on this API's stage only. Connection ids are known only at run time.
func grantPush(s awscdk.Stack, fn awslambda.Function, apiID *string, stage string) {
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("execute-api:ManageConnections"),
		Resources: &[]*string{s.FormatArn(&awscdk.ArnComponents{
			Service:      jsii.String("execute-api"),
			Resource:     apiID,
			ResourceName: jsii.String(stage + "/POST/@connections/*"),
		})},
	}))
}

// pascal turns "conversations" into "Conversations" for construct ids.
func pascal(s string) string {
	if s == "" {
		return s
	}
	b := []byte(s)
	if b[0] >= 'a' && b[0] <= 'z' {
		b[0] -= 'a' - 'A'
	}
	return string(b)
}
