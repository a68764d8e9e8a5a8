package localddb_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/parleychat/parley/internal/localddb"
)

func TestTTLSweeper(t *testing.T) {
	t.Parallel()
	p, db := setup(t, localddb.Options{TTLInterval: 100 * time.Millisecond})
	ctx := ctxT(t)
	createTable(t, db, "presence", types.StreamViewTypeNewAndOldImages)
	if _, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String("presence"),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{Enabled: aws.Bool(true), AttributeName: aws.String("expiresAt")}}); err != nil {
		t.Fatalf("UpdateTimeToLive: %v", err)
	}
	d, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String("presence")})
	if err != nil || d.TimeToLiveDescription.TimeToLiveStatus != types.TimeToLiveStatusEnabled ||
		aws.ToString(d.TimeToLiveDescription.AttributeName) != "expiresAt" {
		t.Fatalf("DescribeTimeToLive: %+v %v", d, err)
	}
	now := time.Now().Unix()
	for sk, exp := range map[string]int64{"expired": now - 10, "live": now + 3600} {
		item := key("u", sk)
		item["expiresAt"] = n(strconv.FormatInt(exp, 10))
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("presence"), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	// The background sweeper deletes the expired item; wait for its record. (It may run
	// between the two puts, so the REMOVE need not be the last record.)
	deadline := time.Now().Add(10 * time.Second)
	var r events.DynamoDBEventRecord
	for r.EventName != "REMOVE" {
		if time.Now().After(deadline) {
			t.Fatalf("no TTL deletion within 10s: %v", names(p.Records("presence")))
		}
		time.Sleep(20 * time.Millisecond)
		for _, rec := range p.Records("presence") {
			if rec.EventName == "REMOVE" {
				r = rec
			}
		}
	}
	if r.EventName != "REMOVE" || r.UserIdentity == nil || r.UserIdentity.Type != "Service" ||
		r.UserIdentity.PrincipalID != "dynamodb.amazonaws.com" || r.Change.OldImage["sk"].String() != "expired" {
		t.Fatalf("TTL record %+v identity %+v", r, r.UserIdentity)
	}
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("presence"), Key: key("u", "live"), ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		t.Fatalf("live item: %v %v", out, err)
	}
	if n, err := p.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("second sweep deleted %d (%v), want 0", n, err)
	}
	// Enabling twice is an error, as on DynamoDB.
	if _, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String("presence"),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{Enabled: aws.Bool(true), AttributeName: aws.String("expiresAt")}}); err == nil {
		t.Fatal("enabling TTL twice succeeded")
	}
}
