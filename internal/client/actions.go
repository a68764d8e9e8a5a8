package client

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Send sends body to a conversation and returns the ack, which means the message is
// durably stored. Resending with the same clientMsgID returns the same messageId.
func (c *Conn) Send(ctx context.Context, conversationID, clientMsgID, body string) (*Ack, error) {
	if conversationID == "" {
		return nil, errors.New("parley: send: empty conversation id")
	}
	return c.send(ctx, map[string]any{"conversationId": conversationID, "clientMsgId": clientMsgID, "body": body})
}

// SendDirect sends body to the direct conversation with user to, creating it on first use.
func (c *Conn) SendDirect(ctx context.Context, to, clientMsgID, body string) (*Ack, error) {
	if to == "" {
		return nil, errors.New("parley: send: empty recipient")
	}
	return c.send(ctx, map[string]any{"to": to, "clientMsgId": clientMsgID, "body": body})
}

// SendReply sends body to a conversation as a reply to replyTo, a message of the same
// conversation (an eventId or another conversation's message is not_found). The message
// events, and history, then carry the quoted message's id, sender and preview in ReplyTo.
// Like Send, it is idempotent on clientMsgID.
func (c *Conn) SendReply(ctx context.Context, conversationID, clientMsgID, body, replyTo string) (*Ack, error) {
	if conversationID == "" {
		return nil, errors.New("parley: send: empty conversation id")
	}
	if replyTo == "" {
		return nil, errors.New("parley: send: empty replyTo")
	}
	return c.send(ctx, map[string]any{"conversationId": conversationID, "clientMsgId": clientMsgID, "body": body, "replyTo": replyTo})
}

func (c *Conn) send(ctx context.Context, fields map[string]any) (*Ack, error) {
	f, err := c.request(ctx, "send", TypeAck, fields)
	if err != nil {
		return nil, err
	}
	return &Ack{ClientMsgID: f.ClientMsgID, ConversationID: f.ConversationID, MessageID: f.MessageID, CreatedAt: f.CreatedAt}, nil
}

// Edit replaces the body of one of the caller's messages and returns the edit as stored.
// The caller's other connections and the other members get it as a TypeEdited event.
// Resending the edit applied last (same body) returns that edit again and changes nothing,
// so an edit whose reply was lost may be retried. A deleted message is not_found.
func (c *Conn) Edit(ctx context.Context, conversationID, messageID, body string) (*Edited, error) {
	f, err := c.request(ctx, "edit", TypeEdited, map[string]any{
		"conversationId": conversationID, "messageId": messageID, "body": body,
	})
	if err != nil {
		return nil, err
	}
	return f.edited(), nil
}

// Delete deletes one of the caller's messages (its body is erased from storage) and returns
// the delete as stored. The caller's other connections and the other members get it as a
// TypeDeleted event. Deleting again returns the first delete and changes nothing.
func (c *Conn) Delete(ctx context.Context, conversationID, messageID string) (*Deleted, error) {
	f, err := c.request(ctx, "delete", TypeDeleted, map[string]any{"conversationId": conversationID, "messageId": messageID})
	if err != nil {
		return nil, err
	}
	return f.deleted(), nil
}

// React adds (ReactionAdd) or removes (ReactionRemove) the caller's reaction emoji to a
// message and returns the change. The caller's other connections and the other members get
// it as a TypeReaction event. Adding a reaction the caller has, or removing one it has not,
// changes nothing: the returned Reaction then has no EventID, unless the call repeats the
// change applied last (a retry), which returns that change's EventID.
func (c *Conn) React(ctx context.Context, conversationID, messageID, emoji, state string) (*Reaction, error) {
	if state != ReactionAdd && state != ReactionRemove {
		return nil, fmt.Errorf("parley: react: state %q must be %q or %q", state, ReactionAdd, ReactionRemove)
	}
	f, err := c.request(ctx, "react", TypeReaction, map[string]any{
		"conversationId": conversationID, "messageId": messageID, "emoji": emoji, "state": state,
	})
	if err != nil {
		return nil, err
	}
	return f.reaction(), nil
}

// Mute stops the caller's offline notifications of a conversation until until (which must
// be in the future), or until Unmute when until is the zero time. Live delivery is
// unchanged.
func (c *Conn) Mute(ctx context.Context, conversationID string, until time.Time) (*MuteState, error) {
	fields := map[string]any{"conversationId": conversationID}
	if !until.IsZero() {
		fields["until"] = until.UnixMilli()
	}
	f, err := c.request(ctx, "mute", TypeMuted, fields)
	if err != nil {
		return nil, err
	}
	return f.muteState(), nil
}

// Unmute ends the caller's mute of a conversation's offline notifications.
func (c *Conn) Unmute(ctx context.Context, conversationID string) (*MuteState, error) {
	f, err := c.request(ctx, "unmute", TypeMuted, map[string]any{"conversationId": conversationID})
	if err != nil {
		return nil, err
	}
	return f.muteState(), nil
}

