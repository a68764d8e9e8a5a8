package chat

import "regexp"

// Client-facing limits (PROTOCOL.md §7).
const (
	MaxFrameBytes       = 32 * 1024
	MaxBodyBytes        = 16384
	MaxIDLength         = 64 // requestId, clientMsgId, user id
	MaxGroupMembers     = 500
	MaxNameLength       = 100
	DefaultHistoryLimit = 50
	MaxHistoryLimit     = 100
	MaxPresenceQuery    = 100
	MaxSyncMessages     = 1000
	// MaxSettleReplay bounds what a sync replays per conversation from the settling
	// window before the cursor (Options.SettleWindow), on top of MaxSyncMessages.
	MaxSettleReplay = 50
	// MaxReceiptFanout is the largest conversation whose receipt events are pushed live.
	MaxReceiptFanout = 100
	// MaxUnread caps the unread count of a conversation.
	MaxUnread = 100
	// PresenceWindowMillis is how long a presence written at $connect holds without an
	// offline state replacing it: API Gateway's 2 h connection lifetime plus slack (the
	// connection item's TTL). It bounds how long a device that vanished with neither a
	// $disconnect nor a 410 shows online (docs/protocol.md).
	PresenceWindowMillis = 130 * 60_000
)

var userIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,64}$`)

// UserIDRule says in words what ValidUserID accepts, for error messages.
const UserIDRule = "1 to 64 characters of A-Z a-z 0-9 _ . @ -"

// ValidUserID reports whether id is a legal user id: 1 to 64 of A-Z a-z 0-9 _ . @ -.
func ValidUserID(id string) bool { return userIDPattern.MatchString(id) }

// Version 1.1 limits (PROTOCOL.md §8, docs/protocol.md).
const (
	// MaxEmojiBytes bounds a reaction's emoji (UTF-8 bytes).
	MaxEmojiBytes = 32
	// MaxUserReactions is how many distinct reactions one user may have on one message.
	MaxUserReactions = 20
	// MaxMessageReactions bounds the reactions of one message in all (an addition to
	// PROTOCOL.md): the message's item holds them, and DynamoDB's item limit is 400 KB.
	// 3000 reactions of 64-byte user ids under 32-byte emojis fit with a full body.
	MaxMessageReactions = 3000
	// MaxPreviewRunes is the length of a reply's preview of the quoted body, and of an
	// offline notification's preview, in characters.
	MaxPreviewRunes = 100
	// MaxNotifyRecipients bounds the recipients of one offline notification event
	// (Notification): a message with more offline members is told in several.
	MaxNotifyRecipients = 100
)
