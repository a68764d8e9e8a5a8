package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Server frame types (the "type" field).
const (
	TypeAck           = "ack"
	TypeMessage       = "message"
	TypeTyping        = "typing"
	TypeReceipt       = "receipt"
	TypeHistory       = "history"
	TypeSynced        = "synced"
	TypeConversation  = "conversation"
	TypeConversations = "conversations"
	TypePresence      = "presence"
	TypeHeartbeat     = "heartbeat"
	TypeError         = "error"
	// Version 1.1: changes to messages (replies and events) and the reply to mute/unmute.
	TypeEdited   = "edited"
	TypeDeleted  = "deleted"
	TypeReaction = "reaction"
	TypeMuted    = "muted"
)

// Conversation kinds.
const (
	KindDirect = "dm"
	KindGroup  = "group"
)

// Receipt statuses and typing states.
const (
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	TypingStart     = "start"
	TypingStop      = "stop"
)

// Reaction states (the "state" of react and of reaction frames).
const (
	ReactionAdd    = "add"
	ReactionRemove = "remove"
)

// Protocol error codes (PROTOCOL.md §5).
const (
	CodeBadRequest    = "bad_request"
	CodeUnknownAction = "unknown_action"
	CodeUnauthorized  = "unauthorized"
	CodeForbidden     = "forbidden"
	CodeNotFound      = "not_found"
	CodeTooLarge      = "too_large"
	CodeRateLimited   = "rate_limited"
	CodeInternal      = "internal"
)

// Message is a chat message as the server sends it in message events, history pages and
// conversation summaries. History, conversation summaries and the message frames sync
// replays show it folded to its current state: the latest Body with EditedAt, or Deleted
// without Body.
type Message struct {
	ConversationID string `json:"conversationId"`
	MessageID      string `json:"messageId"`
	SenderID       string `json:"senderId"`
	Body           string `json:"body"`      // "" once deleted
	CreatedAt      int64  `json:"createdAt"` // Unix milliseconds
	ClientMsgID    string `json:"clientMsgId,omitempty"`
	// ReplyTo is the message this one answers, as it was when this one was sent; nil for
	// a message that answers none.
	ReplyTo *ReplyRef `json:"replyTo,omitempty"`
	// EditedAt is when the body was last edited (Unix milliseconds), 0 if never.
	EditedAt int64 `json:"editedAt,omitempty"`
	// Deleted says the sender deleted the message; its body is erased.
	Deleted bool `json:"deleted,omitempty"`
	// LastEventID is the eventId of the last change folded into this state (Parley's
	// addition to PROTOCOL.md), "" when none is: a change event of this message whose
	// EventID is not above it is already part of what a history page shows.
	LastEventID string `json:"lastEventId,omitempty"`
	// Reactions are set in history pages: the message's reactions, most frequent first
	// (nil when there are none). Message events carry none; sync's reaction events
	// build them.
	Reactions []ReactionCount `json:"reactions,omitempty"`
	// Status is set in history pages on the caller's own messages of a direct
	// conversation: StatusSent, StatusDelivered or StatusRead.
	Status string `json:"status,omitempty"`
	// DeliveredTo and ReadBy are set in history pages on the caller's own messages of a
	// group: how many other members have it delivered, and read.
	DeliveredTo *int `json:"deliveredTo,omitempty"`
	ReadBy      *int `json:"readBy,omitempty"`
}

// ReplyRef is the message a reply quotes: its id, its sender, and the first 100
// characters of its body when the reply was sent ("" if it was deleted then).
type ReplyRef struct {
	MessageID string `json:"messageId"`
	SenderID  string `json:"senderId"`
	Preview   string `json:"preview"`
}

// ReactionCount is how many members reacted to a message with one emoji, and whether the
// caller is one of them.
type ReactionCount struct {
	Emoji string `json:"emoji"`
	Count int    `json:"count"`
	Mine  bool   `json:"mine"`
}

// Edited is an edit of a message: the reply to Edit, and the event of an edit made by
// another connection.
type Edited struct {
	ConversationID string `json:"conversationId"`
	// MessageID is the message edited; EventID is the edit's own id in the timeline.
	MessageID string `json:"messageId"`
	EventID   string `json:"eventId"`
	Body      string `json:"body"`
	EditedAt  int64  `json:"editedAt"` // Unix milliseconds
}

// Deleted is the deletion of a message: the reply to Delete, and the event of a delete
// made by another connection.
type Deleted struct {
	ConversationID string `json:"conversationId"`
	// MessageID is the message deleted; EventID is the delete's own id in the timeline.
	MessageID string `json:"messageId"`
	EventID   string `json:"eventId"`
	At        int64  `json:"at"` // Unix milliseconds
}

