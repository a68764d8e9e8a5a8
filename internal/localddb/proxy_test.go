package localddb_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/parleychat/parley/internal/dynalite"
	"github.com/parleychat/parley/internal/dynalite/dynalitetest"
	"github.com/parleychat/parley/internal/localddb"
)

// setup starts dynalite and a proxy in front of it, and returns the proxy and a real SDK
// client pointed at the proxy.
func setup(t *testing.T, opts localddb.Options) (*localddb.Proxy, *dynamodb.Client) {
	t.Helper()
	opts.Upstream = dynalitetest.StartForTest(t).Endpoint()
	n := open(t, opts)
	return n.p, n.db
}

// node is a proxy served over HTTP, with a real SDK client pointed at it.
type node struct {
	p      *localddb.Proxy
	db     *dynamodb.Client
	srv    *httptest.Server
	closed bool
}

// open starts a proxy for opts (Upstream set) and closes it when the test ends, unless
// the test closed it before.
func open(t testing.TB, opts localddb.Options) *node {
	t.Helper()
	if opts.TTLInterval == 0 {
		opts.TTLInterval = -1 // tests call Sweep themselves unless they ask for the sweeper
	}
	p, err := localddb.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{p: p, srv: httptest.NewServer(p)}
	n.db = dynalite.NewClient(n.srv.URL)
	t.Cleanup(func() { n.close(t) })
	return n
}

// close stops serving and closes the proxy.
func (n *node) close(t testing.TB) {
	t.Helper()
	if n.closed {
		return
	}
	n.closed = true
	n.srv.Close()
	if err := n.p.Close(); err != nil {
		t.Errorf("close proxy: %v", err)
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func createTable(t testing.TB, db *dynamodb.Client, name string, view types.StreamViewType) {
	t.Helper()
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
		},
	}
	if view != "" {
		in.StreamSpecification = &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: view}
	}
	if _, err := db.CreateTable(ctxT(t), in); err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
	w := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 20 * time.Millisecond
		o.MaxDelay = 100 * time.Millisecond
	})
	if err := w.Wait(ctxT(t), &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 20*time.Second); err != nil {
		t.Fatalf("wait for table %s: %v", name, err)
	}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": s(pk), "sk": s(sk)}
}

var arnPattern = regexp.MustCompile(`^arn:aws:dynamodb:us-east-1:000000000000:table/[^/]+/stream/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$`)

func TestStreamViewTypes(t *testing.T) {
	t.Parallel()
	p, db := setup(t, localddb.Options{})
	for _, view := range []types.StreamViewType{types.StreamViewTypeKeysOnly, types.StreamViewTypeNewImage,
		types.StreamViewTypeOldImage, types.StreamViewTypeNewAndOldImages} {
		t.Run(string(view), func(t *testing.T) {
			ctx := ctxT(t)
			table := "t-" + strings.ToLower(string(view))
			createTable(t, db, table, view)

			desc, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
			if err != nil {
				t.Fatal(err)
			}
			if desc.Table.StreamSpecification == nil || desc.Table.StreamSpecification.StreamViewType != view ||
				!arnPattern.MatchString(aws.ToString(desc.Table.LatestStreamArn)) {
				t.Fatalf("DescribeTable stream: %+v %v", desc.Table.StreamSpecification, aws.ToString(desc.Table.LatestStreamArn))
			}

			item := map[string]types.AttributeValue{"pk": s("a"), "sk": s("1"), "v": n("1")}
			mustPut := func(in *dynamodb.PutItemInput) {
				t.Helper()
				if _, err := db.PutItem(ctx, in); err != nil {
					t.Fatalf("put: %v", err)
				}
			}
			mustPut(&dynamodb.PutItemInput{TableName: aws.String(table), Item: item}) // INSERT
			mustPut(&dynamodb.PutItemInput{TableName: aws.String(table), Item: item}) // unchanged: none
			if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{                // MODIFY
				TableName: aws.String(table), Key: key("a", "1"),
				UpdateExpression:          aws.String("SET v = :v"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":v": n("2")},
			}); err != nil {
				t.Fatal(err)
			}
			_, err = db.PutItem(ctx, &dynamodb.PutItemInput{ // condition fails: none
				TableName: aws.String(table), Item: item,
				ConditionExpression: aws.String("attribute_not_exists(pk)"),
			})
			var ccf *types.ConditionalCheckFailedException
			if !errors.As(err, &ccf) {
				t.Fatalf("conditional put: %v, want ConditionalCheckFailedException", err)
			}
			if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: key("a", "1")}); err != nil {
				t.Fatal(err) // REMOVE
			}
			if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: key("a", "1")}); err != nil {
				t.Fatal(err) // missing: none
			}

			recs := p.Records(table)
			want := []string{"INSERT", "MODIFY", "REMOVE"}
			if len(recs) != len(want) {
				t.Fatalf("%d records %v, want %v", len(recs), names(recs), want)
			}
			hasNew := view == types.StreamViewTypeNewImage || view == types.StreamViewTypeNewAndOldImages
			hasOld := view == types.StreamViewTypeOldImage || view == types.StreamViewTypeNewAndOldImages
			wantV := []struct{ old, new string }{{"", "1"}, {"1", "2"}, {"2", ""}}
			for i, r := range recs {
				c := r.Change
				if r.EventName != want[i] || c.StreamViewType != string(view) || r.EventSource != "aws:dynamodb" ||
					r.AWSRegion != "us-east-1" || r.EventSourceArn != aws.ToString(desc.Table.LatestStreamArn) || r.UserIdentity != nil {
					t.Errorf("record %d: %+v", i, r)
				}
				if c.Keys["pk"].String() != "a" || c.Keys["sk"].String() != "1" || len(c.Keys) != 2 {
					t.Errorf("record %d keys %v", i, c.Keys)
				}
				if i > 0 && c.SequenceNumber <= recs[i-1].Change.SequenceNumber {
					t.Errorf("sequence numbers not increasing: %s then %s", recs[i-1].Change.SequenceNumber, c.SequenceNumber)
				}
				if got := imageV(c.NewImage); (hasNew && got != wantV[i].new) || (!hasNew && c.NewImage != nil) {
					t.Errorf("record %d NewImage %v", i, c.NewImage)
				}
				if got := imageV(c.OldImage); (hasOld && got != wantV[i].old) || (!hasOld && c.OldImage != nil) {
					t.Errorf("record %d OldImage %v", i, c.OldImage)
				}
			}
		})
	}
}

