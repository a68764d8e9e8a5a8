package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/schema"
)

// MessageStore is the DynamoDB implementation of chat.MessageStore. Messages live in the
// Messages table; the idempotency reservations of send (CLIENTMSG items) and the members'
// cursors (on the MEMBER items) live in the Conversations table. It is safe for concurrent
// use.
type MessageStore struct {
	db            API
	messages      string
	conversations string
}

var _ chat.MessageStore = (*MessageStore)(nil)

// NewMessageStore returns a MessageStore on the messages and conversations tables through
// db. Both table names are required.
func NewMessageStore(db API, messages, conversations string) (*MessageStore, error) {
	if err := checkNew("message store", db, "Messages table name", messages, "Conversations table name", conversations); err != nil {
		return nil, err
	}
	return &MessageStore{db: db, messages: messages, conversations: conversations}, nil
}

// Reserve implements chat.MessageStore: a conditional put of the reservation item, and on
// conflict a consistent read of the reservation that won.
func (s *MessageStore) Reserve(ctx context.Context, r chat.Reservation) (chat.Reservation, error) {
	if err := required("reserve", "conversation id", r.ConversationID, "sender id", r.SenderID,
		"client message id", r.ClientMsgID, "message id", r.MessageID); err != nil {
		return chat.Reservation{}, err
	}
	it := reservationItem{
		PK:        convPK(r.ConversationID),
		SK:        clientMsgSK(r.SenderID, r.ClientMsgID),
		MessageID: r.MessageID,
		CreatedAt: r.CreatedAt,
	}
	av, err := attributevalue.MarshalMap(it)
	if err != nil {
		return chat.Reservation{}, fmt.Errorf("reserve %s: marshal: %w", it.SK, err)
	}
	cond := expression.Name(schema.AttrPK).AttributeNotExists()
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return chat.Reservation{}, fmt.Errorf("reserve %s: build expression: %w", it.SK, err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.conversations),
		Item:                     av,
		ConditionExpression:      expr.Condition(),
		ExpressionAttributeNames: expr.Names(),
	})
	if err == nil {
		return r, nil
	}
	if !isConditionFailed(err) {
		return chat.Reservation{}, fmt.Errorf("reserve %s in %s: %w", it.SK, r.ConversationID, err)
	}
	old, err := getItem[reservationItem](ctx, s.db, s.conversations, key(it.PK, it.SK))
	if err != nil {
		return chat.Reservation{}, fmt.Errorf("reserve %s in %s: read existing reservation: %w", it.SK, r.ConversationID, err)
	}
	r.MessageID, r.CreatedAt = old.MessageID, old.CreatedAt
	return r, nil
}

// attrCreatedAt is the creation time of a reservation (and of a message) in ms.
const attrCreatedAt = "createdAt"

// RenewReservation implements chat.MessageStore: an update of the reservation item on
// the condition `messageId = :old` (false, so nothing is written, when the item does not
// exist), and when the condition fails a consistent read of the reservation in force. A
// retried update whose first try applied (the SDK retries a lost response) fails the
// condition and then reads r itself.
func (s *MessageStore) RenewReservation(ctx context.Context, r chat.Reservation, oldMessageID string) (chat.Reservation, error) {
	if err := required("renew reservation", "conversation id", r.ConversationID, "sender id", r.SenderID,
		"client message id", r.ClientMsgID, "message id", r.MessageID, "old message id", oldMessageID); err != nil {
		return chat.Reservation{}, err
	}
	pk, sk := convPK(r.ConversationID), clientMsgSK(r.SenderID, r.ClientMsgID)
	cond := expression.Name(schema.AttrMessageID).Equal(expression.Value(oldMessageID))
	upd := expression.Set(expression.Name(schema.AttrMessageID), expression.Value(r.MessageID)).
		Set(expression.Name(attrCreatedAt), expression.Value(r.CreatedAt))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return chat.Reservation{}, fmt.Errorf("renew %s in %s: build expression: %w", sk, r.ConversationID, err)
	}
	_, err = s.db.UpdateItem(ctx, updateInput(s.conversations, key(pk, sk), expr))
	if err == nil {
		return r, nil
	}
	if !isConditionFailed(err) {
		return chat.Reservation{}, fmt.Errorf("renew %s in %s from %s: %w", sk, r.ConversationID, oldMessageID, err)
	}
	cur, err := getItem[reservationItem](ctx, s.db, s.conversations, key(pk, sk))
	if err != nil {
		return chat.Reservation{}, fmt.Errorf("renew %s in %s: read the reservation in force: %w", sk, r.ConversationID, err)
	}
	r.MessageID, r.CreatedAt = cur.MessageID, cur.CreatedAt
	return r, nil
}

