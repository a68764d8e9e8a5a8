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

// messageItem is a Messages item, also the lastMessage map on a conversation's META item.
type messageItem struct {
	ConversationID string `dynamodbav:"conversationId"`
	MessageID      string `dynamodbav:"messageId"`
	SenderID       string `dynamodbav:"senderId"`
	Body           string `dynamodbav:"body,omitempty"`
	CreatedAt      int64  `dynamodbav:"createdAt"`
	ClientMsgID    string `dynamodbav:"clientMsgId,omitempty"`
	Inline         bool   `dynamodbav:"inline,omitempty"`
}

func toMessageItem(m chat.Message) messageItem { return messageItem(m) }

func (m messageItem) message() chat.Message { return chat.Message(m) }

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
