package dynamo

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/schema"
)

// Key prefixes and reserved sort keys.
const (
	convPrefix      = "CONV#"
	metaSK          = "META"
	memberPrefix    = "MEMBER#"
	clientMsgPrefix = "CLIENTMSG#"
	inlinePrefix    = "INLINE#"
	presenceSK      = "#presence"
)

// Attribute names not in schema.
const (
	attrDeliveredUpTo = "deliveredUpTo"
	attrReadUpTo      = "readUpTo"
	attrMemberCount   = "memberCount"
	attrLastMessage   = "lastMessage"
	attrLastSeen      = "lastSeen"
	attrOffline       = "offline"
)

func convPK(conversationID string) string { return convPrefix + conversationID }
func memberSK(userID string) string       { return memberPrefix + userID }

// inlineSK is the sort key of a message's inline-delivery mark.
func inlineSK(messageID string) string { return inlinePrefix + messageID }

func clientMsgSK(senderID, clientMsgID string) string {
	return clientMsgPrefix + senderID + "#" + clientMsgID
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{schema.AttrPK: str(pk), schema.AttrSK: str(sk)}
}

func messageKey(conversationID, messageID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		schema.AttrConversationID: str(conversationID),
		schema.AttrMessageID:      str(messageID),
	}
}

// messageItem is a Messages item (a message or a change event), also the lastMessage map
// on a conversation's META item. A change event has Kind set; its MessageID is the
// eventId, its SenderID the user who made the change, its CreatedAt the change's time and
// its Body an edit's body.
type messageItem struct {
	ConversationID string `dynamodbav:"conversationId"`
	MessageID      string `dynamodbav:"messageId"`
	SenderID       string `dynamodbav:"senderId"`
	Body           string `dynamodbav:"body,omitempty"`
	CreatedAt      int64  `dynamodbav:"createdAt"`
	ClientMsgID    string `dynamodbav:"clientMsgId,omitempty"`
	Inline         bool   `dynamodbav:"inline,omitempty"`

	ReplyTo   *replyItem          `dynamodbav:"replyTo,omitempty"`
	EditedAt  int64               `dynamodbav:"editedAt,omitempty"`
	Deleted   bool                `dynamodbav:"deleted,omitempty"`
	Reactions map[string][]string `dynamodbav:"reactions,omitempty"`
	Version   int                 `dynamodbav:"ver,omitempty"`
	Changes   []changeItem        `dynamodbav:"changes,omitempty"`
	EditIDs   []string            `dynamodbav:"edits,omitempty"`

	// A change event's attributes.
	Kind   string `dynamodbav:"kind,omitempty"`
	Target string `dynamodbav:"target,omitempty"`
	Emoji  string `dynamodbav:"emoji,omitempty"`
	State  string `dynamodbav:"state,omitempty"`
	Origin string `dynamodbav:"origin,omitempty"`
}

// attrKind marks change events in the Messages table: history and unread counts filter
// on its absence.
const attrKind = "kind"

type replyItem struct {
	MessageID string `dynamodbav:"messageId"`
	SenderID  string `dynamodbav:"senderId"`
	Preview   string `dynamodbav:"preview"`
}

// changeItem is one of a message's recent changes: the change without its body.
type changeItem struct {
	Kind    string `dynamodbav:"kind"`
	EventID string `dynamodbav:"eventId"`
	UserID  string `dynamodbav:"userId"`
	At      int64  `dynamodbav:"at"`
	Emoji   string `dynamodbav:"emoji,omitempty"`
	State   string `dynamodbav:"state,omitempty"`
	// Erases are the edits whose bodies the change erased.
	Erases []string `dynamodbav:"erases,omitempty"`
}

func toMessageItem(m chat.Message) messageItem {
	it := messageItem{
		ConversationID: m.ConversationID, MessageID: m.MessageID, SenderID: m.SenderID, Body: m.Body,
		CreatedAt: m.CreatedAt, ClientMsgID: m.ClientMsgID, Inline: m.Inline,
		EditedAt: m.EditedAt, Deleted: m.Deleted, Reactions: m.Reactions, Version: m.Version, EditIDs: m.EditIDs,
	}
	if r := m.ReplyTo; r != nil {
		it.ReplyTo = &replyItem{MessageID: r.MessageID, SenderID: r.SenderID, Preview: r.Preview}
	}
	for _, c := range m.Changes {
		it.Changes = append(it.Changes, changeItem{Kind: c.Kind, EventID: c.EventID, UserID: c.UserID, At: c.At, Emoji: c.Emoji, State: c.State, Erases: c.Erases})
	}
	if c := m.Change; c != nil {
		it.Kind, it.Target, it.Emoji, it.State, it.Origin = c.Kind, c.MessageID, c.Emoji, c.State, m.Origin
	}
	return it
}

