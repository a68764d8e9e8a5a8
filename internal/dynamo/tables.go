package dynamo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/parleychat/parley/internal/schema"
)

// TableAPI is the part of the DynamoDB client CreateTables uses; *dynamodb.Client
// implements it.
type TableAPI interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	DescribeTimeToLive(ctx context.Context, in *dynamodb.DescribeTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

// TableWaitTimeout bounds the wait for one table to become ACTIVE.
const TableWaitTimeout = 2 * time.Minute

// CreateTables creates each table from its schema definition (keys, global secondary
// indexes with projection ALL, stream specification, on-demand billing) under the physical
// name names[table.ID], waits until it is ACTIVE, and enables TTL on its TTL attribute.
// It is idempotent: a table that exists already is left as it is (only its TTL is
// ensured). An engine that does not implement the TTL API (plain dynalite) is tolerated
// with a warning, since TTL only collects garbage there.
func CreateTables(ctx context.Context, client TableAPI, names map[string]string, tables []schema.Table) error {
	for _, t := range tables {
		name := names[t.ID]
		if name == "" {
			return fmt.Errorf("create tables: no physical name for table %q", t.ID)
		}
		if err := createTable(ctx, client, name, t); err != nil {
			return fmt.Errorf("create table %s (%s): %w", name, t.ID, err)
		}
	}
	return nil
}

// CreateTableInput converts a schema table into the CreateTable request for the given name.
func CreateTableInput(name string, t schema.Table) *dynamodb.CreateTableInput {
	attrs := map[string]schema.AttributeType{}
	var order []string
	addAttr := func(a schema.Attribute) {
		if a.Name == "" {
			return
		}
		if _, ok := attrs[a.Name]; !ok {
			order = append(order, a.Name)
		}
		attrs[a.Name] = a.Type
	}
	keySchema := func(pk, sk schema.Attribute) []types.KeySchemaElement {
		addAttr(pk)
		ks := []types.KeySchemaElement{{AttributeName: aws.String(pk.Name), KeyType: types.KeyTypeHash}}
		if sk.Name != "" {
			addAttr(sk)
			ks = append(ks, types.KeySchemaElement{AttributeName: aws.String(sk.Name), KeyType: types.KeyTypeRange})
		}
		return ks
	}
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		KeySchema:   keySchema(t.PartitionKey, t.SortKey),
		BillingMode: types.BillingModePayPerRequest,
	}
	for _, ix := range t.Indexes {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName:  aws.String(ix.Name),
			KeySchema:  keySchema(ix.PartitionKey, ix.SortKey),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		})
	}
	for _, n := range order {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(n),
			AttributeType: types.ScalarAttributeType(attrs[n]),
		})
	}
	if t.Stream != schema.NoStream {
		in.StreamSpecification = &types.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: types.StreamViewType(t.Stream),
		}
	}
	return in
}

func createTable(ctx context.Context, client TableAPI, name string, t schema.Table) error {
	_, err := client.CreateTable(ctx, CreateTableInput(name, t))
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return err
	}
	w := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 200 * time.Millisecond
		o.MaxDelay = 2 * time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, TableWaitTimeout); err != nil {
		return fmt.Errorf("wait until active: %w", err)
	}
	if t.TTLAttribute == "" {
		return nil
	}
	return ensureTTL(ctx, client, name, t.TTLAttribute)
}

func ensureTTL(ctx context.Context, client TableAPI, name, attr string) error {
	d, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if isUnknownOperation(err) {
		slog.WarnContext(ctx, "DynamoDB engine has no TTL API; expired items are not collected", "table", name)
		return nil
	}
	if err != nil {
		return fmt.Errorf("describe TTL: %w", err)
	}
	if ttl := d.TimeToLiveDescription; ttl != nil && aws.ToString(ttl.AttributeName) == attr &&
		(ttl.TimeToLiveStatus == types.TimeToLiveStatusEnabled || ttl.TimeToLiveStatus == types.TimeToLiveStatusEnabling) {
		return nil
	}
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(attr),
			Enabled:       aws.Bool(true),
		},
	})
	if isUnknownOperation(err) {
		slog.WarnContext(ctx, "DynamoDB engine has no TTL API; expired items are not collected", "table", name)
		return nil
	}
	if err != nil {
		return fmt.Errorf("enable TTL on %s: %w", attr, err)
	}
	return nil
}

// isUnknownOperation reports whether err says the endpoint does not implement the API call.
func isUnknownOperation(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "UnknownOperationException", "UnknownOperation", "NotImplemented", "InvalidAction":
		return true
	}
	return false
}
