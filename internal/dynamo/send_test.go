package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/oklog/ulid/v2"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/chat/inmem"
	"github.com/parleychat/parley/internal/dynamo"
)

// sendAPI records the operations a store sends, and fails puts to the Messages table
// while failPuts is set.
type sendAPI struct {
	dynamo.API
	messages string
	mu       sync.Mutex
	ops      []string
	failPuts bool
}

// do records op and reports whether it is to fail.
func (a *sendAPI) do(op, table string) (fail bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ops = append(a.ops, op)
	return op == "PutItem" && a.failPuts && table == a.messages
}

// counts returns how often each operation was sent since the last call.
func (a *sendAPI) counts() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := map[string]int{}
	for _, op := range a.ops {
		n[op]++
	}
	a.ops = nil
	return n
}

func (a *sendAPI) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	a.do("GetItem", aws.ToString(in.TableName))
	return a.API.GetItem(ctx, in, o...)
}

func (a *sendAPI) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if a.do("PutItem", aws.ToString(in.TableName)) {
		return nil, errors.New("injected: 500 internal server error")
	}
	return a.API.PutItem(ctx, in, o...)
}

func (a *sendAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	a.do("UpdateItem", aws.ToString(in.TableName))
	return a.API.UpdateItem(ctx, in, o...)
}

// TestSendRequests counts the DynamoDB requests of chat.Service.Send on each of its paths
// (the handler adds the presence refresh): a first send; resends after an attempt that
// reserved an id and failed to store, soon (the reserved id) and a minute later (renewed);
// a resend of a stored message. Only resends read the message; only renewals update the
// reservation.
func TestSendRequests(t *testing.T) {
	_, client := newStore(t)
	tables := dynamo.TableNames("parley-")
	api := &sendAPI{API: client, messages: tables.Messages}
	store, err := dynamo.New(api, tables)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	svc := chat.NewService(store, store, store, &inmem.Pusher{}, chat.Options{Now: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx := t.Context()
	alice, bob := "alice-"+ulid.Make().String(), "bob-"+ulid.Make().String()
	conv := chat.DirectID(alice, bob)
	if _, err := svc.CreateConversation(ctx, chat.Caller{UserID: alice}, []string{bob}, nil); err != nil {
		t.Fatal(err)
	}
	send := func(cmid string) (chat.AckFrame, error) {
		body := "hello"
		return svc.Send(ctx, chat.Caller{UserID: alice}, chat.SendInput{ConversationID: conv, ClientMsgID: cmid, Body: &body})
	}
	failPuts := func(fail bool) { api.mu.Lock(); defer api.mu.Unlock(); api.failPuts = fail }
	failOnce := func(cmid string) {
		t.Helper()
		failPuts(true)
		defer failPuts(false)
		if _, err := send(cmid); err == nil {
			t.Fatal("send with a failing put succeeded")
		}
	}

	tests := []struct {
		name    string
		prepare func(cmid string) // before the send measured
		want    map[string]int
	}{
		{"first send", func(string) {}, map[string]int{"GetItem": 1, "PutItem": 2, "UpdateItem": 1}},
		{"resend soon after a failed put", func(cmid string) { failOnce(cmid); advance(2 * time.Second) },
			map[string]int{"GetItem": 3, "PutItem": 2, "UpdateItem": 1}},
		{"resend a minute after a failed put", func(cmid string) { failOnce(cmid); advance(time.Minute) },
			map[string]int{"GetItem": 3, "PutItem": 2, "UpdateItem": 2}},
		{"resend of a stored message", func(cmid string) {
			if _, err := send(cmid); err != nil {
				t.Fatal(err)
			}
			advance(time.Minute)
			// Found stored: nothing is written again (Republish is a no-op with DynamoDB's
			// own stream), so a resend costs only its reads and the reservation's put.
		}, map[string]int{"GetItem": 3, "PutItem": 1, "UpdateItem": 1}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmid := fmt.Sprint("c-", i)
			tt.prepare(cmid)
			api.counts()
			if _, err := send(cmid); err != nil {
				t.Fatal(err)
			}
			got := api.counts()
			t.Logf("%s: %v", tt.name, got)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("requests %v, want %v", got, tt.want)
			}
		})
	}
}
