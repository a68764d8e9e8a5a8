package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/schema"
)

// ConversationStore is the DynamoDB implementation of chat.ConversationStore, on the
// Conversations table (META and MEMBER items, and the byUser index). It is safe for
// concurrent use.
type ConversationStore struct {
	db            API
	conversations string
	now           func() time.Time
}

var _ chat.ConversationStore = (*ConversationStore)(nil)

// NewConversationStore returns a ConversationStore on the conversations table through db.
// The table name is required.
func NewConversationStore(db API, conversations string) (*ConversationStore, error) {
	if err := checkNew("conversation store", db, "Conversations table name", conversations); err != nil {
		return nil, err
	}
	return &ConversationStore{db: db, conversations: conversations, now: time.Now}, nil
}

// notExistsExpr is the condition `attribute_not_exists(pk)`.
func notExistsExpr() (expression.Expression, error) {
	return expression.NewBuilder().WithCondition(expression.Name(schema.AttrPK).AttributeNotExists()).Build()
}

// putNew puts item into the Conversations table unless an item with its key exists, and
// reports whether it was stored.
func (s *ConversationStore) putNew(ctx context.Context, item any) (bool, error) {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return false, fmt.Errorf("marshal: %w", err)
	}
	expr, err := notExistsExpr()
	if err != nil {
		return false, fmt.Errorf("build expression: %w", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.conversations),
		Item:                     av,
		ConditionExpression:      expr.Condition(),
		ExpressionAttributeNames: expr.Names(),
	})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// dedupeMembers checks that every membership belongs to conversationID and drops repeated
// users, keeping the first.
func dedupeMembers(conversationID string, members []chat.Membership) ([]chat.Membership, error) {
	seen := make(map[string]bool, len(members))
	out := make([]chat.Membership, 0, len(members))
	for _, m := range members {
		if m.ConversationID != conversationID {
			return nil, fmt.Errorf("dynamo: membership of %q in %q given for conversation %q", m.UserID, m.ConversationID, conversationID)
		}
		if m.UserID == "" {
			return nil, fmt.Errorf("dynamo: membership in %q with an empty user id", conversationID)
		}
		if !seen[m.UserID] {
			seen[m.UserID] = true
			out = append(out, m)
		}
	}
	return out, nil
}