// PutMessage implements chat.MessageStore with a put on the condition that no changed
// copy is stored (`attribute_not_exists(ver) OR ver <= :ver`): the key is fixed, so storing
// the same item again overwrites it with itself, and a failed condition means a copy
// changed since is stored, which is kept.
func (s *MessageStore) PutMessage(ctx context.Context, m chat.Message) error {
	if err := required("put message", "conversation id", m.ConversationID, "message id", m.MessageID); err != nil {
		return err
	}
	av, err := attributevalue.MarshalMap(toMessageItem(m))
	if err != nil {
		return fmt.Errorf("put message %s: marshal: %w", m.MessageID, err)
	}
	cond := expression.Name(attrVersion).AttributeNotExists().Or(expression.Name(attrVersion).LessThanEqual(expression.Value(m.Version)))
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("put message %s: build expression: %w", m.MessageID, err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.messages),
		Item:                      av,
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("put message %s in %s: %w", m.MessageID, m.ConversationID, err)
	}
	return nil
}

// Republish implements chat.MessageStore: the table's own stream recorded the message
// when it was stored, so there is nothing to do.
func (s *MessageStore) Republish(context.Context, chat.Message) error { return nil }

// attrVersion is a message's change count (messageItem.Version).
const attrVersion = "ver"

// ApplyChange implements chat.MessageStore: one UpdateItem of the message's folded
// state on the condition that it is a message (no kind) at version fromVersion
// (`ver = :from`, or no ver for 0).
func (s *MessageStore) ApplyChange(ctx context.Context, m chat.Message, fromVersion int) error {
	if err := required("apply change", "conversation id", m.ConversationID, "message id", m.MessageID); err != nil {
		return err
	}
	it := toMessageItem(m)
	set := func(u expression.UpdateBuilder, name string, v any, present bool) expression.UpdateBuilder {
		if present {
			return u.Set(expression.Name(name), expression.Value(v))
		}
		return u.Remove(expression.Name(name))
	}
	upd := expression.Set(expression.Name(attrVersion), expression.Value(it.Version))
	upd = set(upd, "body", it.Body, it.Body != "")
	upd = set(upd, "editedAt", it.EditedAt, it.EditedAt != 0)
	upd = set(upd, "deleted", it.Deleted, it.Deleted)
	upd = set(upd, "reactions", it.Reactions, len(it.Reactions) > 0)
	upd = set(upd, "changes", it.Changes, len(it.Changes) > 0)
	upd = set(upd, "edits", it.EditIDs, len(it.EditIDs) > 0)
	cond := expression.Name(schema.AttrMessageID).AttributeExists().And(expression.Name(attrKind).AttributeNotExists())
	if fromVersion == 0 {
		cond = cond.And(expression.Name(attrVersion).AttributeNotExists())
	} else {
		cond = cond.And(expression.Name(attrVersion).Equal(expression.Value(fromVersion)))
	}
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return fmt.Errorf("apply change to %s: build expression: %w", m.MessageID, err)
	}
	in := updateInput(s.messages, messageKey(m.ConversationID, m.MessageID), expr)
	in.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	_, err = s.db.UpdateItem(ctx, in)
	if err == nil {
		return nil
	}
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return fmt.Errorf("apply change to %s in %s: %w", m.MessageID, m.ConversationID, err)
	}
	exists, isChange := len(ccf.Item) > 0, ccf.Item[attrKind] != nil
	if ccf.Item == nil { // an engine that does not return the item (dynalite): read it
		cur, err := getItem[messageItem](ctx, s.db, s.messages, messageKey(m.ConversationID, m.MessageID))
		if err != nil && !errors.Is(err, chat.ErrNotFound) {
			return fmt.Errorf("apply change to %s in %s: read after a failed condition: %w", m.MessageID, m.ConversationID, err)
		}
		exists, isChange = err == nil, cur.Kind != ""
	}
	if !exists || isChange {
		return fmt.Errorf("apply change to %s in %s: %w", m.MessageID, m.ConversationID, chat.ErrNotFound)
	}
	return fmt.Errorf("apply change to %s in %s: %w", m.MessageID, m.ConversationID, chat.ErrConflict)
}

// EraseBody implements chat.MessageStore: an update removing the body, on the condition
// that the item exists (so that erasing a missing item creates nothing).
func (s *MessageStore) EraseBody(ctx context.Context, conversationID, messageID string) error {
	if err := required("erase body", "conversation id", conversationID, "message id", messageID); err != nil {
		return err
	}
	expr, err := expression.NewBuilder().
		WithCondition(expression.Name(schema.AttrMessageID).AttributeExists()).
		WithUpdate(expression.Remove(expression.Name("body"))).Build()
	if err != nil {
		return fmt.Errorf("erase body of %s: build expression: %w", messageID, err)
	}
	_, err = s.db.UpdateItem(ctx, updateInput(s.messages, messageKey(conversationID, messageID), expr))
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("erase body of %s in %s: %w", messageID, conversationID, err)
	}
	return nil
}

