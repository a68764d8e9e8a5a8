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
// conversation summaries.
type Message struct {
	ConversationID string `json:"conversationId"`
	MessageID      string `json:"messageId"`
	SenderID       string `json:"senderId"`
	Body           string `json:"body"`
	CreatedAt      int64  `json:"createdAt"` // Unix milliseconds
	ClientMsgID    string `json:"clientMsgId,omitempty"`
	// Status is set in history pages on the caller's own messages of a direct
	// conversation: StatusSent, StatusDelivered or StatusRead.
	Status string `json:"status,omitempty"`
	// DeliveredTo and ReadBy are set in history pages on the caller's own messages of a
	// group: how many other members have it delivered, and read.
	DeliveredTo *int `json:"deliveredTo,omitempty"`
	ReadBy      *int `json:"readBy,omitempty"`
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

// SyncResult is the end of one sync call. The messages themselves arrived before it as
// message events.
type SyncResult struct {
	Count int  `json:"count"`
	More  bool `json:"more"`
	// LastMessageIDs maps each conversation the sync sent messages of to the last id it
	// sent (Parley's addition to PROTOCOL.md; nil from a server without it).
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

	// ack, typing, receipt, history
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
	// Type is TypeMessage, TypeTyping, TypeReceipt, TypeConversation, TypePresence or
	// TypeError (an error answering a frame sent without a requestId, such as typing).
	Type string
	// Received is when the client read the frame, for latency measurements.
	Received time.Time

	Message      *Message
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

func (f *frame) receipt() *Receipt {
	return &Receipt{ConversationID: f.ConversationID, UserID: f.UserID, Status: f.Status, UpTo: f.UpTo, At: f.At}
}

func (f *frame) err() *Error {
	return &Error{RequestID: f.RequestID, Action: f.Action, Code: f.Code, Message: f.ErrMessage}
}