// CreateConversation implements chat.ConversationStore: conditional puts of the member
// items that do not exist, then a conditional put of the META item, whose memberCount is
// the number of distinct members given.
func (s *ConversationStore) CreateConversation(ctx context.Context, c chat.Conversation, members []chat.Membership) error {
	if err := required("create conversation", "conversation id", c.ConversationID, "kind", c.Kind); err != nil {
		return err
	}
	members, err := dedupeMembers(c.ConversationID, members)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(putConcurrency)
	for _, m := range members {
		g.Go(func() error {
			if _, err := s.putNew(gctx, toMemberItem(m)); err != nil {
				return fmt.Errorf("create conversation %s: put member %s: %w", c.ConversationID, m.UserID, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	meta := metaItem{
		PK:          convPK(c.ConversationID),
		SK:          metaSK,
		Kind:        c.Kind,
		Name:        c.Name,
		CreatedBy:   c.CreatedBy,
		CreatedAt:   c.CreatedAt,
		MemberCount: len(members),
	}
	if c.LastMessage != nil {
		lm := toMessageItem(*c.LastMessage)
		meta.LastMessage = &lm
	}
	stored, err := s.putNew(ctx, meta)
	if err != nil {
		return fmt.Errorf("create conversation %s: put meta: %w", c.ConversationID, err)
	}
	if !stored {
		return fmt.Errorf("create conversation %s: %w", c.ConversationID, chat.ErrExists)
	}
	return nil
}

// GetConversation implements chat.ConversationStore with a consistent read.
func (s *ConversationStore) GetConversation(ctx context.Context, conversationID string) (chat.Conversation, error) {
	meta, err := s.getMeta(ctx, conversationID)
	if err != nil {
		return chat.Conversation{}, fmt.Errorf("get conversation %s: %w", conversationID, err)
	}
	return meta.conversation(), nil
}

func (s *ConversationStore) getMeta(ctx context.Context, conversationID string) (metaItem, error) {
	if conversationID == "" {
		return metaItem{}, errors.New("dynamo: conversation id is required")
	}
	return getItem[metaItem](ctx, s.db, s.conversations, key(convPK(conversationID), metaSK))
}

// GetConversations implements chat.ConversationStore with BatchGetItem.
func (s *ConversationStore) GetConversations(ctx context.Context, ids []string) ([]chat.Conversation, error) {
	seen := make(map[string]bool, len(ids))
	var keys []map[string]types.AttributeValue
	for _, id := range ids {
		if id == "" {
			return nil, errors.New("dynamo: get conversations: empty conversation id")
		}
		if !seen[id] {
			seen[id] = true
			keys = append(keys, key(convPK(id), metaSK))
		}
	}
	items, err := batchGet(ctx, s.db, s.conversations, keys, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("get %d conversations: %w", len(keys), err)
	}
	convs := make([]chat.Conversation, 0, len(items))
	for _, item := range items {
		var meta metaItem
		if err := attributevalue.UnmarshalMap(item, &meta); err != nil {
			return nil, fmt.Errorf("get conversations: unmarshal: %w", err)
		}
		convs = append(convs, meta.conversation())
	}
	return convs, nil
}

// Member implements chat.ConversationStore with a consistent read.
func (s *ConversationStore) Member(ctx context.Context, conversationID, userID string) (chat.Membership, error) {
	if err := required("member", "conversation id", conversationID, "user id", userID); err != nil {
		return chat.Membership{}, err
	}
	it, err := getItem[memberItem](ctx, s.db, s.conversations, key(convPK(conversationID), memberSK(userID)))
	if err != nil {
		return chat.Membership{}, fmt.Errorf("member %s of %s: %w", userID, conversationID, err)
	}
	return it.membership(), nil
}

// Members implements chat.ConversationStore: a consistent Query of the MEMBER# items.
func (s *ConversationStore) Members(ctx context.Context, conversationID string) ([]chat.Membership, error) {
	if err := required("members", "conversation id", conversationID); err != nil {
		return nil, err
	}
	kc := expression.Key(schema.AttrPK).Equal(expression.Value(convPK(conversationID))).
		And(expression.Key(schema.AttrSK).BeginsWith(memberPrefix))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return nil, fmt.Errorf("members of %s: build expression: %w", conversationID, err)
	}
	ms, err := s.queryMembers(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.conversations),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("members of %s: %w", conversationID, err)
	}
	return ms, nil
}

// UserConversations implements chat.ConversationStore: a Query of the byUser index
// (eventually consistent, as every GSI read is).
func (s *ConversationStore) UserConversations(ctx context.Context, userID string) ([]chat.Membership, error) {
	if err := required("user conversations", "user id", userID); err != nil {
		return nil, err
	}
	kc := expression.Key(schema.AttrUserID).Equal(expression.Value(userID))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return nil, fmt.Errorf("conversations of %s: build expression: %w", userID, err)
	}
	ms, err := s.queryMembers(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.conversations),
		IndexName:                 aws.String(schema.IndexByUser),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	if err != nil {
		return nil, fmt.Errorf("conversations of %s: %w", userID, err)
	}
	return ms, nil
}

func (s *ConversationStore) queryMembers(ctx context.Context, in *dynamodb.QueryInput) ([]chat.Membership, error) {
	var ms []chat.Membership
	p := dynamodb.NewQueryPaginator(s.db, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query: %w", err)
		}
		var its []memberItem
		if err := attributevalue.UnmarshalListOfMaps(out.Items, &its); err != nil {
			return nil, fmt.Errorf("unmarshal: %w", err)
		}
		for _, it := range its {
			ms = append(ms, it.membership())
		}
	}
	return ms, nil
}

// addCount adds delta to the conversation's memberCount. When max >= 0 the update is
// conditional on the conversation existing and the new count not exceeding max; a failed
// condition returns chat.ErrNotFound or chat.ErrLimit.
func (s *ConversationStore) addCount(ctx context.Context, conversationID string, delta, max int) error {
	cond := expression.Name(schema.AttrPK).AttributeExists()
	if max >= 0 {
		cond = cond.And(expression.Name(attrMemberCount).LessThanEqual(expression.Value(max - delta)))
	}
	upd := expression.Add(expression.Name(attrMemberCount), expression.Value(delta))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return fmt.Errorf("build expression: %w", err)
	}
	_, err = s.db.UpdateItem(ctx, updateInput(s.conversations, key(convPK(conversationID), metaSK), expr))
	if err == nil {
		return nil
	}
	if !isConditionFailed(err) {
		return fmt.Errorf("update member count by %d: %w", delta, err)
	}
	if max < 0 {
		return chat.ErrNotFound
	}
	if _, err := s.getMeta(ctx, conversationID); err != nil {
		return err // chat.ErrNotFound, or a read failure
	}
	return chat.ErrLimit
}