// Typing tells the other members that the caller started (TypingStart) or stopped
// (TypingStop) typing. Nothing is acknowledged; an error (such as forbidden) arrives as an
// Event of type TypeError.
func (c *Conn) Typing(conversationID, state string) error {
	if state != TypingStart && state != TypingStop {
		return fmt.Errorf("parley: typing: state %q must be %q or %q", state, TypingStart, TypingStop)
	}
	return c.write("typing", map[string]any{"conversationId": conversationID, "state": state})
}

// Receipt moves the caller's delivered (StatusDelivered) or read (StatusRead) cursor of a
// conversation forward to messageID and returns the cursor as the server recorded it.
func (c *Conn) Receipt(ctx context.Context, conversationID, messageID, status string) (*Receipt, error) {
	if status != StatusDelivered && status != StatusRead {
		return nil, fmt.Errorf("parley: receipt: status %q must be %q or %q", status, StatusDelivered, StatusRead)
	}
	f, err := c.request(ctx, "receipt", TypeReceipt, map[string]any{
		"conversationId": conversationID, "messageId": messageID, "status": status,
	})
	if err != nil {
		return nil, err
	}
	return f.receipt(), nil
}

// History returns a page of a conversation's messages older than before ("" for the
// newest), newest first; limit 0 means the server default (50). Each message is folded to
// its current state, with its reactions and LastEventID.
func (c *Conn) History(ctx context.Context, conversationID, before string, limit int) (*HistoryPage, error) {
	fields := map[string]any{"conversationId": conversationID}
	if before != "" {
		fields["before"] = before
	}
	if limit != 0 {
		fields["limit"] = limit
	}
	f, err := c.request(ctx, "history", TypeHistory, fields)
	if err != nil {
		return nil, err
	}
	return &HistoryPage{ConversationID: f.ConversationID, Messages: f.Messages, Next: f.Next}, nil
}

// Sync asks for the timeline items after the caller's delivered cursors. They arrive on
// Events before Sync returns, messages as message events and changes as edited, deleted
// and reaction events; SyncAll is the usual way to call it.
func (c *Conn) Sync(ctx context.Context) (*SyncResult, error) {
	f, err := c.request(ctx, "sync", TypeSynced, map[string]any{})
	if err != nil {
		return nil, err
	}
	return &SyncResult{Count: f.Count, More: f.More, LastMessageIDs: f.LastMessageIDs}, nil
}

// Conversations lists the caller's conversations, most recent activity first.
func (c *Conn) Conversations(ctx context.Context) ([]ConversationSummary, error) {
	f, err := c.request(ctx, "conversations", TypeConversations, map[string]any{})
	if err != nil {
		return nil, err
	}
	return f.Conversations, nil
}

// CreateConversation creates a conversation of the caller and members. One member and no
// name is the direct conversation with that member (the same one every time); otherwise a
// group.
func (c *Conn) CreateConversation(ctx context.Context, name string, members ...string) (*Conversation, error) {
	fields := map[string]any{"members": members}
	if name != "" {
		fields["name"] = name
	}
	return c.conversation(ctx, "createConversation", fields)
}

// AddMembers adds members to a group and returns the group as it now stands.
func (c *Conn) AddMembers(ctx context.Context, conversationID string, members ...string) (*Conversation, error) {
	return c.conversation(ctx, "addMembers", map[string]any{"conversationId": conversationID, "members": members})
}

// Leave removes the caller from a group and returns the group as it now stands.
func (c *Conn) Leave(ctx context.Context, conversationID string) (*Conversation, error) {
	return c.conversation(ctx, "leave", map[string]any{"conversationId": conversationID})
}

func (c *Conn) conversation(ctx context.Context, action string, fields map[string]any) (*Conversation, error) {
	f, err := c.request(ctx, action, TypeConversation, fields)
	if err != nil {
		return nil, err
	}
	if f.Conversation == nil {
		return nil, fmt.Errorf("parley: %s: reply without conversation", action)
	}
	return f.Conversation, nil
}

// Presence returns the presence of 1 to 100 users.
func (c *Conn) Presence(ctx context.Context, userIDs ...string) ([]Presence, error) {
	f, err := c.request(ctx, "presence", TypePresence, map[string]any{"userIds": userIDs})
	if err != nil {
		return nil, err
	}
	return f.Users, nil
}

// Heartbeat checks that the connection answers, returning the server's time. Dial starts a
// loop that calls it when Options.HeartbeatInterval is set. It refreshes nothing on the
// server (presence is the open connection).
func (c *Conn) Heartbeat(ctx context.Context) (time.Time, error) {
	f, err := c.request(ctx, "heartbeat", TypeHeartbeat, map[string]any{})
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(f.At), nil
}
