package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/schema"
)

// OutboxTTL is how long an outbox item lives: long enough for the stream to carry it
// (DynamoDB keeps stream records for 24 hours), then TTL collects it.
const OutboxTTL = 48 * time.Hour

// Outbox writes the items whose stream drives fan-out when messages live in Amazon
// Keyspaces, which has no stream of its own (DESIGN.md §5). An item carries the same
// attributes as a Messages item, so the one fan-out handler serves both tables.
type Outbox struct {
	db    API
	table string
	now   func() time.Time
}

// NewOutbox returns an Outbox writing to table.
func NewOutbox(db API, table string) (*Outbox, error) {
	if db == nil || table == "" {
		return nil, errors.New("dynamo: outbox needs a client and a table name")
	}
	return &Outbox{db: db, table: table, now: time.Now}, nil
}

// Put writes m to the outbox. Writing the same message again replaces the item with the
// same attributes: the stream then carries a MODIFY, which the fan-out mapping filters out,
// so a retried send does not fan out twice.
func (o *Outbox) Put(ctx context.Context, m chat.Message) error {
	item, err := attributevalue.MarshalMap(toMessageItem(m))
	if err != nil {
		return fmt.Errorf("outbox %s/%s: marshal: %w", m.ConversationID, m.MessageID, err)
	}
	exp, err := attributevalue.Marshal(o.now().Add(OutboxTTL).Unix())
	if err != nil {
		return fmt.Errorf("outbox %s/%s: marshal expiry: %w", m.ConversationID, m.MessageID, err)
	}
	item[schema.AttrExpiresAt] = exp
	if _, err := o.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(o.table), Item: item}); err != nil {
		return fmt.Errorf("outbox %s/%s: %w", m.ConversationID, m.MessageID, err)
	}
	return nil
}

// OutboxStore is a MessageStore (Keyspaces) whose PutMessage also writes the outbox item
// after the message is stored, so that the stored message is fanned out.
type OutboxStore struct {
	chat.MessageStore
	Outbox *Outbox
}

// PutMessage stores m in the wrapped store, then in the outbox. If the outbox write fails
// the send fails and the client's retry (same clientMsgId) writes both again.
func (s OutboxStore) PutMessage(ctx context.Context, m chat.Message) error {
	if err := s.MessageStore.PutMessage(ctx, m); err != nil {
		return err
	}
	return s.Outbox.Put(ctx, m)
}

// Republish writes m's outbox item again (chat.MessageStore.Republish): the message is
// stored in the wrapped store, and its outbox write may be what failed.
func (s OutboxStore) Republish(ctx context.Context, m chat.Message) error {
	return s.Outbox.Put(ctx, m)
}