// putConcurrency bounds the parallel member puts of one create or add.
const putConcurrency = 16

// AddMembers implements chat.ConversationStore without a transaction. It reads which of the
// members exist, reserves room for the others with one conditional ADD on memberCount
// (`memberCount <= max-n`), then puts each member item conditionally; a put that finds its
// item already there (a concurrent add) gives its unit of count back. The count never
// exceeds max, and is exact once every AddMembers call has returned.
func (s *ConversationStore) AddMembers(ctx context.Context, conversationID string, members []chat.Membership, max int) ([]chat.Membership, error) {
	if err := required("add members", "conversation id", conversationID); err != nil {
		return nil, err
	}
	members, err := dedupeMembers(conversationID, members)
	if err != nil {
		return nil, err
	}
	pk := convPK(conversationID)
	keys := make([]map[string]types.AttributeValue, len(members))
	for i, m := range members {
		keys[i] = key(pk, memberSK(m.UserID))
	}
	proj, err := expression.NewBuilder().WithProjection(expression.NamesList(expression.Name(schema.AttrUserID))).Build()
	if err != nil {
		return nil, fmt.Errorf("add members to %s: build expression: %w", conversationID, err)
	}
	existing, err := batchGet(ctx, s.db, s.conversations, keys, proj.Projection(), proj.Names())
	if err != nil {
		return nil, fmt.Errorf("add members to %s: read members: %w", conversationID, err)
	}
	isMember := make(map[string]bool, len(existing))
	for _, item := range existing {
		var it memberItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return nil, fmt.Errorf("add members to %s: unmarshal: %w", conversationID, err)
		}
		isMember[it.UserID] = true
	}
	var todo []chat.Membership
	for _, m := range members {
		if !isMember[m.UserID] {
			todo = append(todo, m)
		}
	}
	if len(todo) == 0 {
		if _, err := s.getMeta(ctx, conversationID); err != nil {
			return nil, fmt.Errorf("add members to %s: %w", conversationID, err)
		}
		return nil, nil
	}
	if max < len(todo) {
		return nil, fmt.Errorf("add %d members to %s (max %d): %w", len(todo), conversationID, max, chat.ErrLimit)
	}
	if err := s.addCount(ctx, conversationID, len(todo), max); err != nil {
		return nil, fmt.Errorf("add %d members to %s (max %d): %w", len(todo), conversationID, max, err)
	}
	stored := make([]bool, len(todo))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(putConcurrency)
	for i, m := range todo {
		g.Go(func() error {
			ok, err := s.putNew(gctx, toMemberItem(m))
			if err != nil {
				return fmt.Errorf("add member %s to %s: %w", m.UserID, conversationID, err)
			}
			stored[i] = ok
			return nil
		})
	}
	putErr := g.Wait()
	var added []chat.Membership
	for i, m := range todo {
		if stored[i] {
			added = append(added, m)
		}
	}
	if putErr != nil {
		// Give back the room reserved for every member not stored.
		if cerr := s.addCount(ctx, conversationID, -(len(todo) - len(added)), -1); cerr != nil {
			putErr = errors.Join(putErr, fmt.Errorf("give back member count: %w", cerr))
		}
		return added, putErr
	}
	if extra := len(todo) - len(added); extra > 0 {
		if err := s.addCount(ctx, conversationID, -extra, -1); err != nil {
			return added, fmt.Errorf("add members to %s: give back member count %d: %w", conversationID, extra, err)
		}
	}
	return added, nil
}

