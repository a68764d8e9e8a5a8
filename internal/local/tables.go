package local

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/parleychat/parley/internal/dynalite"
	"github.com/parleychat/parley/internal/dynamo"
	"github.com/parleychat/parley/internal/schema"
)

// ensureTables creates the tables through the proxy, and re-enables the streams of
// tables that existed already (a data dir from an earlier run), since the proxy keeps
// its stream configuration in memory.
func (m *Main) ensureTables(ctx context.Context, tables map[string]string) error {
	db := dynalite.NewClient(m.ddbURL)
	if err := dynamo.CreateTables(ctx, db, tables, schema.All()); err != nil {
		return fmt.Errorf("local: create tables: %w", err)
	}
	for _, t := range schema.All() {
		if t.Stream == schema.NoStream {
			continue
		}
		name := tables[t.ID]
		out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			return fmt.Errorf("local: describe %s: %w", name, err)
		}
		if out.Table.StreamSpecification != nil {
			continue
		}
		if _, err := db.UpdateTable(ctx, &dynamodb.UpdateTableInput{
			TableName: aws.String(name),
			StreamSpecification: &types.StreamSpecification{
				StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewType(t.Stream),
			},
		}); err != nil {
			return fmt.Errorf("local: enable stream of %s: %w", name, err)
		}
	}
	return nil
}
