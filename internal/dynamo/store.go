// Package dynamo implements Parley's stores on Amazon DynamoDB, one type per interface of
// internal/chat, over the tables declared in internal/schema:
//
//	MessageStore       chat.MessageStore       Messages, Conversations (reservations and cursors)
//	ConversationStore  chat.ConversationStore  Conversations
//	ConnectionStore    chat.ConnectionStore    Connections
//
// Each has a constructor that takes only the tables it touches, so a deployment whose
// messages live elsewhere (Keyspaces mode) needs no Messages table. Store bundles the three
// for callers that use DynamoDB for everything; New builds it from Tables.
//
// Layout:
//
//	Messages       conversationId / messageId        senderId, body, createdAt, clientMsgId
//	Conversations  CONV#id / META                    kind, name, createdBy, createdAt, memberCount, lastMessage
//	               CONV#id / MEMBER#user             userId (byUser index), kind, peer, joinedAt, deliveredUpTo, readUpTo
//	               CONV#id / CLIENTMSG#sender#cmid   messageId, createdAt (send's idempotency reservation)
//	Connections    userId / connectionId             connectedAt, expiresAt (TTL, Unix seconds)
//	               userId / #presence                lastSeen (ms), offline, expiresAt (only while online)
//
// The stores use no transactions (dynalite, the local engine, has none): every multi-item
// change is a sequence of conditional single-item writes that is safe under concurrency
// and under retries.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/schema"
)

// API is the part of the DynamoDB client the stores use; *dynamodb.Client implements it.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// Tables holds the physical table names a Store works on.
type Tables struct {
	Messages      string
	Conversations string
	Connections   string
}

// TableNames returns the names of tables created with a name prefix: TableNames("parley-")
// gives Messages "parley-Messages" and so on.
func TableNames(prefix string) Tables {
	return Tables{
		Messages:      prefix + schema.MessagesID,
		Conversations: prefix + schema.ConversationsID,
		Connections:   prefix + schema.ConnectionsID,
	}
}

// PrefixedNames maps the ID of each table to prefix+ID, the form CreateTables takes.
func PrefixedNames(prefix string, tables []schema.Table) map[string]string {
	m := make(map[string]string, len(tables))
	for _, t := range tables {
		m[t.ID] = prefix + t.ID
	}
	return m
}

// Store is the DynamoDB implementation of all three chat stores: the embedded
// MessageStore, ConversationStore and ConnectionStore, sharing one client. It is safe for
// concurrent use.
type Store struct {
	*MessageStore
	*ConversationStore
	*ConnectionStore
}

var (
	_ chat.MessageStore      = (*Store)(nil)
	_ chat.ConversationStore = (*Store)(nil)
	_ chat.ConnectionStore   = (*Store)(nil)
)

// New returns a store that works on the given tables through db. Every table name is
// required.
func New(db API, tables Tables) (*Store, error) {
	m, err := NewMessageStore(db, tables.Messages, tables.Conversations)
	if err != nil {
		return nil, err
	}
	c, err := NewConversationStore(db, tables.Conversations)
	if err != nil {
		return nil, err
	}
	n, err := NewConnectionStore(db, tables.Connections)
	if err != nil {
		return nil, err
	}
	return &Store{MessageStore: m, ConversationStore: c, ConnectionStore: n}, nil
}

// checkNew validates the arguments of a store constructor: a client, and a name for every
// table among pairs of (what, name), such as ("Messages table name", messages).
func checkNew(store string, db API, tables ...string) error {
	if db == nil {
		return fmt.Errorf("dynamo: new %s: nil client", store)
	}
	return required("new "+store, tables...)
}

// isConditionFailed reports whether err is DynamoDB's ConditionalCheckFailedException.
func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// required returns an error naming the first empty value among pairs of (name, value).
func required(op string, pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return fmt.Errorf("dynamo: %s: %s is required", op, pairs[i])
		}
	}
	return nil
}

// batchGet reads keys from table through db with BatchGetItem (consistent reads), 100 keys
// a call, retrying unprocessed keys with a short backoff. Duplicate keys must be removed by
// the caller.
func batchGet(ctx context.Context, db API, table string, keys []map[string]types.AttributeValue, projection *string, names map[string]string) ([]map[string]types.AttributeValue, error) {
	var items []map[string]types.AttributeValue
	for start := 0; start < len(keys); start += 100 {
		end := min(start+100, len(keys))
		pending := map[string]types.KeysAndAttributes{table: {
			Keys:                     keys[start:end],
			ConsistentRead:           aws.Bool(true),
			ProjectionExpression:     projection,
			ExpressionAttributeNames: names,
		}}
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt > 0 {
				if attempt > 8 {
					return nil, fmt.Errorf("batch get %s: keys still unprocessed after %d attempts", table, attempt)
				}
				if err := sleep(ctx, time.Duration(1<<attempt)*10*time.Millisecond); err != nil {
					return nil, fmt.Errorf("batch get %s: %w", table, err)
				}
			}
			out, err := db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			if err != nil {
				return nil, fmt.Errorf("batch get %s: %w", table, err)
			}
			items = append(items, out.Responses[table]...)
			pending = out.UnprocessedKeys
		}
	}
	return items, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// updateInput is an UpdateItem of table's item k with expr's update, condition (none when
// expr has none), names and values.
func updateInput(table string, k map[string]types.AttributeValue, expr expression.Expression) *dynamodb.UpdateItemInput {
	return &dynamodb.UpdateItemInput{
		TableName:                 aws.String(table),
		Key:                       k,
		ConditionExpression:       expr.Condition(),
		UpdateExpression:          expr.Update(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}
}

// getItem reads one item from table through db with a consistent read and unmarshals it
// into a T. A missing item is chat.ErrNotFound.
func getItem[T any](ctx context.Context, db API, table string, k map[string]types.AttributeValue) (T, error) {
	var it T
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            k,
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return it, err
	}
	if out.Item == nil {
		return it, chat.ErrNotFound
	}
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return it, fmt.Errorf("unmarshal: %w", err)
	}
	return it, nil
}