// SetMuted implements chat.ConversationStore: an update of the member item on the
// condition that it exists (0 removes mutedUntil).
func (s *ConversationStore) SetMuted(ctx context.Context, conversationID, userID string, until int64) error {
	if err := required("set muted", "conversation id", conversationID, "user id", userID); err != nil {
		return err
	}
	upd := expression.Remove(expression.Name(attrMutedUntil))
	if until != 0 {
		upd = expression.Set(expression.Name(attrMutedUntil), expression.Value(until))
	}
	expr, err := expression.NewBuilder().WithCondition(expression.Name(schema.AttrPK).AttributeExists()).WithUpdate(upd).Build()
	if err != nil {
		return fmt.Errorf("set muted of %s in %s: build expression: %w", userID, conversationID, err)
	}
	_, err = s.db.UpdateItem(ctx, updateInput(s.conversations, key(convPK(conversationID), memberSK(userID)), expr))
	if isConditionFailed(err) {
		return fmt.Errorf("set muted of %s in %s: %w", userID, conversationID, chat.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("set muted of %s in %s: %w", userID, conversationID, err)
	}
	return nil
}

// attrMutedUntil is a member item's mute (chat.Membership.MutedUntil).
const attrMutedUntil = "mutedUntil"

// RemoveMember implements chat.ConversationStore: a delete that returns the old item, and
// a decrement of memberCount only when an item was deleted, so concurrent removals of the
// same member decrement once.
func (s *ConversationStore) RemoveMember(ctx context.Context, conversationID, userID string) error {
	if err := required("remove member", "conversation id", conversationID, "user id", userID); err != nil {
		return err
	}
	out, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:    aws.String(s.conversations),
		Key:          key(convPK(conversationID), memberSK(userID)),
		ReturnValues: types.ReturnValueAllOld,
	})
	if err != nil {
		return fmt.Errorf("remove member %s from %s: %w", userID, conversationID, err)
	}
	if len(out.Attributes) == 0 {
		return nil
	}
	if err := s.addCount(ctx, conversationID, -1, -1); err != nil && !errors.Is(err, chat.ErrNotFound) {
		return fmt.Errorf("remove member %s from %s: %w", userID, conversationID, err)
	}
	return nil
}

