package chat

// Conversation kinds.
const (
	KindDirect = "dm"
	KindGroup  = "group"
)

// Message is one stored chat message.
type Message struct {
	ConversationID string `json:"conversationId"`
	MessageID      string `json:"messageId"`
	SenderID       string `json:"senderId"`
	Body           string `json:"body"`
	CreatedAt      int64  `json:"createdAt"` // Unix milliseconds
	ClientMsgID    string `json:"clientMsgId"`
	// Inline says that send pushes this message itself (the inline path) and marks it
	// when it has reached every connection (ConversationStore.MarkInline): the stream
	// fan-out then looks for the mark before delivering. Stored with the message's
	// DynamoDB item (and outbox item), never sent to clients.
	Inline bool `json:"-"`
}

// MessageRef names one message.
type MessageRef struct {
	ConversationID string
	MessageID      string
}

// Reservation binds (conversation, sender, clientMsgId) to the message id and creation time
// assigned the first time that clientMsgId was sent. It makes send idempotent.
type Reservation struct {
	ConversationID string
	SenderID       string
	ClientMsgID    string
	MessageID      string
	CreatedAt      int64
}

// Conversation is a conversation's metadata.
type Conversation struct {
	ConversationID string
	Kind           string // KindDirect or KindGroup
	Name           string
	CreatedBy      string
	CreatedAt      int64
	MemberCount    int
	// LastMessage is the newest message, nil before the first one.
	LastMessage *Message
}

// Membership is one user's membership of one conversation, as listed for that user.
type Membership struct {
	ConversationID string
	UserID         string
	Kind           string
	// Peer is the other member of a direct conversation; "" for groups.
	Peer     string
	JoinedAt int64
}

// Cursor is a member's receipt state in one conversation: every message up to and
// including DeliveredUpTo was delivered to the member, up to ReadUpTo was read. "" means none.
// ReadUpTo never exceeds DeliveredUpTo.
type Cursor struct {
	UserID        string
	DeliveredUpTo string
	ReadUpTo      string
}

// Receipt statuses, which are also the two cursors.
const (
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
)

// Connection is one open WebSocket connection of a user.
type Connection struct {
	UserID       string
	ConnectionID string
	ConnectedAt  int64 // Unix milliseconds
	// ExpiresAt is when the connection is treated as gone even if no $disconnect came
	// (Unix seconds; the TTL attribute).
	ExpiresAt int64
}

// Presence is what is known of a user's presence.
type Presence struct {
	UserID string `json:"userId"`
	Online bool   `json:"online"`
	// LastSeen is when the user connected (while online) or when their last connection
	// ended (Unix milliseconds); 0 when never seen.
	LastSeen int64 `json:"lastSeen,omitempty"`
}