// GetMessage implements chat.MessageStore with a consistent read.
func (s *MessageStore) GetMessage(ctx context.Context, conversationID, messageID string) (chat.Message, error) {
	if err := required("get message", "conversation id", conversationID, "message id", messageID); err != nil {
		return chat.Message{}, err
	}
	it, err := getItem[messageItem](ctx, s.db, s.messages, messageKey(conversationID, messageID))
	if err != nil {
		return chat.Message{}, fmt.Errorf("get message %s in %s: %w", messageID, conversationID, err)
	}
	return it.message(), nil
}

// Before implements chat.MessageStore: a Query on the partition, newest first.
func (s *MessageStore) Before(ctx context.Context, conversationID, before string, limit int) ([]chat.Message, bool, error) {
	kc := expression.Key(schema.AttrConversationID).Equal(expression.Value(conversationID))
	if before != "" {
		kc = kc.And(expression.Key(schema.AttrMessageID).LessThan(expression.Value(before)))
	}
	msgs, more, err := s.page(ctx, conversationID, kc, false, limit, true)
	if err != nil {
		return nil, false, fmt.Errorf("messages of %s before %q: %w", conversationID, before, err)
	}
	return msgs, more, nil
}

// After implements chat.MessageStore: a Query on the partition, oldest first.
func (s *MessageStore) After(ctx context.Context, conversationID, after string, limit int) ([]chat.Message, bool, error) {
	kc := expression.Key(schema.AttrConversationID).Equal(expression.Value(conversationID))
	if after != "" {
		kc = kc.And(expression.Key(schema.AttrMessageID).GreaterThan(expression.Value(after)))
	}
	msgs, more, err := s.page(ctx, conversationID, kc, true, limit, false)
	if err != nil {
		return nil, false, fmt.Errorf("messages of %s after %q: %w", conversationID, after, err)
	}
	return msgs, more, nil
}

// page reads up to limit timeline items (only messages, with messagesOnly), asking for
// one more to learn whether more exist. It follows LastEvaluatedKey because a Query page
// also ends at 1 MB, and, with messagesOnly, because the filter leaves out change events
// after Limit counted them. Reads are consistent: a sync right after an ack must see the
// acknowledged message.
func (s *MessageStore) page(ctx context.Context, conversationID string, kc expression.KeyConditionBuilder, forward bool, limit int, messagesOnly bool) ([]chat.Message, bool, error) {
	if conversationID == "" {
		return nil, false, fmt.Errorf("dynamo: conversation id is required")
	}
	if limit <= 0 {
		return nil, false, fmt.Errorf("dynamo: limit must be positive, got %d", limit)
	}
	b := expression.NewBuilder().WithKeyCondition(kc)
	if messagesOnly {
		b = b.WithFilter(expression.Name(attrKind).AttributeNotExists())
	}
	expr, err := b.Build()
	if err != nil {
		return nil, false, fmt.Errorf("build expression: %w", err)
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.messages),
		FilterExpression:          expr.Filter(),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ScanIndexForward:          aws.Bool(forward),
		ConsistentRead:            aws.Bool(true),
	}
	var items []map[string]types.AttributeValue
	scanned, kept := 0, 0
	for {
		need := limit + 1 - len(items)
		if kept < scanned {
			// The filter is leaving change events out: ask for as many items as the ratio
			// seen so far says hold the messages still needed (at most a page of 1000),
			// rather than paying a round trip for each few.
			need = min(need*scanned/max(kept, 1)+1, 1000)
		}
		in.Limit = aws.Int32(int32(need))
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, false, fmt.Errorf("query: %w", err)
		}
		items = append(items, out.Items...)
		scanned, kept = scanned+int(out.ScannedCount), kept+int(out.Count)
		if len(items) > limit || out.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	more := len(items) > limit
	if more {
		items = items[:limit]
	}
	var its []messageItem
	if err := attributevalue.UnmarshalListOfMaps(items, &its); err != nil {
		return nil, false, fmt.Errorf("unmarshal: %w", err)
	}
	msgs := make([]chat.Message, len(its))
	for i, it := range its {
		msgs[i] = it.message()
	}
	return msgs, more, nil
}

