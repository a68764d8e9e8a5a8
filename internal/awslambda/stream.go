package awslambda

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"

	"github.com/aws/aws-lambda-go/events"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/schema"
	"github.com/parleychat/parley/internal/topology"
)

// StreamHandler is the fan-out function: it consumes the stream of the Messages table
// (or, with the Keyspaces store, the Outbox table) and the TTL deletions of presence
// items from the Connections table's stream.
type StreamHandler struct {
	svc *chat.Service
	log *slog.Logger
}

// NewStreamHandler returns the fan-out handler; a nil logger means slog.Default().
func NewStreamHandler(svc *chat.Service, log *slog.Logger) *StreamHandler {
	if log == nil {
		log = slog.Default()
	}
	return &StreamHandler{svc: svc, log: log}
}

// RecordConcurrency bounds how many conversations of one batch are fanned out at once.
// Records of one conversation (and presence records of one user) run one after another,
// in batch order; different ones run in parallel. A batch of a busy shard holds records
// of many conversations, and one record takes a round of reads and a round of posts
// (tens of milliseconds on AWS): one at a time, a shard would deliver a few dozen
// messages a second.
const RecordConcurrency = 16

// Handle processes the batch's records, each conversation's in order, conversations in
// parallel (RecordConcurrency). When a record fails, the rest of its conversation's
// records are not tried, and the earliest failed record of the batch and every record
// after it are reported in BatchItemFailures, so the mapping retries from there (members
// already served may get a message twice: delivery is at least once). Records it does
// not handle (other event kinds, connection items) are skipped.
func (h *StreamHandler) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var resp events.DynamoDBEventResponse
	d := h.svc.NewDeliverer()
	// One read for the inline marks of the whole batch.
	var msgs []chat.Message
	for _, rec := range ev.Records {
		if isMessageInsert(rec) {
			if m, err := MessageFromImage(rec.Change.NewImage); err == nil && m.Inline {
				msgs = append(msgs, m)
			}
		}
	}
	d.Prefetch(ctx, msgs)

	// The records of each ordering key, in batch order.
	var keys []string
	byKey := map[string][]int{}
	for i, rec := range ev.Records {
		k := orderKey(rec)
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], i)
	}
	failed := len(ev.Records) // the earliest failed record
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, RecordConcurrency)
	for _, k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func(idx []int) {
			defer func() { <-sem; wg.Done() }()
			for _, i := range idx {
				rec := ev.Records[i]
				if err := h.record(ctx, d, rec); err != nil {
					h.log.ErrorContext(ctx, "stream record failed; reporting it and the rest of the batch",
						"eventId", rec.EventID, "sequenceNumber", rec.Change.SequenceNumber, "err", err)
					mu.Lock()
					failed = min(failed, i)
					mu.Unlock()
					return // the rest of this conversation waits for the retry, in order
				}
			}
		}(byKey[k])
	}
	wg.Wait()
	for _, r := range ev.Records[failed:] {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
	}
	return resp, nil
}

// orderKey is what a record's order is kept within: its conversation for a message, its
// table item otherwise (a user's presence item).
func orderKey(rec events.DynamoDBEventRecord) string {
	if isMessageInsert(rec) {
		return "c:" + str(rec.Change.Keys, schema.AttrConversationID)
	}
	return "k:" + str(rec.Change.Keys, schema.AttrPK) + "\x00" + str(rec.Change.Keys, schema.AttrSK)
}

func (h *StreamHandler) record(ctx context.Context, d *chat.Deliverer, rec events.DynamoDBEventRecord) error {
	keys := rec.Change.Keys
	switch {
	case isMessageInsert(rec):
		m, err := MessageFromImage(rec.Change.NewImage)
		if err != nil {
			// A malformed item can never succeed: log it and move on rather than block the shard.
			h.log.ErrorContext(ctx, "skipping malformed message record", "eventId", rec.EventID, "err", err)
			return nil
		}
		return d.Deliver(ctx, m)
	case rec.EventName == string(events.DynamoDBOperationTypeRemove) && isServiceDeletion(rec) &&
		str(keys, schema.AttrSK) == schema.PresenceSK:
		user := str(keys, schema.AttrPK)
		old := rec.Change.OldImage
		if user == "" || old[schema.AttrOffline].DataType() == events.DataTypeBoolean && old[schema.AttrOffline].Boolean() {
			return nil // an offline item is never TTL-deleted; nothing to announce
		}
		lastSeen, _ := num(old, schema.AttrLastSeen)
		return h.svc.PresenceLapsed(ctx, user, lastSeen)
	}
	return nil
}

// isMessageInsert reports whether rec is the insertion of a message (Messages or Outbox).
func isMessageInsert(rec events.DynamoDBEventRecord) bool {
	return rec.EventName == string(events.DynamoDBOperationTypeInsert) && has(rec.Change.Keys, schema.AttrConversationID)
}

func isServiceDeletion(rec events.DynamoDBEventRecord) bool {
	return rec.UserIdentity != nil && rec.UserIdentity.Type == "Service" && rec.UserIdentity.PrincipalID == topology.ServiceIdentity
}

func has(img map[string]events.DynamoDBAttributeValue, k string) bool {
	_, ok := img[k]
	return ok
}

func str(img map[string]events.DynamoDBAttributeValue, k string) string {
	v, ok := img[k]
	if !ok || v.DataType() != events.DataTypeString {
		return ""
	}
	return v.String()
}

func boolean(img map[string]events.DynamoDBAttributeValue, k string) bool {
	v, ok := img[k]
	return ok && v.DataType() == events.DataTypeBoolean && v.Boolean()
}

func num(img map[string]events.DynamoDBAttributeValue, k string) (int64, error) {
	v, ok := img[k]
	if !ok || v.DataType() != events.DataTypeNumber {
		return 0, fmt.Errorf("%s is not a number", k)
	}
	return strconv.ParseInt(v.Number(), 10, 64)
}

// MessageFromImage reads a message from a stream image of the Messages or Outbox table.
func MessageFromImage(img map[string]events.DynamoDBAttributeValue) (chat.Message, error) {
	m := chat.Message{
		ConversationID: str(img, schema.AttrConversationID),
		MessageID:      str(img, schema.AttrMessageID),
		SenderID:       str(img, "senderId"),
		Body:           str(img, "body"),
		ClientMsgID:    str(img, "clientMsgId"),
		Inline:         boolean(img, "inline"),
	}
	var err error
	if m.CreatedAt, err = num(img, "createdAt"); err != nil {
		return m, fmt.Errorf("message image %s/%s: %w", m.ConversationID, m.MessageID, err)
	}
	if r, ok := img["replyTo"]; ok && r.DataType() == events.DataTypeMap {
		q := r.Map()
		m.ReplyTo = &chat.ReplyRef{MessageID: str(q, "messageId"), SenderID: str(q, "senderId"), Preview: str(q, "preview")}
	}
	m.EditedAt, _ = num(img, "editedAt")
	m.Deleted = boolean(img, "deleted")
	if kind := str(img, "kind"); kind != "" {
		// A change event (internal/dynamo's messageItem).
		m.Change = &chat.Change{Kind: kind, EventID: m.MessageID, MessageID: str(img, "target"), UserID: m.SenderID,
			At: m.CreatedAt, Body: m.Body, Emoji: str(img, "emoji"), State: str(img, "state")}
		m.Origin = str(img, "origin")
	}
	if m.ConversationID == "" || m.MessageID == "" || m.SenderID == "" {
		return m, fmt.Errorf("message image lacks conversationId, messageId or senderId")
	}
	return m, nil
}
