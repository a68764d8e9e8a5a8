// Package schema declares Parley's DynamoDB tables once, as plain data.
//
// The store (internal/dynamo), the local runtime (internal/localddb), the tests and the CDK
// stack (infra/) all build their tables from these definitions, so the deployed tables and
// the ones the code is tested against cannot drift apart. The package imports nothing from
// AWS: each consumer converts a Table into its own API's types.
package schema

import "fmt"

// AttributeType is a DynamoDB key attribute type.
type AttributeType string

// Key attribute types.
const (
	String AttributeType = "S"
	Number AttributeType = "N"
)

// StreamView is a DynamoDB Streams view type; the empty value means no stream.
type StreamView string

// Stream view types.
const (
	NoStream        StreamView = ""
	KeysOnly        StreamView = "KEYS_ONLY"
	NewImage        StreamView = "NEW_IMAGE"
	OldImage        StreamView = "OLD_IMAGE"
	NewAndOldImages StreamView = "NEW_AND_OLD_IMAGES"
)

// Attribute is a key attribute: its name and type.
type Attribute struct {
	Name string
	Type AttributeType
}

// Index is a global secondary index. Its projection is ALL.
type Index struct {
	Name         string
	PartitionKey Attribute
	SortKey      Attribute
}

// Table is one DynamoDB table. Billing is on demand everywhere.
type Table struct {
	// ID names the table in code and in the CDK stack ("Messages"). The physical name is
	// chosen by whoever creates the table (a prefix locally, CloudFormation when deployed).
	ID           string
	PartitionKey Attribute
	SortKey      Attribute
	Indexes      []Index
	// TTLAttribute is the Unix-seconds attribute that DynamoDB's TTL deletes on; "" for none.
	TTLAttribute string
	// Stream is the stream view type; NoStream for none.
	Stream StreamView
	// Data marks tables whose loss loses user data: they get point-in-time recovery and
	// are retained when the stack is deleted.
	Data bool
}

// Table IDs.
const (
	MessagesID      = "Messages"
	ConversationsID = "Conversations"
	ConnectionsID   = "Connections"
	OutboxID        = "Outbox"
)

// Attribute and index names shared by the store and the stream consumers.
const (
	// Messages and Outbox keys.
	AttrConversationID = "conversationId"
	AttrMessageID      = "messageId"
	// Conversations and Connections keys.
	AttrPK = "pk"
	AttrSK = "sk"
	// AttrUserID keys the Conversations by-user index (set on member items only).
	AttrUserID = "userId"
	// AttrExpiresAt is the TTL attribute of Connections, Outbox and Conversations (whose
	// only expiring items are the inline delivery marks).
	AttrExpiresAt = "expiresAt"
	// IndexByUser is the Conversations GSI: a user's member items.
	IndexByUser = "byUser"
)

// Messages holds every message: partition conversationId, sort messageId (a ULID), as in
// the Cassandra chat model. Its stream (new images) drives fan-out.
var Messages = Table{
	ID:           MessagesID,
	PartitionKey: Attribute{AttrConversationID, String},
	SortKey:      Attribute{AttrMessageID, String},
	Stream:       NewImage,
	Data:         true,
}

// Conversations holds conversation metadata, member items (with the delivered and read
// cursors), idempotency reservations and the inline path's delivery marks (which TTL
// collects), keyed pk = "CONV#id". The byUser index lists a user's member items.
var Conversations = Table{
	ID:           ConversationsID,
	PartitionKey: Attribute{AttrPK, String},
	SortKey:      Attribute{AttrSK, String},
	Indexes: []Index{{
		Name:         IndexByUser,
		PartitionKey: Attribute{AttrUserID, String},
		SortKey:      Attribute{AttrPK, String},
	}},
	TTLAttribute: AttrExpiresAt,
	Data:         true,
}

// Connections holds open WebSocket connections (pk userId, sk connectionId) and one
// presence item per user. Both expire through TTL; the stream carries the TTL deletions of
// presence items, which become offline events.
var Connections = Table{
	ID:           ConnectionsID,
	PartitionKey: Attribute{AttrPK, String},
	SortKey:      Attribute{AttrSK, String},
	TTLAttribute: AttrExpiresAt,
	Stream:       NewAndOldImages,
}

// Outbox is used only with the Keyspaces message store: send writes the message to
// Keyspaces, then a copy here, whose stream drives the same fan-out as Messages. Items
// carry the same attributes as Messages and expire after a day.
var Outbox = Table{
	ID:           OutboxID,
	PartitionKey: Attribute{AttrConversationID, String},
	SortKey:      Attribute{AttrMessageID, String},
	TTLAttribute: AttrExpiresAt,
	Stream:       NewImage,
}

// All lists every table, in a stable order.
func All() []Table { return []Table{Messages, Conversations, Connections, Outbox} }

// Item layout of the Connections table that stream consumers read.
const (
	// PresenceSK is the sort key of a user's presence item in Connections.
	PresenceSK = "#presence"
	// AttrLastSeen is the presence item's last activity, Unix milliseconds.
	AttrLastSeen = "lastSeen"
	// AttrOffline marks a presence item of a user who went offline explicitly.
	AttrOffline = "offline"
)

// MaxKeyspaceName is the longest keyspace name Amazon Keyspaces and Cassandra accept.
const MaxKeyspaceName = 48

// CheckKeyspace reports whether name can name the Keyspaces (Cassandra) keyspace of the
// message tables: a letter, then letters, digits and _, at most MaxKeyspaceName in all.
// Amazon Keyspaces itself also accepts a leading digit, but Parley writes the name into
// CQL statements unquoted, where an identifier must start with a letter; the stack and the
// runtime both check with this one rule, so a stack never deploys a name every function
// would then refuse at init.
func CheckKeyspace(name string) error {
	ok := len(name) >= 1 && len(name) <= MaxKeyspaceName && isLetter(name[0])
	for i := 1; ok && i < len(name); i++ {
		c := name[i]
		ok = isLetter(c) || c >= '0' && c <= '9' || c == '_'
	}
	if !ok {
		return fmt.Errorf("bad keyspace name %q: a letter, then letters, digits and _, at most %d in all", name, MaxKeyspaceName)
	}
	return nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
