package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscassandra"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
)

// CQLColumn is one column of a Keyspaces table.
type CQLColumn struct {
	Name string
	Type string
}

// CQLTable is one Keyspaces table: partition key columns, clustering columns (with their
// order) and regular columns.
type CQLTable struct {
	Name       string
	Partition  []CQLColumn
	Clustering []CQLClustering
	Regular    []CQLColumn
}

// CQLClustering is a clustering column and its order, "ASC" or "DESC".
type CQLClustering struct {
	Column CQLColumn
	Order  string
}

// KeyspacesTables is the Keyspaces message store's schema (DESIGN.md §5): messages in
// the classic Cassandra chat model (partition conversation_id, clustering message_id
// descending, so the newest page is one partition read), the idempotency reservations of
// send, and the members' delivered/read cursors (one row per member and status). A test
// holds it equal to the CQL of internal/keyspaces (what `parley migrate` creates).
var KeyspacesTables = []CQLTable{
	{
		Name:       "messages",
		Partition:  []CQLColumn{{"conversation_id", "text"}},
		Clustering: []CQLClustering{{CQLColumn{"message_id", "text"}, "DESC"}},
		Regular: []CQLColumn{{"sender_id", "text"}, {"body", "text"}, {"created_at", "bigint"}, {"client_msg_id", "text"},
			// Protocol 1.1: replies, the folded state of changes, and change events.
			{"reply_to_id", "text"}, {"reply_sender", "text"}, {"reply_preview", "text"}, {"edited_at", "bigint"},
			{"deleted", "boolean"}, {"reactions", "text"}, {"version", "int"}, {"last_change", "text"}, {"edit_ids", "text"},
			{"kind", "text"}, {"target", "text"}, {"emoji", "text"}, {"state", "text"}, {"origin", "text"}},
	},
	{
		Name:      "reservations",
		Partition: []CQLColumn{{"conversation_id", "text"}, {"sender_id", "text"}, {"client_msg_id", "text"}},
		Regular:   []CQLColumn{{"message_id", "text"}, {"created_at", "bigint"}},
	},
	{
		Name:       "cursors",
		Partition:  []CQLColumn{{"conversation_id", "text"}},
		Clustering: []CQLClustering{{CQLColumn{"user_id", "text"}, "ASC"}, {CQLColumn{"status", "text"}, "ASC"}},
		Regular:    []CQLColumn{{"up_to", "text"}},
	},
}

// keyspace is the Keyspaces message store of one stack.
type keyspace struct {
	name string
	host *string // the regional Keyspaces endpoint host (port 9142)
	arn  *string // the keyspace's resource ARN, ending in "/"
}

// newKeyspace creates the keyspace and its tables (on demand, point-in-time recovery,
// retained like the DynamoDB data tables).
func newKeyspace(s awscdk.Stack, p *Props) *keyspace {
	removal := awscdk.RemovalPolicy_RETAIN
	if p.DestroyData {
		removal = awscdk.RemovalPolicy_DESTROY
	}
	ks := awscassandra.NewCfnKeyspace(s, jsii.String("Keyspace"), &awscassandra.CfnKeyspaceProps{
		KeyspaceName: jsii.String(p.KeyspaceName),
	})
	ks.ApplyRemovalPolicy(removal, nil)
	for _, t := range KeyspacesTables {
		props := &awscassandra.CfnTableProps{
			KeyspaceName:               ks.Ref(),
			TableName:                  jsii.String(t.Name),
			PartitionKeyColumns:        columns(t.Partition),
			RegularColumns:             columns(t.Regular),
			BillingMode:                &awscassandra.CfnTable_BillingModeProperty{Mode: jsii.String("ON_DEMAND")},
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		}
		if len(t.Clustering) > 0 {
			var cs []*awscassandra.CfnTable_ClusteringKeyColumnProperty
			for _, c := range t.Clustering {
				cs = append(cs, &awscassandra.CfnTable_ClusteringKeyColumnProperty{
					Column:  &awscassandra.CfnTable_ColumnProperty{ColumnName: jsii.String(c.Column.Name), ColumnType: jsii.String(c.Column.Type)},
					OrderBy: jsii.String(c.Order),
				})
			}
			props.ClusteringKeyColumns = &cs
		}
		tbl := awscassandra.NewCfnTable(s, jsii.String("Keyspace"+pascal(t.Name)+"Table"), props)
		tbl.ApplyRemovalPolicy(removal, nil)
	}
	return &keyspace{
		name: p.KeyspaceName,
		host: awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("cassandra."), awscdk.Aws_REGION(), jsii.String("."), awscdk.Aws_URL_SUFFIX()}),
		arn:  awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:cassandra:${AWS::Region}:${AWS::AccountId}:/keyspace/"+p.KeyspaceName+"/"), nil),
	}
}

func columns(cs []CQLColumn) *[]*awscassandra.CfnTable_ColumnProperty {
	out := make([]*awscassandra.CfnTable_ColumnProperty, 0, len(cs))
	for _, c := range cs {
		out = append(out, &awscassandra.CfnTable_ColumnProperty{ColumnName: jsii.String(c.Name), ColumnType: jsii.String(c.Type)})
	}
	return &out
}

// grant gives fn what its level needs, limited to this keyspace and its tables:
// "read" is cassandra:Select, "write" adds cassandra:Modify (a conditional write, IF NOT
// EXISTS or IF, needs both), "" nothing on the keyspace. Every level gets cassandra:Select
// on the system keyspaces, which the driver reads its cluster metadata from when the
// function opens its session at init.
func (k *keyspace) grant(fn awslambda.Function, level string) {
	if level != "" {
		actions := []*string{jsii.String("cassandra:Select")}
		if level == "write" {
			actions = append(actions, jsii.String("cassandra:Modify"))
		}
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: &actions,
			Resources: &[]*string{
				k.arn,
				awscdk.Fn_Join(jsii.String(""), &[]*string{k.arn, jsii.String("table/*")}),
			},
		}))
	}
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("cassandra:Select"),
		Resources: &[]*string{awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:cassandra:${AWS::Region}:${AWS::AccountId}:/keyspace/system*"), nil)},
	}))
}