// SetLastMessage implements chat.ConversationStore: a conditional update of the META item
// (`attribute_not_exists(lastMessage) OR lastMessage.messageId < :id`). An older message,
// or a conversation that does not exist, changes nothing and is not an error.
func (s *ConversationStore) SetLastMessage(ctx context.Context, m chat.Message) error {
	if err := required("set last message", "conversation id", m.ConversationID, "message id", m.MessageID); err != nil {
		return err
	}
	m.Inline = false // a delivery hint, not part of the conversation's last message
	lm, err := attributevalue.Marshal(toMessageItem(m))
	if err != nil {
		return fmt.Errorf("set last message of %s: marshal: %w", m.ConversationID, err)
	}
	cond := expression.Name(schema.AttrPK).AttributeExists().And(expression.Or(
		expression.Name(attrLastMessage).AttributeNotExists(),
		expression.Name(attrLastMessage+"."+schema.AttrMessageID).LessThanEqual(expression.Value(m.MessageID)),
	))
	upd := expression.Set(expression.Name(attrLastMessage), expression.Value(lm))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return fmt.Errorf("set last message of %s: build expression: %w", m.ConversationID, err)
	}
	_, err = s.db.UpdateItem(ctx, updateInput(s.conversations, key(convPK(m.ConversationID), metaSK), expr))
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("set last message of %s to %s: %w", m.ConversationID, m.MessageID, err)
	}
	return nil
}

// MarkInline implements chat.ConversationStore: a small item (pk CONV#id, sk
// INLINE#messageId) in the Conversations table, which TTL collects after
// chat.InlineMarkTTL. One write unit; the table has no stream, so the mark costs nothing
// downstream.
func (s *ConversationStore) MarkInline(ctx context.Context, ref chat.MessageRef) error {
	if err := required("mark inline", "conversation id", ref.ConversationID, "message id", ref.MessageID); err != nil {
		return err
	}
	item := key(convPK(ref.ConversationID), inlineSK(ref.MessageID))
	exp, err := attributevalue.Marshal(s.now().Add(chat.InlineMarkTTL).Unix())
	if err != nil {
		return fmt.Errorf("mark inline %s/%s: marshal expiry: %w", ref.ConversationID, ref.MessageID, err)
	}
	item[schema.AttrExpiresAt] = exp
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.conversations), Item: item}); err != nil {
		return fmt.Errorf("mark inline %s/%s: %w", ref.ConversationID, ref.MessageID, err)
	}
	return nil
}

// InlineMarked implements chat.ConversationStore with consistent BatchGetItem reads of
// the keys only (one request per 100 refs; a mark is under 1 KB, so each costs one read
// unit). A mark whose TTL passed counts as absent.
func (s *ConversationStore) InlineMarked(ctx context.Context, refs []chat.MessageRef) (map[chat.MessageRef]bool, error) {
	seen := make(map[chat.MessageRef]bool, len(refs))
	keys := make([]map[string]types.AttributeValue, 0, len(refs))
	for _, r := range refs {
		if err := required("inline marks", "conversation id", r.ConversationID, "message id", r.MessageID); err != nil {
			return nil, err
		}
		if !seen[r] {
			seen[r] = true
			keys = append(keys, key(convPK(r.ConversationID), inlineSK(r.MessageID)))
		}
	}
	marked := map[chat.MessageRef]bool{}
	if len(keys) == 0 {
		return marked, nil
	}
	items, err := batchGet(ctx, s.db, s.conversations, keys, aws.String("#pk, #sk, #exp"),
		map[string]string{"#pk": schema.AttrPK, "#sk": schema.AttrSK, "#exp": schema.AttrExpiresAt})
	if err != nil {
		return nil, fmt.Errorf("read %d inline marks: %w", len(keys), err)
	}
	now := s.now().Unix()
	for _, it := range items {
		var m struct {
			PK        string `dynamodbav:"pk"`
			SK        string `dynamodbav:"sk"`
			ExpiresAt int64  `dynamodbav:"expiresAt"`
		}
		if err := attributevalue.UnmarshalMap(it, &m); err != nil {
			return nil, fmt.Errorf("read inline marks: unmarshal: %w", err)
		}
		if m.ExpiresAt != 0 && m.ExpiresAt <= now {
			continue
		}
		if strings.HasPrefix(m.PK, convPrefix) && strings.HasPrefix(m.SK, inlinePrefix) {
			marked[chat.MessageRef{ConversationID: m.PK[len(convPrefix):], MessageID: m.SK[len(inlinePrefix):]}] = true
		}
	}
	return marked, nil
}
