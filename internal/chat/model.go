package chat

// Conversation kinds.
const (
	KindDirect = "dm"
	KindGroup  = "group"
)

// Message is one item of a conversation's timeline (PROTOCOL.md §8): a chat message, or,
// when Change is set, a change event (an edit, a delete, a reaction) under its own id. A
// message carries its folded state: the latest body, EditedAt, Deleted (the body erased),
// the reactions, and Version with LastChange, the change applied last.
type Message struct {
	ConversationID string `json:"conversationId"`
	// MessageID is the item's id in the timeline: a message's id, or a change's eventId.
	MessageID   string `json:"messageId"`
	SenderID    string `json:"senderId"`
	Body        string `json:"body,omitempty"` // absent once deleted
	CreatedAt   int64  `json:"createdAt"`      // Unix milliseconds
	ClientMsgID string `json:"clientMsgId"`
	// ReplyTo is the message this one answers, as it was when this one was sent.
	ReplyTo *ReplyRef `json:"replyTo,omitempty"`
	// EditedAt is when the body was last edited (Unix milliseconds); 0 if never.
	EditedAt int64 `json:"editedAt,omitempty"`
	// Deleted says the sender deleted the message: the body is erased from storage.
	Deleted bool `json:"deleted,omitempty"`
	// LastEventID is the eventId of the last change folded into this state. History
	// shows it (HistoryMessage.LastEventID); message frames do not, since sync replays
	// the changes after a message it replays, reactions included.
	LastEventID string `json:"-"`

	// Reactions maps each emoji to the users who reacted with it (sorted ids).
	Reactions map[string][]string `json:"-"`
	// Version counts the changes applied to the message: the store applies a change only
	// on the version it was computed from (MessageStore.ApplyChange).
	Version int `json:"-"`
	// Changes are the changes applied last, oldest first, at most MaxRecentChanges, each
	// without its Body (an edit's is the message's or erased). A retried change finds its
	// own among them, even after concurrent changes of others, and stores its event again
	// in case storing it is what failed.
	Changes []Change `json:"-"`
	// EditIDs are the eventIds of the message's edit events that keep their bodies, oldest
	// first, at most MaxKeptEdits: a delete erases them all (an edit beyond the cap erases
	// the oldest).
	EditIDs []string `json:"-"`

	// Change is set on the timeline items that are change events, never on messages.
	Change *Change `json:"-"`
	// Origin is, on a change event, the connection that made the change: it got the
	// reply, so the fan-out leaves it out.
	Origin string `json:"-"`

	// Inline says that send pushes this message itself (the inline path) and marks it
	// when it has reached every connection (ConversationStore.MarkInline): the stream
	// fan-out then looks for the mark before delivering. Stored with the message's
	// DynamoDB item (and outbox item), never sent to clients.
	Inline bool `json:"-"`
}

// IsChange reports whether m is a change event rather than a message.
func (m Message) IsChange() bool { return m.Change != nil }

// LastChange returns the change applied last, or nil.
func (m Message) LastChange() *Change {
	if len(m.Changes) == 0 {
		return nil
	}
	return &m.Changes[len(m.Changes)-1]
}

// MaxRecentChanges is how many of its last changes a message keeps (Message.Changes).
const MaxRecentChanges = 8

// MaxKeptEdits is how many edit events of one message keep their bodies for sync to
// replay (Message.EditIDs); an edit beyond it erases the oldest one's, which sync then
// skips (the later edits carry newer bodies).
const MaxKeptEdits = 100

// ReplyRef is the message a reply quotes: its id, sender, and the first MaxPreviewRunes
// characters of its body when the reply was sent ("" if it was deleted).
type ReplyRef struct {
	MessageID string `json:"messageId"`
	SenderID  string `json:"senderId"`
	Preview   string `json:"preview"`
}

// Change kinds.
const (
	ChangeEdit     = "edit"
	ChangeDelete   = "delete"
	ChangeReaction = "reaction"
)

// Reaction states.
const (
	ReactionAdd    = "add"
	ReactionRemove = "remove"
)

// Change is one change to a message: an edit, a delete or a reaction added or removed.
type Change struct {
	Kind    string // ChangeEdit, ChangeDelete or ChangeReaction
	EventID string
	// MessageID is the message changed.
	MessageID string
	// UserID made the change (the sender, for edits and deletes).
	UserID string
	At     int64
	// Body is an edit's new body ("" once a later edit or the delete erased it).
	Body string
	// Emoji and State are a reaction's.
	Emoji, State string
	// Erases are, for a delete, the edit events whose bodies it erases (the message's
	// EditIDs), and for an edit beyond MaxKeptEdits the oldest kept one.
	Erases []string
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
	// MutedUntil is when the member's mute of the conversation's offline notifications
	// ends (Unix milliseconds): 0 not muted, MutedForever muted until unmuted.
	MutedUntil int64
}

// MutedForever is Membership.MutedUntil of a mute without an end.
const MutedForever = int64(1<<63 - 1)

// Muted reports whether the membership mutes notifications at now (Unix milliseconds).
func (m Membership) Muted(now int64) bool { return m.MutedUntil > now }

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
