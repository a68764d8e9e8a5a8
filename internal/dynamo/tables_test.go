package dynamo_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/parleychat/parley/internal/dynalite/dynalitetest"
	"github.com/parleychat/parley/internal/dynamo"
	"github.com/parleychat/parley/internal/schema"
)

func TestTableNames(t *testing.T) {
	got := dynamo.TableNames("parley-")
	want := dynamo.Tables{Messages: "parley-Messages", Conversations: "parley-Conversations", Connections: "parley-Connections"}
	if got != want {
		t.Fatalf("TableNames = %+v, want %+v", got, want)
	}
	names := dynamo.PrefixedNames("p-", schema.All())
	if len(names) != 4 || names[schema.OutboxID] != "p-Outbox" {
		t.Fatalf("PrefixedNames = %v", names)
	}
}

func TestCreateTableInput(t *testing.T) {
	in := dynamo.CreateTableInput("x-Conversations", schema.Conversations)
	if aws.ToString(in.TableName) != "x-Conversations" || in.BillingMode != types.BillingModePayPerRequest {
		t.Fatalf("name/billing = %q/%q", aws.ToString(in.TableName), in.BillingMode)
	}
	var defs []string
	for _, d := range in.AttributeDefinitions {
		defs = append(defs, aws.ToString(d.AttributeName)+":"+string(d.AttributeType))
	}
	// pk appears in the table key and the index key, but is defined once.
	if want := []string{"pk:S", "sk:S", "userId:S"}; !slices.Equal(defs, want) {
		t.Fatalf("attribute definitions = %v, want %v", defs, want)
	}
	if len(in.GlobalSecondaryIndexes) != 1 || aws.ToString(in.GlobalSecondaryIndexes[0].IndexName) != schema.IndexByUser ||
		in.GlobalSecondaryIndexes[0].Projection.ProjectionType != types.ProjectionTypeAll {
		t.Fatalf("indexes = %+v", in.GlobalSecondaryIndexes)
	}
	if in.StreamSpecification != nil {
		t.Fatalf("Conversations has a stream: %+v", in.StreamSpecification)
	}
	m := dynamo.CreateTableInput("m", schema.Messages)
	if m.StreamSpecification == nil || !aws.ToBool(m.StreamSpecification.StreamEnabled) || m.StreamSpecification.StreamViewType != types.StreamViewTypeNewImage {
		t.Fatalf("Messages stream = %+v", m.StreamSpecification)
	}
}

// TestCreateTables creates every table on dynalite twice and checks what DescribeTable says.
func TestCreateTables(t *testing.T) {
	client := dynalitetest.StartForTest(t).Client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	names := dynamo.PrefixedNames("ct-", schema.All())
	for i := range 2 { // the second run finds every table there
		if err := dynamo.CreateTables(ctx, client, names, schema.All()); err != nil {
			t.Fatalf("CreateTables run %d: %v", i+1, err)
		}
	}
	for _, tbl := range schema.All() {
		d, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(names[tbl.ID])})
		if err != nil {
			t.Fatalf("DescribeTable %s: %v", tbl.ID, err)
		}
		td := d.Table
		if td.TableStatus != types.TableStatusActive {
			t.Errorf("%s: status %s", tbl.ID, td.TableStatus)
		}
		if got := aws.ToString(td.KeySchema[0].AttributeName); got != tbl.PartitionKey.Name {
			t.Errorf("%s: partition key %s, want %s", tbl.ID, got, tbl.PartitionKey.Name)
		}
		if got := aws.ToString(td.KeySchema[1].AttributeName); got != tbl.SortKey.Name {
			t.Errorf("%s: sort key %s, want %s", tbl.ID, got, tbl.SortKey.Name)
		}
		if len(td.GlobalSecondaryIndexes) != len(tbl.Indexes) {
			t.Errorf("%s: %d indexes, want %d", tbl.ID, len(td.GlobalSecondaryIndexes), len(tbl.Indexes))
		}
		// dynalite accepts a StreamSpecification but does not report it back (it has no
		// streams); TestCreateTableInput checks the request instead.
	}
	if err := dynamo.CreateTables(ctx, client, map[string]string{}, schema.All()); err == nil {
		t.Fatal("CreateTables without names: no error")
	}
}

// ttlAPI is a fake of the TTL half of TableAPI, for the TTL logic alone; the table half
// answers as if the table existed and were active.
type ttlAPI struct {
	describe func() (*dynamodb.DescribeTimeToLiveOutput, error)
	updates  []string
}

func (f *ttlAPI) CreateTable(context.Context, *dynamodb.CreateTableInput, ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	return nil, &types.ResourceInUseException{Message: aws.String("exists")}
}

func (f *ttlAPI) DescribeTable(_ context.Context, in *dynamodb.DescribeTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	return &dynamodb.DescribeTableOutput{Table: &types.TableDescription{TableName: in.TableName, TableStatus: types.TableStatusActive}}, nil
}

func (f *ttlAPI) DescribeTimeToLive(context.Context, *dynamodb.DescribeTimeToLiveInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error) {
	return f.describe()
}

func (f *ttlAPI) UpdateTimeToLive(_ context.Context, in *dynamodb.UpdateTimeToLiveInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error) {
	f.updates = append(f.updates, aws.ToString(in.TimeToLiveSpecification.AttributeName))
	return &dynamodb.UpdateTimeToLiveOutput{}, nil
}

func TestCreateTablesTTL(t *testing.T) {
	ttl := func(status types.TimeToLiveStatus, attr string) func() (*dynamodb.DescribeTimeToLiveOutput, error) {
		return func() (*dynamodb.DescribeTimeToLiveOutput, error) {
			return &dynamodb.DescribeTimeToLiveOutput{TimeToLiveDescription: &types.TimeToLiveDescription{
				TimeToLiveStatus: status, AttributeName: aws.String(attr)}}, nil
		}
	}
	cases := []struct {
		name        string
		describe    func() (*dynamodb.DescribeTimeToLiveOutput, error)
		wantUpdates []string
		wantErr     bool
	}{
		{"disabled: enabled", ttl(types.TimeToLiveStatusDisabled, ""), []string{"expiresAt"}, false},
		{"enabled: left alone", ttl(types.TimeToLiveStatusEnabled, "expiresAt"), nil, false},
		{"enabling: left alone", ttl(types.TimeToLiveStatusEnabling, "expiresAt"), nil, false},
		{"engine without TTL: tolerated", func() (*dynamodb.DescribeTimeToLiveOutput, error) {
			return nil, &smithy.GenericAPIError{Code: "UnknownOperationException"}
		}, nil, false},
		{"other error: returned", func() (*dynamodb.DescribeTimeToLiveOutput, error) {
			return nil, errors.New("boom")
		}, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &ttlAPI{describe: tc.describe}
			err := dynamo.CreateTables(context.Background(), f, map[string]string{"Connections": "c"}, []schema.Table{schema.Connections})
			if (err != nil) != tc.wantErr {
				t.Fatalf("CreateTables: %v, want error %v", err, tc.wantErr)
			}
			if !slices.Equal(f.updates, tc.wantUpdates) {
				t.Fatalf("UpdateTimeToLive calls = %v, want %v", f.updates, tc.wantUpdates)
			}
		})
	}
}
