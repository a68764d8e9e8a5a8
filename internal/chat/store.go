package chat

import "context"

// MessageStore stores messages, the idempotency reservations of send, and the members'
// delivered/read cursors. Two implementations exist: DynamoDB (internal/dynamo) and
// Cassandra/Amazon Keyspaces (internal/keyspaces); both pass chattest.RunMessageStoreTests.
//
// Message ids are ULIDs: within a conversation their string order is their time order.
type MessageStore interface {
	// Reserve stores r unless a reservation for (r.ConversationID, r.SenderID,
	// r.ClientMsgID) already exists, and returns the reservation in force: r when it was
	// stored, the earlier one otherwise. Under concurrent calls exactly one reservation wins
	// and every caller gets that one.
	Reserve(ctx context.Context, r Reservation) (Reservation, error)

	// RenewReservation replaces the MessageID and CreatedAt of the reservation for
	// (r.ConversationID, r.SenderID, r.ClientMsgID) with r's, provided it still holds
	// oldMessageID (a conditional write), and returns the reservation in force: r when it
	// was renewed, the current one otherwise. It never creates a reservation: it returns
	// ErrNotFound (wrapped) when none exists. Under concurrent renewals of the same
	// oldMessageID exactly one wins and every caller gets that one (unless it was renewed
	// again in between: then the newest). Renewing with an r that is in force already (a
	// retry of a renewal that applied) returns r. Send renews a reservation whose message
	// was never stored once no attempt can still store it (Options.ReserveStale).
	RenewReservation(ctx context.Context, r Reservation, oldMessageID string) (Reservation, error)

	// PutMessage stores m, a message or a change event (Message.Change), under
	// (ConversationID, MessageID). Idempotent: storing the same item again leaves exactly
	// one. A message is only ever put when it is new (or put again as it was read, with
	// Republish's effect); its later changes go through ApplyChange, which a put must not
	// undo: stores make the put of a message whose stored Version is above m's change
	// nothing.
	PutMessage(ctx context.Context, m Message) error

	// Republish makes sure the fan-out gets a stored item: for a store whose own stream
	// recorded the item when PutMessage stored it (DynamoDB) it does nothing; for a store
	// whose stream is a separate outbox it writes the outbox item again, in case that write
	// is what failed. It never changes the stored item.
	Republish(ctx context.Context, m Message) error

	// GetMessage returns one timeline item (a message or a change event), or ErrNotFound.
	GetMessage(ctx context.Context, conversationID, messageID string) (Message, error)

	// ApplyChange stores the folded state of message m (Body, EditedAt, Deleted, Reactions,
	// Version, Changes, EditIDs) provided the stored message's Version is still
	// fromVersion (m.Version is the new one, above it): an optimistic, compare-and-set
	// update of one item. It returns ErrConflict (wrapped) when the stored version moved
	// and ErrNotFound when no such message exists. Nothing else of the item changes.
	ApplyChange(ctx context.Context, m Message, fromVersion int) error

	// EraseBody removes the body of a stored timeline item (an edit event superseded by a
	// later edit, or by the delete of its message). Erasing a missing item or body is not
	// an error.
	EraseBody(ctx context.Context, conversationID, messageID string) error

	// Before returns up to limit messages (change events left out) whose id is below
	// before (the newest when before is ""), newest first, and whether older messages exist
	// beyond them.
	Before(ctx context.Context, conversationID, before string, limit int) (msgs []Message, more bool, err error)

	// After returns up to limit timeline items, messages and change events, whose id is
	// above after (from the first when after is ""), oldest first, and whether newer items
	// exist beyond them.
	After(ctx context.Context, conversationID, after string, limit int) (msgs []Message, more bool, err error)

	// CountAfter counts the messages (change events left out) whose id is above after (""
	// for all) and whose sender is not excludeSender, stopping once it reaches max.
	CountAfter(ctx context.Context, conversationID, after, excludeSender string, max int) (int, error)

	// AdvanceCursor moves userID's cursor status (StatusDelivered or StatusRead) in the
	// conversation to upTo when upTo is beyond it (or it is unset), and reports whether it
	// moved. It never moves a cursor backwards. It moves only the cursor named: callers that
	// move read also move delivered.
	AdvanceCursor(ctx context.Context, conversationID, userID, status, upTo string) (moved bool, err error)

	// Cursors returns the cursors of the given users in the conversation, in the order
	// given; a user without cursors gets a Cursor with only UserID set.
	Cursors(ctx context.Context, conversationID string, userIDs []string) ([]Cursor, error)
}

