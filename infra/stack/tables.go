package stack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/jsii-runtime-go"

	"github.com/parleychat/parley/internal/schema"
)

// tableSet is the DynamoDB tables of one stack, by schema ID.
type tableSet map[string]awsdynamodb.Table

// tableDefs returns the schema tables this stack deploys: Messages only with the DynamoDB
// message store, Outbox only with Keyspaces.
func tableDefs(store string) []schema.Table {
	var out []schema.Table
	for _, t := range schema.All() {
		switch {
		case t.ID == schema.MessagesID && store != StoreDynamoDB:
		case t.ID == schema.OutboxID && store != StoreKeyspaces:
		default:
			out = append(out, t)
		}
	}
	return out
}

// newTables creates one on-demand table per schema definition: keys, GSIs (projection
// ALL), TTL attribute, stream view, and, for Data tables, point-in-time recovery and
// retention on stack deletion (unless DestroyData). namePrefix, when set, fixes the
// physical names ("parley-" gives parley-Messages, as `parley local` names its tables).
func newTables(scope awscdk.Stack, p *Props, namePrefix string) (tableSet, error) {
	ts := tableSet{}
	for _, def := range tableDefs(p.MessageStore) {
		props := &awsdynamodb.TableProps{
			PartitionKey: attr(def.PartitionKey),
			BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
			Encryption:   awsdynamodb.TableEncryption_AWS_MANAGED,
			PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
				PointInTimeRecoveryEnabled: jsii.Bool(def.Data),
			},
			RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		}
		if def.SortKey.Name != "" {
			props.SortKey = attr(def.SortKey)
		}
		if def.TTLAttribute != "" {
			props.TimeToLiveAttribute = jsii.String(def.TTLAttribute)
		}
		if def.Stream != schema.NoStream {
			v, err := streamView(def.Stream)
			if err != nil {
				return nil, fmt.Errorf("table %s: %w", def.ID, err)
			}
			props.Stream = v
		}
		if def.Data && !p.DestroyData {
			props.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
			props.DeletionProtection = jsii.Bool(true)
		}
		if namePrefix != "" {
			props.TableName = jsii.String(namePrefix + def.ID)
		}
		t := awsdynamodb.NewTable(scope, jsii.String(def.ID+"Table"), props)
		for _, ix := range def.Indexes {
			gsi := &awsdynamodb.GlobalSecondaryIndexProps{
				IndexName:      jsii.String(ix.Name),
				PartitionKey:   attr(ix.PartitionKey),
				ProjectionType: awsdynamodb.ProjectionType_ALL,
			}
			if ix.SortKey.Name != "" {
				gsi.SortKey = attr(ix.SortKey)
			}
			t.AddGlobalSecondaryIndex(gsi)
		}
		ts[def.ID] = t
	}
	return ts, nil
}

func attr(a schema.Attribute) *awsdynamodb.Attribute {
	typ := awsdynamodb.AttributeType_STRING
	if a.Type == schema.Number {
		typ = awsdynamodb.AttributeType_NUMBER
	}
	return &awsdynamodb.Attribute{Name: jsii.String(a.Name), Type: typ}
}

func streamView(v schema.StreamView) (awsdynamodb.StreamViewType, error) {
	switch v {
	case schema.KeysOnly:
		return awsdynamodb.StreamViewType_KEYS_ONLY, nil
	case schema.NewImage:
		return awsdynamodb.StreamViewType_NEW_IMAGE, nil
	case schema.OldImage:
		return awsdynamodb.StreamViewType_OLD_IMAGE, nil
	case schema.NewAndOldImages:
		return awsdynamodb.StreamViewType_NEW_AND_OLD_IMAGES, nil
	}
	return "", fmt.Errorf("unknown stream view %q", v)
}