func imageV(img map[string]events.DynamoDBAttributeValue) string {
	if img == nil {
		return ""
	}
	return img["v"].Number()
}

func names(recs []events.DynamoDBEventRecord) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.EventName)
	}
	return out
}

func TestNoStreamNoRecords(t *testing.T) {
	t.Parallel()
	p, db := setup(t, localddb.Options{})
	createTable(t, db, "plain", "")
	if _, err := db.PutItem(ctxT(t), &dynamodb.PutItemInput{TableName: aws.String("plain"), Item: key("a", "1")}); err != nil {
		t.Fatal(err)
	}
	if recs := p.Records("plain"); len(recs) != 0 {
		t.Fatalf("records for a table without stream: %v", names(recs))
	}
	desc, err := db.DescribeTable(ctxT(t), &dynamodb.DescribeTableInput{TableName: aws.String("plain")})
	if err != nil || desc.Table.LatestStreamArn != nil {
		t.Fatalf("DescribeTable: %v, stream %v", err, desc.Table.LatestStreamArn)
	}
	// A stream enabled later by UpdateTable captures from then on.
	if _, err := db.UpdateTable(ctxT(t), &dynamodb.UpdateTableInput{TableName: aws.String("plain"),
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeKeysOnly}}); err != nil {
		t.Fatalf("UpdateTable: %v", err)
	}
	if _, err := db.DeleteItem(ctxT(t), &dynamodb.DeleteItemInput{TableName: aws.String("plain"), Key: key("a", "1")}); err != nil {
		t.Fatal(err)
	}
	if got := names(p.Records("plain")); len(got) != 1 || got[0] != "REMOVE" {
		t.Fatalf("records after UpdateTable: %v", got)
	}
}

func TestBatchWriteItem(t *testing.T) {
	t.Parallel()
	p, db := setup(t, localddb.Options{})
	createTable(t, db, "batch", types.StreamViewTypeNewAndOldImages)
	createTable(t, db, "other", "")
	ctx := ctxT(t)
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("batch"), Item: key("a", "old")}); err != nil {
		t.Fatal(err)
	}
	put := func(sk string) types.WriteRequest {
		return types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{"pk": s("a"), "sk": s(sk), "x": s("y")}}}
	}
	_, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
		"batch": {put("1"), put("2"), {DeleteRequest: &types.DeleteRequest{Key: key("a", "old")}},
			{DeleteRequest: &types.DeleteRequest{Key: key("a", "missing")}}},
		"other": {put("1")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	recs := p.Records("batch")
	if got := strings.Join(names(recs), ","); got != "INSERT,INSERT,INSERT,REMOVE" {
		t.Fatalf("records %s", got)
	}
	if recs[3].Change.OldImage["sk"].String() != "old" || recs[1].Change.NewImage["x"].String() != "y" {
		t.Errorf("images: %+v / %+v", recs[3].Change, recs[1].Change)
	}
	if len(p.Records("other")) != 0 {
		t.Error("records for the table without stream")
	}
}