// ConversationStore stores conversations and their members (DynamoDB in every mode).
type ConversationStore interface {
	// CreateConversation stores the member items that do not exist yet (it never overwrites
	// one), then the conversation itself. When a conversation with that id already exists
	// it returns ErrExists; the member items are then still ensured, which makes a retried
	// create of a direct conversation complete.
	CreateConversation(ctx context.Context, c Conversation, members []Membership) error

	// GetConversation returns a conversation or ErrNotFound.
	GetConversation(ctx context.Context, conversationID string) (Conversation, error)

	// GetConversations returns the conversations that exist among ids, in any order.
	GetConversations(ctx context.Context, ids []string) ([]Conversation, error)

	// Member returns userID's membership of the conversation, or ErrNotFound.
	Member(ctx context.Context, conversationID, userID string) (Membership, error)

	// Members returns every membership of the conversation.
	Members(ctx context.Context, conversationID string) ([]Membership, error)

	// AddMembers adds the given memberships that do not exist yet and returns those it
	// added. MemberCount stays exact. When the count would exceed max it returns ErrLimit
	// and adds nobody.
	AddMembers(ctx context.Context, conversationID string, members []Membership, max int) (added []Membership, err error)

	// RemoveMember deletes userID's membership and decrements MemberCount; removing a
	// non-member is not an error and changes nothing.
	RemoveMember(ctx context.Context, conversationID, userID string) error

	// SetMuted sets MutedUntil of userID's membership (0 unmutes); ErrNotFound when the
	// user is not a member.
	SetMuted(ctx context.Context, conversationID, userID string, until int64) error

	// UserConversations returns every membership of userID.
	UserConversations(ctx context.Context, userID string) ([]Membership, error)

	// SetLastMessage records m as its conversation's last message, unless a message with a
	// higher id is already recorded. Recording the same message again replaces it (its
	// folded state after an edit or a delete).
	SetLastMessage(ctx context.Context, m Message) error

	// MarkInline records that the inline path delivered a message to every open
	// connection of its conversation's members, so the stream fan-out may skip it. The mark
	// is needed only while the message's stream record can still reach the fan-out: it
	// may expire after InlineMarkTTL. Marking twice is not an error.
	MarkInline(ctx context.Context, ref MessageRef) error

	// InlineMarked reports which of refs carry a mark (MarkInline), reading them at once:
	// the result holds true for the marked ones.
	InlineMarked(ctx context.Context, refs []MessageRef) (map[MessageRef]bool, error)
}

// ConnectionStore stores open connections and presence (DynamoDB in every mode). Times
// are Unix milliseconds unless a field says otherwise.
type ConnectionStore interface {
	// PutConnection stores (or replaces) a connection.
	PutConnection(ctx context.Context, c Connection) error

	// DeleteConnection removes a connection; removing one that is gone is not an error.
	DeleteConnection(ctx context.Context, userID, connectionID string) error

	// Connections returns userID's connections that have not expired at now. An expired
	// item counts as gone even before TTL deletes it.
	Connections(ctx context.Context, userID string, now int64) ([]Connection, error)

	// TouchPresence records activity of userID at now: the user is online until
	// now+PresenceWindowMillis. It reports whether the user was offline until now (never
	// seen, marked offline, or lapsed). To bound writes it may skip the write when the
	// recorded activity is recent; it then reports false.
	TouchPresence(ctx context.Context, userID string, now int64) (cameOnline bool, err error)

	// SetOffline marks userID offline with lastSeen = now (for good: TTL no longer deletes
	// the presence, so no lapse follows), and reports whether an offline state is still to
	// be announced: true when the user was online, or had lapsed without the lapse being
	// recorded (RecordLapse); false when already marked offline or never seen.
	SetOffline(ctx context.Context, userID string, now int64) (announce bool, err error)

	// RecordLapse keeps lastSeen of a user whose presence item TTL deleted: it stores an
	// offline presence with that lastSeen unless a presence item exists again.
	RecordLapse(ctx context.Context, userID string, lastSeen int64) error

	// Presence returns the presence of each user, in the order given; a user never seen is
	// offline with LastSeen 0.
	Presence(ctx context.Context, userIDs []string, now int64) ([]Presence, error)
}

// Pusher posts one frame to one connection (API Gateway's PostToConnection).
type Pusher interface {
	// Push sends data to the connection. It returns ErrGone (wrapped) when the connection no
	// longer exists and ErrRejected (wrapped) when it was refused for good; any other error
	// is transient and may be retried.
	Push(ctx context.Context, connectionID string, data []byte) error
}
