package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/schema"
)

// PresenceWriteInterval is how recent recorded activity must be for TouchPresence to skip
// its write. It is well below chat.PresenceWindowMillis, so a skipped write never lets an
// active user lapse.
const PresenceWriteInterval = 20_000 // milliseconds

// ConnectionStore is the DynamoDB implementation of chat.ConnectionStore, on the
// Connections table (connection items and a presence item per user). It is safe for
// concurrent use.
type ConnectionStore struct {
	db          API
	connections string
}

var _ chat.ConnectionStore = (*ConnectionStore)(nil)

// NewConnectionStore returns a ConnectionStore on the connections table through db. The
// table name is required.
func NewConnectionStore(db API, connections string) (*ConnectionStore, error) {
	if err := checkNew("connection store", db, "Connections table name", connections); err != nil {
		return nil, err
	}
	return &ConnectionStore{db: db, connections: connections}, nil
}

// PutConnection implements chat.ConnectionStore. ExpiresAt (Unix seconds) is required: it
// is the TTL attribute.
func (s *ConnectionStore) PutConnection(ctx context.Context, c chat.Connection) error {
	if err := required("put connection", "user id", c.UserID, "connection id", c.ConnectionID); err != nil {
		return err
	}
	if strings.HasPrefix(c.ConnectionID, "#") {
		return fmt.Errorf("dynamo: put connection: connection id %q may not start with '#'", c.ConnectionID)
	}
	if c.ExpiresAt <= 0 {
		return fmt.Errorf("dynamo: put connection %s: ExpiresAt (Unix seconds) is required", c.ConnectionID)
	}
	av, err := attributevalue.MarshalMap(connectionItem(c))
	if err != nil {
		return fmt.Errorf("put connection %s: marshal: %w", c.ConnectionID, err)
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.connections), Item: av}); err != nil {
		return fmt.Errorf("put connection %s of %s: %w", c.ConnectionID, c.UserID, err)
	}
	return nil
}

// DeleteConnection implements chat.ConnectionStore.
func (s *ConnectionStore) DeleteConnection(ctx context.Context, userID, connectionID string) error {
	if err := required("delete connection", "user id", userID, "connection id", connectionID); err != nil {
		return err
	}
	if strings.HasPrefix(connectionID, "#") {
		return fmt.Errorf("dynamo: delete connection: connection id %q may not start with '#'", connectionID)
	}
	if _, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.connections),
		Key:       key(userID, connectionID),
	}); err != nil {
		return fmt.Errorf("delete connection %s of %s: %w", connectionID, userID, err)
	}
	return nil
}

// Connections implements chat.ConnectionStore: a consistent Query of the user's partition.
// The presence item and connections whose expiresAt has passed are left out.
func (s *ConnectionStore) Connections(ctx context.Context, userID string, now int64) ([]chat.Connection, error) {
	if err := required("connections", "user id", userID); err != nil {
		return nil, err
	}
	kc := expression.Key(schema.AttrPK).Equal(expression.Value(userID))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return nil, fmt.Errorf("connections of %s: build expression: %w", userID, err)
	}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.connections),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ConsistentRead:            aws.Bool(true),
	})
	var conns []chat.Connection
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("connections of %s: %w", userID, err)
		}
		for _, item := range out.Items {
			if sk, ok := item[schema.AttrSK].(*types.AttributeValueMemberS); ok && sk.Value == presenceSK {
				continue
			}
			var it connectionItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return nil, fmt.Errorf("connections of %s: unmarshal: %w", userID, err)
			}
			if it.ExpiresAt*1000 <= now {
				continue // expired: gone, whether or not TTL has deleted it yet
			}
			conns = append(conns, chat.Connection(it))
		}
	}
	return conns, nil
}

// presenceExpiresAt is the TTL (Unix seconds, rounded up) of a presence last active at
// lastSeen (Unix milliseconds).
func presenceExpiresAt(lastSeen int64) int64 {
	return (lastSeen + chat.PresenceWindowMillis + 999) / 1000
}