func (it messageItem) message() chat.Message {
	m := chat.Message{
		ConversationID: it.ConversationID, MessageID: it.MessageID, SenderID: it.SenderID, Body: it.Body,
		CreatedAt: it.CreatedAt, ClientMsgID: it.ClientMsgID, Inline: it.Inline,
		EditedAt: it.EditedAt, Deleted: it.Deleted, Reactions: it.Reactions, Version: it.Version, EditIDs: it.EditIDs,
	}
	if r := it.ReplyTo; r != nil {
		m.ReplyTo = &chat.ReplyRef{MessageID: r.MessageID, SenderID: r.SenderID, Preview: r.Preview}
	}
	for _, c := range it.Changes {
		m.Changes = append(m.Changes, chat.Change{Kind: c.Kind, EventID: c.EventID, MessageID: it.MessageID, UserID: c.UserID, At: c.At,
			Emoji: c.Emoji, State: c.State, Erases: c.Erases})
		m.LastEventID = c.EventID
	}
	if it.Kind != "" {
		m.Change = &chat.Change{Kind: it.Kind, EventID: it.MessageID, MessageID: it.Target, UserID: it.SenderID, At: it.CreatedAt,
			Body: it.Body, Emoji: it.Emoji, State: it.State}
		m.Origin = it.Origin
	}
	return m
}

// reservationItem is a CLIENTMSG item.
type reservationItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	MessageID string `dynamodbav:"messageId"`
	CreatedAt int64  `dynamodbav:"createdAt"`
}

// metaItem is a conversation's META item.
type metaItem struct {
	PK          string       `dynamodbav:"pk"`
	SK          string       `dynamodbav:"sk"`
	Kind        string       `dynamodbav:"kind"`
	Name        string       `dynamodbav:"name,omitempty"`
	CreatedBy   string       `dynamodbav:"createdBy"`
	CreatedAt   int64        `dynamodbav:"createdAt"`
	MemberCount int          `dynamodbav:"memberCount"`
	LastMessage *messageItem `dynamodbav:"lastMessage,omitempty"`
}

func (m metaItem) conversation() chat.Conversation {
	c := chat.Conversation{
		ConversationID: m.PK[len(convPrefix):],
		Kind:           m.Kind,
		Name:           m.Name,
		CreatedBy:      m.CreatedBy,
		CreatedAt:      m.CreatedAt,
		MemberCount:    m.MemberCount,
	}
	if m.LastMessage != nil {
		lm := m.LastMessage.message()
		c.LastMessage = &lm
	}
	return c
}

// memberItem is a MEMBER item. UserID keys the byUser index.
type memberItem struct {
	PK            string `dynamodbav:"pk"`
	SK            string `dynamodbav:"sk"`
	UserID        string `dynamodbav:"userId"`
	Kind          string `dynamodbav:"kind"`
	Peer          string `dynamodbav:"peer,omitempty"`
	JoinedAt      int64  `dynamodbav:"joinedAt"`
	DeliveredUpTo string `dynamodbav:"deliveredUpTo,omitempty"`
	ReadUpTo      string `dynamodbav:"readUpTo,omitempty"`
	MutedUntil    int64  `dynamodbav:"mutedUntil,omitempty"`
}

func toMemberItem(m chat.Membership) memberItem {
	return memberItem{
		PK:       convPK(m.ConversationID),
		SK:       memberSK(m.UserID),
		UserID:   m.UserID,
		Kind:     m.Kind,
		Peer:     m.Peer,
		JoinedAt: m.JoinedAt,
	}
}

func (m memberItem) membership() chat.Membership {
	return chat.Membership{
		ConversationID: m.PK[len(convPrefix):],
		UserID:         m.UserID,
		Kind:           m.Kind,
		Peer:           m.Peer,
		JoinedAt:       m.JoinedAt,
		MutedUntil:     m.MutedUntil,
	}
}

// connectionItem is a connection of a user.
type connectionItem struct {
	UserID       string `dynamodbav:"pk"`
	ConnectionID string `dynamodbav:"sk"`
	ConnectedAt  int64  `dynamodbav:"connectedAt"`
	ExpiresAt    int64  `dynamodbav:"expiresAt"`
}

// presenceItem is a user's presence (sk "#presence").
type presenceItem struct {
	UserID    string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	LastSeen  int64  `dynamodbav:"lastSeen"`
	Offline   bool   `dynamodbav:"offline"`
	ExpiresAt int64  `dynamodbav:"expiresAt,omitempty"`
}

// online reports whether the presence item p (nil: none) shows the user online at now.
func (p *presenceItem) online(now int64) bool {
	return p != nil && !p.Offline && p.LastSeen+chat.PresenceWindowMillis > now
}