func TestAttributeValuesRoundTrip(t *testing.T) {
	t.Parallel()
	p, db := setup(t, localddb.Options{})
	createTable(t, db, "types", types.StreamViewTypeNewImage)
	item := map[string]types.AttributeValue{
		"pk":   s("a"),
		"sk":   s("ünïcode ✓"),
		"n":    n("-12.5e3"),
		"b":    &types.AttributeValueMemberB{Value: []byte{0, 1, 2, 255}},
		"bool": &types.AttributeValueMemberBOOL{Value: true},
		"null": &types.AttributeValueMemberNULL{Value: true},
		"m":    &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"inner": s("x"), "deep": &types.AttributeValueMemberL{Value: []types.AttributeValue{n("1")}}}},
		"l":    &types.AttributeValueMemberL{Value: []types.AttributeValue{s("x"), n("2"), &types.AttributeValueMemberBOOL{Value: false}}},
		"ss":   &types.AttributeValueMemberSS{Value: []string{"p", "q"}},
		"ns":   &types.AttributeValueMemberNS{Value: []string{"1", "2.5"}},
		"bs":   &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}},
	}
	if _, err := db.PutItem(ctxT(t), &dynamodb.PutItemInput{TableName: aws.String("types"), Item: item}); err != nil {
		t.Fatal(err)
	}
	recs := p.Records("types")
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	img := recs[0].Change.NewImage
	m := img["m"].Map()
	checks := []struct {
		name string
		ok   bool
	}{
		{"S", img["sk"].String() == "ünïcode ✓"},
		{"N", img["n"].Number() == "-12.5e3" || img["n"].Number() == "-12500"},
		{"B", string(img["b"].Binary()) == string([]byte{0, 1, 2, 255})},
		{"BOOL", img["bool"].Boolean()},
		{"NULL", img["null"].IsNull()},
		{"M", m["inner"].String() == "x" && m["deep"].List()[0].Number() == "1"},
		{"L", len(img["l"].List()) == 3 && img["l"].List()[1].Number() == "2" && !img["l"].List()[2].Boolean()},
		{"SS", strings.Join(sortedCopy(img["ss"].StringSet()), ",") == "p,q"},
		{"NS", strings.Join(sortedCopy(img["ns"].NumberSet()), ",") == "1,2.5"},
		{"BS", len(img["bs"].BinarySet()) == 2},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s did not round-trip: %+v", c.name, img)
		}
	}
}

func sortedCopy(v []string) []string {
	out := append([]string(nil), v...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestTransactWriteItemsRefused(t *testing.T) {
	t.Parallel()
	_, db := setup(t, localddb.Options{})
	createTable(t, db, "txn", types.StreamViewTypeNewImage)
	_, err := db.TransactWriteItems(ctxT(t), &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String("txn"), Item: key("a", "1")}},
	}})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" || !strings.Contains(ae.ErrorMessage(), "not supported") {
		t.Fatalf("TransactWriteItems: %v, want a ValidationException saying it is not supported", err)
	}
}

func TestConcurrentWritesKeepImagesExact(t *testing.T) {
	t.Parallel()
	p, db := setup(t, localddb.Options{})
	createTable(t, db, "counter", types.StreamViewTypeNewAndOldImages)
	ctx := ctxT(t)
	const writers = 8
	var wg sync.WaitGroup
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName: aws.String("counter"), Key: key("c", "1"),
				UpdateExpression:          aws.String("ADD v :one"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":one": n("1")},
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	recs := p.Records("counter")
	if len(recs) != writers {
		t.Fatalf("%d records, want %d", len(recs), writers)
	}
	// Each record's old image is the previous record's new image: v goes 1, 2, 3, ...
	for i, r := range recs {
		if got, want := r.Change.NewImage["v"].Number(), itoa(i+1); got != want {
			t.Errorf("record %d new v=%s, want %s", i, got, want)
		}
		if i > 0 && r.Change.OldImage["v"].Number() != itoa(i) {
			t.Errorf("record %d old v=%s, want %d", i, r.Change.OldImage["v"].Number(), i)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