// TouchPresence implements chat.ConnectionStore with one conditional UpdateItem. The write
// happens when there is no presence item, it is offline, or its lastSeen is older than
// PresenceWriteInterval; otherwise the user is online already and nothing is written.
// The old image (ReturnValues ALL_OLD) tells whether the user came online.
func (s *ConnectionStore) TouchPresence(ctx context.Context, userID string, now int64) (bool, error) {
	if err := required("touch presence", "user id", userID); err != nil {
		return false, err
	}
	cond := expression.Or(
		expression.Name(schema.AttrPK).AttributeNotExists(),
		expression.Name(attrOffline).Equal(expression.Value(true)),
		expression.Name(attrLastSeen).LessThan(expression.Value(now-PresenceWriteInterval)),
	)
	upd := expression.Set(expression.Name(attrLastSeen), expression.Value(now)).
		Set(expression.Name(attrOffline), expression.Value(false)).
		Set(expression.Name(schema.AttrExpiresAt), expression.Value(presenceExpiresAt(now)))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return false, fmt.Errorf("touch presence of %s: build expression: %w", userID, err)
	}
	in := updateInput(s.connections, key(userID, presenceSK), expr)
	in.ReturnValues = types.ReturnValueAllOld
	out, err := s.db.UpdateItem(ctx, in)
	if isConditionFailed(err) {
		return false, nil // recently active and online: nothing to write
	}
	if err != nil {
		return false, fmt.Errorf("touch presence of %s: %w", userID, err)
	}
	old, err := decodePresence(out.Attributes)
	if err != nil {
		return false, fmt.Errorf("touch presence of %s: %w", userID, err)
	}
	return !old.online(now), nil
}

// SetOffline implements chat.ConnectionStore: an update that marks the presence offline,
// sets lastSeen and removes expiresAt (an offline presence is kept for its lastSeen, and
// TTL will not delete it, so no lapse follows).
func (s *ConnectionStore) SetOffline(ctx context.Context, userID string, now int64) (bool, error) {
	if err := required("set offline", "user id", userID); err != nil {
		return false, err
	}
	upd := expression.Set(expression.Name(attrLastSeen), expression.Value(now)).
		Set(expression.Name(attrOffline), expression.Value(true)).
		Remove(expression.Name(schema.AttrExpiresAt))
	expr, err := expression.NewBuilder().WithUpdate(upd).Build()
	if err != nil {
		return false, fmt.Errorf("set %s offline: build expression: %w", userID, err)
	}
	in := updateInput(s.connections, key(userID, presenceSK), expr)
	in.ReturnValues = types.ReturnValueAllOld
	out, err := s.db.UpdateItem(ctx, in)
	if err != nil {
		return false, fmt.Errorf("set %s offline: %w", userID, err)
	}
	old, err := decodePresence(out.Attributes)
	if err != nil {
		return false, fmt.Errorf("set %s offline: %w", userID, err)
	}
	// Online, or lapsed without the lapse being recorded (and so without an offline
	// event yet): either way the caller has an offline state to announce.
	return old != nil && !old.Offline, nil
}

// RecordLapse implements chat.ConnectionStore: a conditional put of an offline presence
// (`attribute_not_exists(pk)`), so a presence written since the TTL deletion wins.
func (s *ConnectionStore) RecordLapse(ctx context.Context, userID string, lastSeen int64) error {
	if err := required("record lapse", "user id", userID); err != nil {
		return err
	}
	av, err := attributevalue.MarshalMap(presenceItem{UserID: userID, SK: presenceSK, LastSeen: lastSeen, Offline: true})
	if err != nil {
		return fmt.Errorf("record lapse of %s: marshal: %w", userID, err)
	}
	expr, err := notExistsExpr()
	if err != nil {
		return fmt.Errorf("record lapse of %s: build expression: %w", userID, err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.connections),
		Item:                     av,
		ConditionExpression:      expr.Condition(),
		ExpressionAttributeNames: expr.Names(),
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("record lapse of %s: %w", userID, err)
	}
	return nil
}

// Presence implements chat.ConnectionStore with a consistent BatchGetItem of the presence
// items.
func (s *ConnectionStore) Presence(ctx context.Context, userIDs []string, now int64) ([]chat.Presence, error) {
	seen := make(map[string]bool, len(userIDs))
	var keys []map[string]types.AttributeValue
	for _, u := range userIDs {
		if u == "" {
			return nil, errors.New("dynamo: presence: empty user id")
		}
		if !seen[u] {
			seen[u] = true
			keys = append(keys, key(u, presenceSK))
		}
	}
	items, err := batchGet(ctx, s.db, s.connections, keys, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("presence of %d users: %w", len(keys), err)
	}
	byUser := make(map[string]*presenceItem, len(items))
	for _, item := range items {
		p, err := decodePresence(item)
		if err != nil {
			return nil, fmt.Errorf("presence: %w", err)
		}
		byUser[p.UserID] = p
	}
	ps := make([]chat.Presence, len(userIDs))
	for i, u := range userIDs {
		ps[i] = chat.Presence{UserID: u}
		if p := byUser[u]; p != nil {
			ps[i].Online = p.online(now)
			ps[i].LastSeen = p.LastSeen
		}
	}
	return ps, nil
}

// decodePresence decodes a presence item; an empty item gives nil.
func decodePresence(item map[string]types.AttributeValue) (*presenceItem, error) {
	if len(item) == 0 {
		return nil, nil
	}
	var p presenceItem
	if err := attributevalue.UnmarshalMap(item, &p); err != nil {
		return nil, fmt.Errorf("unmarshal presence: %w", err)
	}
	return &p, nil
}