// CountAfter implements chat.MessageStore: a paginated Query with Select COUNT and a filter
// on the sender, stopping once max is reached.
func (s *MessageStore) CountAfter(ctx context.Context, conversationID, after, excludeSender string, max int) (int, error) {
	if err := required("count messages", "conversation id", conversationID); err != nil {
		return 0, err
	}
	if max <= 0 {
		return 0, nil
	}
	kc := expression.Key(schema.AttrConversationID).Equal(expression.Value(conversationID))
	if after != "" {
		kc = kc.And(expression.Key(schema.AttrMessageID).GreaterThan(expression.Value(after)))
	}
	b := expression.NewBuilder().WithKeyCondition(kc)
	onlyMessages := expression.Name(attrKind).AttributeNotExists()
	if excludeSender != "" {
		b = b.WithFilter(onlyMessages.And(expression.Name("senderId").NotEqual(expression.Value(excludeSender))))
	} else {
		b = b.WithFilter(onlyMessages)
	}
	expr, err := b.Build()
	if err != nil {
		return 0, fmt.Errorf("count messages of %s: build expression: %w", conversationID, err)
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.messages),
		KeyConditionExpression:    expr.KeyCondition(),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		Select:                    types.SelectCount,
		// Oldest first: the messages just after the cursor are the ones counted.
		ScanIndexForward: aws.Bool(true),
		// Limit bounds the items read per page (before the filter).
		Limit: aws.Int32(int32(min(max, 1000))),
	}
	n := 0
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return 0, fmt.Errorf("count messages of %s after %q: %w", conversationID, after, err)
		}
		n += int(out.Count)
		if n >= max {
			return max, nil
		}
		if out.LastEvaluatedKey == nil {
			return n, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// cursorAttr maps a receipt status to its attribute on the member item.
func cursorAttr(status string) (string, error) {
	switch status {
	case chat.StatusDelivered:
		return attrDeliveredUpTo, nil
	case chat.StatusRead:
		return attrReadUpTo, nil
	}
	return "", fmt.Errorf("dynamo: unknown cursor status %q (want %q or %q)", status, chat.StatusDelivered, chat.StatusRead)
}

// AdvanceCursor implements chat.MessageStore: one conditional update of the member item
// (`attribute_exists(pk) AND (attribute_not_exists(x) OR x < :new)`). The cursor lives on
// the membership, so a user who is not a member has no cursor to move: moved is false.
func (s *MessageStore) AdvanceCursor(ctx context.Context, conversationID, userID, status, upTo string) (bool, error) {
	attr, err := cursorAttr(status)
	if err != nil {
		return false, err
	}
	if err := required("advance cursor", "conversation id", conversationID, "user id", userID, "upTo", upTo); err != nil {
		return false, err
	}
	cond := expression.Name(schema.AttrPK).AttributeExists().And(
		expression.Or(
			expression.Name(attr).AttributeNotExists(),
			expression.Name(attr).LessThan(expression.Value(upTo)),
		))
	upd := expression.Set(expression.Name(attr), expression.Value(upTo))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return false, fmt.Errorf("advance %s cursor of %s in %s: build expression: %w", status, userID, conversationID, err)
	}
	_, err = s.db.UpdateItem(ctx, updateInput(s.conversations, key(convPK(conversationID), memberSK(userID)), expr))
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("advance %s cursor of %s in %s to %s: %w", status, userID, conversationID, upTo, err)
	}
	return true, nil
}

// Cursors implements chat.MessageStore with a consistent BatchGetItem of the member items.
func (s *MessageStore) Cursors(ctx context.Context, conversationID string, userIDs []string) ([]chat.Cursor, error) {
	if err := required("cursors", "conversation id", conversationID); err != nil {
		return nil, err
	}
	pk := convPK(conversationID)
	var keys []map[string]types.AttributeValue
	seen := make(map[string]bool, len(userIDs))
	for _, u := range userIDs {
		if u == "" {
			return nil, fmt.Errorf("dynamo: cursors of %s: empty user id", conversationID)
		}
		if !seen[u] {
			seen[u] = true
			keys = append(keys, key(pk, memberSK(u)))
		}
	}
	proj := expression.NamesList(expression.Name(schema.AttrUserID), expression.Name(attrDeliveredUpTo), expression.Name(attrReadUpTo))
	expr, err := expression.NewBuilder().WithProjection(proj).Build()
	if err != nil {
		return nil, fmt.Errorf("cursors of %s: build expression: %w", conversationID, err)
	}
	items, err := batchGet(ctx, s.db, s.conversations, keys, expr.Projection(), expr.Names())
	if err != nil {
		return nil, fmt.Errorf("cursors of %s: %w", conversationID, err)
	}
	byUser := make(map[string]chat.Cursor, len(items))
	for _, item := range items {
		var it memberItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return nil, fmt.Errorf("cursors of %s: unmarshal: %w", conversationID, err)
		}
		byUser[it.UserID] = chat.Cursor{UserID: it.UserID, DeliveredUpTo: it.DeliveredUpTo, ReadUpTo: it.ReadUpTo}
	}
	cursors := make([]chat.Cursor, len(userIDs))
	for i, u := range userIDs {
		c, ok := byUser[u]
		if !ok {
			c = chat.Cursor{UserID: u}
		}
		cursors[i] = c
	}
	return cursors, nil
}
