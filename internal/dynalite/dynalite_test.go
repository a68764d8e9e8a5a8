package dynalite

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func startT(t *testing.T, opts Options) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func createTable(t *testing.T, c *dynamodb.Client, name string) {
	t.Helper()
	ctx := context.Background()
	_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	w := dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 100 * time.Millisecond })
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 30*time.Second); err != nil {
		t.Fatalf("wait for table: %v", err)
	}
}

func TestStartInMemory(t *testing.T) {
	s := startT(t, Options{})
	if !strings.HasPrefix(s.Endpoint(), "http://127.0.0.1:") {
		t.Fatalf("Endpoint = %q, want http://127.0.0.1:PORT", s.Endpoint())
	}
	c := s.Client()
	createTable(t, c, "mem")
	out, err := c.ListTables(context.Background(), &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatalf("ListTables: %v", err)
	}
	if len(out.TableNames) != 1 || out.TableNames[0] != "mem" {
		t.Fatalf("tables = %v, want [mem]", out.TableNames)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
	if err := s.Err(); err != nil {
		t.Fatalf("Err after Close = %v, want nil", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := c.ListTables(ctx, &dynamodb.ListTablesInput{}); err == nil {
		t.Fatal("ListTables succeeded after Close")
	}
}

// TestOnDisk checks that --path works (classic-level's prebuilt LevelDB binding loads) and
// that data survives a restart.
func TestOnDisk(t *testing.T) {
	dir := t.TempDir() + "/data"
	s := startT(t, Options{Dir: dir})
	c := s.Client()
	createTable(t, c, "disk")
	ctx := context.Background()
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String("disk"),
		Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "k"},
			"v":  &types.AttributeValueMemberS{Value: "kept"},
		},
	}); err != nil {
		t.Fatalf("PutItem: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s2 := startT(t, Options{Dir: dir})
	out, err := s2.Client().GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String("disk"),
		Key:            map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "k"}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("GetItem after restart: %v", err)
	}
	v, ok := out.Item["v"].(*types.AttributeValueMemberS)
	if !ok || v.Value != "kept" {
		t.Fatalf("item after restart = %v, want v=kept", out.Item)
	}
}

func TestFixedPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Port: port})
	if err == nil {
		s.Close()
		t.Fatalf("Start on busy port %d succeeded", port)
	}
	if !errors.Is(err, errAddrInUse) {
		t.Fatalf("Start on busy port: %v, want an address-in-use error", err)
	}
}

func TestFixedPort(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s := startT(t, Options{Port: port})
	if want := "http://127.0.0.1:" + strconv.Itoa(port); s.Endpoint() != want {
		t.Fatalf("Endpoint = %q, want %q", s.Endpoint(), want)
	}
}

func TestDeathIsReported(t *testing.T) {
	s := startT(t, Options{})
	if err := syscall.Kill(s.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed 10 s after the process was killed")
	}
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("Err = %v, want an exit error naming the kill", err)
	}
	if err := s.Close(); err == nil {
		t.Fatal("Close after death returned nil, want the exit error")
	}
}

func TestStartDeadline(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Start(ctx, Options{}); err == nil {
		t.Fatal("Start with a cancelled context succeeded")
	}
}

func TestBadOptions(t *testing.T) {
	if _, err := Start(context.Background(), Options{Port: -1}); err == nil {
		t.Fatal("Start with port -1 succeeded")
	}
	if _, err := Start(context.Background(), Options{Root: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "package.json") {
		t.Fatalf("Start with an empty root: %v, want an error about package.json", err)
	}
}

// TestInstall runs the real `npm install` into an empty root from several goroutines at
// once: the lock must let exactly one install run and all of them must find dynalite.
func TestInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: runs `npm install` against the npm registry")
	}
	root := t.TempDir()
	pkg := `{"name":"install-test","private":true,"dependencies":{"dynalite":"4.0.0"}}`
	if err := os.WriteFile(filepath.Join(root, "package.json"), []byte(pkg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const n = 3
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := ensureInstalled(ctx, root, nil)
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("ensureInstalled: %v", err)
		}
	}
	s := startT(t, Options{Root: root})
	if _, err := s.Client().ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("ListTables on the freshly installed dynalite: %v", err)
	}
}