// Reaction is a reaction added to or removed from a message: the reply to React, and the
// event of a reaction changed by another connection.
type Reaction struct {
	ConversationID string `json:"conversationId"`
	// MessageID is the message reacted to; EventID is the change's own id in the
	// timeline. A reply to a React that changed nothing has no EventID (no event exists),
	// unless it repeats the change applied last (a retry).
	MessageID string `json:"messageId"`
	EventID   string `json:"eventId,omitempty"`
	UserID    string `json:"userId"`
	Emoji     string `json:"emoji"`
	State     string `json:"state"` // ReactionAdd or ReactionRemove
	At        int64  `json:"at"`    // Unix milliseconds
}

// MuteState is the reply to Mute and Unmute: whether the caller's offline notifications of
// the conversation are muted, and until when.
type MuteState struct {
	ConversationID string `json:"conversationId"`
	Muted          bool   `json:"muted"`
	// Until is when the mute ends (Unix milliseconds); 0 while muted until unmuted, and
	// when not muted.
	Until int64 `json:"until,omitempty"`
}

// Ack is the reply to send: the message is durably stored.
type Ack struct {
	ClientMsgID    string `json:"clientMsgId"`
	ConversationID string `json:"conversationId"`
	MessageID      string `json:"messageId"`
	CreatedAt      int64  `json:"createdAt"`
}

// Typing is a typing indicator of another member.
type Typing struct {
	ConversationID string `json:"conversationId"`
	UserID         string `json:"userId"`
	State          string `json:"state"`
}

// Receipt is a member's receipt cursor in a conversation: every message up to and
// including UpTo is delivered to (or read by) UserID.
type Receipt struct {
	ConversationID string `json:"conversationId"`
	UserID         string `json:"userId"`
	Status         string `json:"status"`
	UpTo           string `json:"upTo"`
	At             int64  `json:"at"`
}

// HistoryPage is one page of a conversation's messages, newest first.
type HistoryPage struct {
	ConversationID string    `json:"conversationId"`
	Messages       []Message `json:"messages"`
	// Next, when not empty, is the Before of the next (older) page.
	Next string `json:"next,omitempty"`
}

// SyncResult is the end of one sync call. The timeline items themselves arrived before it
// as events: messages as message events, changes as edited, deleted and reaction events.
type SyncResult struct {
	// Count is how many items the call replayed, messages and changes.
	Count int  `json:"count"`
	More  bool `json:"more"`
	// LastMessageIDs maps each conversation the sync sent items of to the id of the last
	// one it sent: a messageId, or a change's eventId (Parley's addition to PROTOCOL.md;
	// nil from a server without it).
	LastMessageIDs map[string]string `json:"lastMessageIds,omitempty"`
}

// Conversation is a conversation as createConversation, addMembers and leave describe it.
type Conversation struct {
	ConversationID string   `json:"conversationId"`
	Kind           string   `json:"kind"`
	Name           string   `json:"name,omitempty"`
	Members        []string `json:"members"`
	CreatedBy      string   `json:"createdBy"`
	CreatedAt      int64    `json:"createdAt"`
}

// ConversationSummary is one entry of the caller's conversation list.
type ConversationSummary struct {
	ConversationID string   `json:"conversationId"`
	Kind           string   `json:"kind"`
	Name           string   `json:"name,omitempty"`
	MemberCount    int      `json:"memberCount"`
	LastMessage    *Message `json:"lastMessage"`
	Unread         int      `json:"unread"`
	// Muted says the caller muted the conversation's offline notifications, until
	// MutedUntil (Unix milliseconds; 0 while muted until unmuted).
	Muted      bool  `json:"muted,omitempty"`
	MutedUntil int64 `json:"mutedUntil,omitempty"`
}

// Presence is a user's presence.
type Presence struct {
	UserID   string `json:"userId"`
	Online   bool   `json:"online"`
	LastSeen int64  `json:"lastSeen,omitempty"` // Unix milliseconds, 0 when never seen
}

// Error is a protocol error reply. Code is one of the Code constants.
type Error struct {
	RequestID string `json:"requestId,omitempty"`
	Action    string `json:"action,omitempty"`
	Code      string `json:"code"`
	Message   string `json:"message"`
}

func (e *Error) Error() string {
	if e.Action != "" {
		return fmt.Sprintf("parley: %s: %s: %s", e.Action, e.Code, e.Message)
	}
	return fmt.Sprintf("parley: %s: %s", e.Code, e.Message)
}

// ErrorCode returns the protocol code of the *Error in err's chain, or "" when there is none.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// frame is the union of every server frame's fields, decoded once by the reader.
type frame struct {
	Type      string `json:"type"`
	RequestID string `json:"requestId,omitempty"`

	// ack, typing, receipt, history, and the 1.1 frames below
	ClientMsgID    string `json:"clientMsgId,omitempty"`
	ConversationID string `json:"conversationId,omitempty"`
	MessageID      string `json:"messageId,omitempty"`
	CreatedAt      int64  `json:"createdAt,omitempty"`
	UserID         string `json:"userId,omitempty"`
	State          string `json:"state,omitempty"`
	Status         string `json:"status,omitempty"`
	UpTo           string `json:"upTo,omitempty"`
	At             int64  `json:"at,omitempty"`
	Next           string `json:"next,omitempty"`
	// edited, deleted, reaction, muted
	EventID  string `json:"eventId,omitempty"`
	Body     string `json:"body,omitempty"`
	EditedAt int64  `json:"editedAt,omitempty"`
	Emoji    string `json:"emoji,omitempty"`
	Muted    bool   `json:"muted,omitempty"`
	Until    int64  `json:"until,omitempty"`

	Message       *Message              `json:"message,omitempty"`
	Messages      []Message             `json:"messages,omitempty"`
	Conversation  *Conversation         `json:"conversation,omitempty"`
	Conversations []ConversationSummary `json:"conversations,omitempty"`
	Users         []Presence            `json:"users,omitempty"`
	Count         int                   `json:"count,omitempty"`
	More          bool                  `json:"more,omitempty"`
	// synced
	LastMessageIDs map[string]string `json:"lastMessageIds,omitempty"`

	// error
	Action string `json:"action,omitempty"`
	Code   string `json:"code,omitempty"`
	// ErrMessage is the "message" of an error frame (a string there, an object elsewhere).
	ErrMessage string `json:"-"`
}

// errorFrame decodes the "message" field of an error frame, which is a string there and an
// object in message events.
type errorFrame struct {
	Action  string `json:"action"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// decodeFrame decodes one server frame.
func decodeFrame(data []byte) (*frame, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("decode frame: %w", err)
	}
	if head.Type == "" {
		return nil, errors.New("decode frame: no type")
	}
	if head.Type == TypeError {
		var e struct {
			RequestID string `json:"requestId"`
			errorFrame
		}
		if err := json.Unmarshal(data, &e); err != nil {
			return nil, fmt.Errorf("decode error frame: %w", err)
		}
		return &frame{Type: TypeError, RequestID: e.RequestID, Action: e.Action, Code: e.Code, ErrMessage: e.Message}, nil
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("decode %s frame: %w", head.Type, err)
	}
	return &f, nil
}

// Event is a frame the server pushed without a requestId. Exactly one of the pointer fields
// (or Presence) matches Type.
type Event struct {
	// Type is TypeMessage, TypeEdited, TypeDeleted, TypeReaction, TypeTyping,
	// TypeReceipt, TypeConversation, TypePresence or TypeError (an error answering a
	// frame sent without a requestId, such as typing).
	Type string
	// Received is when the client read the frame, for latency measurements.
	Received time.Time

	Message      *Message
	Edited       *Edited
	Deleted      *Deleted
	Reaction     *Reaction
	Typing       *Typing
	Receipt      *Receipt
	Conversation *Conversation
	Presence     []Presence
	Err          *Error
}

// event turns a pushed frame into an Event.
func (f *frame) event(received time.Time) Event {
	ev := Event{Type: f.Type, Received: received}
	switch f.Type {
	case TypeMessage:
		ev.Message = f.Message
	case TypeEdited:
		ev.Edited = f.edited()
	case TypeDeleted:
		ev.Deleted = f.deleted()
	case TypeReaction:
		ev.Reaction = f.reaction()
	case TypeTyping:
		ev.Typing = &Typing{ConversationID: f.ConversationID, UserID: f.UserID, State: f.State}
	case TypeReceipt:
		ev.Receipt = f.receipt()
	case TypeConversation:
		ev.Conversation = f.Conversation
	case TypePresence:
		ev.Presence = f.Users
	case TypeError:
		ev.Err = f.err()
	}
	return ev
}

// timelineItem returns the conversation and timeline id of a message or change frame, and
// whether f is one: a message's messageId, a change's eventId.
func (f *frame) timelineItem() (conversationID, id string, ok bool) {
	switch f.Type {
	case TypeMessage:
		if f.Message == nil {
			return "", "", false
		}
		return f.Message.ConversationID, f.Message.MessageID, true
	case TypeEdited, TypeDeleted, TypeReaction:
		return f.ConversationID, f.EventID, f.EventID != ""
	}
	return "", "", false
}

func (f *frame) edited() *Edited {
	return &Edited{ConversationID: f.ConversationID, MessageID: f.MessageID, EventID: f.EventID, Body: f.Body, EditedAt: f.EditedAt}
}

func (f *frame) deleted() *Deleted {
	return &Deleted{ConversationID: f.ConversationID, MessageID: f.MessageID, EventID: f.EventID, At: f.At}
}

func (f *frame) reaction() *Reaction {
	return &Reaction{ConversationID: f.ConversationID, MessageID: f.MessageID, EventID: f.EventID, UserID: f.UserID,
		Emoji: f.Emoji, State: f.State, At: f.At}
}

func (f *frame) muteState() *MuteState {
	return &MuteState{ConversationID: f.ConversationID, Muted: f.Muted, Until: f.Until}
}

func (f *frame) receipt() *Receipt {
	return &Receipt{ConversationID: f.ConversationID, UserID: f.UserID, Status: f.Status, UpTo: f.UpTo, At: f.At}
}

func (f *frame) err() *Error {
	return &Error{RequestID: f.RequestID, Action: f.Action, Code: f.Code, Message: f.ErrMessage}
}
