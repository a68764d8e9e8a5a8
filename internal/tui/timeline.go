package tui

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/parleychat/parley/internal/client"
)

// previewRunes is how much of a quoted body a reply's preview keeps, as the server makes it
// (docs/protocol.md, "send with replyTo").
const previewRunes = 100

// entry is what the session knows of one message: the message as it was last loaded (from
// a message event, an ack or a history page) and the changes that arrived for it, by
// eventId. Changes are applied when the message is shown, in eventId order, so that they
// may arrive in any order, twice, or before the message itself.
type entry struct {
	msg    client.Message // as loaded; only its ids until it is
	loaded bool
	num    int // the message's number (#N), given when it is first loaded
	// editsUpTo and reactionsUpTo are the eventIds up to which msg already includes the
	// edits and deletes, and the reactions: a history page's LastEventID for both; for a
	// message event its LastEventID for edits only, since message events carry no
	// reactions (sync's reaction frames build them).
	editsUpTo, reactionsUpTo string
	changes                  map[string]change // eventId -> change
}

// change is one edited, deleted or reaction event (or reply) of a message.
type change struct {
	kind  string // client.TypeEdited, client.TypeDeleted or client.TypeReaction
	body  string // an edit's
	at    int64  // an edit's editedAt
	user  string // a reaction's
	emoji string
	state string // client.ReactionAdd or client.ReactionRemove
}

// entry returns the entry of a message, creating an empty one.
func (s *state) entry(conv, id string) *entry {
	e, ok := s.msgs[id]
	if !ok {
		e = &entry{msg: client.Message{ConversationID: conv, MessageID: id}, changes: map[string]change{}}
		s.msgs[id] = e
	}
	return e
}

// load records m as its entry's message, numbering it when it is new, with the changes
// it already includes up to editsUpTo and reactionsUpTo.
func (s *state) load(m client.Message, editsUpTo, reactionsUpTo string) {
	e := s.entry(m.ConversationID, m.MessageID)
	e.msg, e.loaded = m, true
	e.editsUpTo, e.reactionsUpTo = editsUpTo, reactionsUpTo
	if e.num == 0 {
		s.numbered = append(s.numbered, m.MessageID)
		e.num = len(s.numbered)
	}
	for id, ch := range e.changes {
		if id <= e.upTo(ch.kind) {
			delete(e.changes, id)
		}
	}
}

// upTo is the eventId up to which the entry's message includes changes of kind.
func (e *entry) upTo(kind string) string {
	if kind == client.TypeReaction {
		return e.reactionsUpTo
	}
	return e.editsUpTo
}

// applyChange records a change of message messageID and reports whether it is new to a
// message already shown: false for no eventId (a reaction reply that changed nothing), a
// duplicate, a change the loaded message includes, or a message not loaded (the change is
// kept for when it is).
func (s *state) applyChange(conv, messageID, eventID string, ch change) bool {
	if eventID == "" {
		return false
	}
	e := s.entry(conv, messageID)
	if _, dup := e.changes[eventID]; dup || eventID <= e.upTo(ch.kind) {
		return false
	}
	e.changes[eventID] = ch
	return e.loaded
}

// applyEdited records an edit (an event, or the reply to /edit); see applyChange.
func (s *state) applyEdited(ed *client.Edited) bool {
	if ed == nil {
		return false
	}
	return s.applyChange(ed.ConversationID, ed.MessageID, ed.EventID, change{kind: client.TypeEdited, body: ed.Body, at: ed.EditedAt})
}

// applyDeleted records a delete (an event, or the reply to /delete); see applyChange.
func (s *state) applyDeleted(d *client.Deleted) bool {
	if d == nil {
		return false
	}
	return s.applyChange(d.ConversationID, d.MessageID, d.EventID, change{kind: client.TypeDeleted})
}

// applyReaction records a reaction added or removed (an event, or the reply to /react);
// see applyChange.
func (s *state) applyReaction(r *client.Reaction) bool {
	if r == nil {
		return false
	}
	return s.applyChange(r.ConversationID, r.MessageID, r.EventID, change{kind: client.TypeReaction, user: r.UserID, emoji: r.Emoji, state: r.State})
}

// shown returns a loaded message as it now stands, with its number: the latest body, or
// deleted without one, and its reactions, most frequent first.
func (s *state) shown(id string) (client.Message, int, bool) {
	e, ok := s.msgs[id]
	if !ok || !e.loaded {
		return client.Message{}, 0, false
	}
	m := e.msg
	m.Reactions = slices.Clone(m.Reactions)
	ids := make([]string, 0, len(e.changes))
	for id := range e.changes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		ch := e.changes[id]
		switch ch.kind {
		case client.TypeEdited:
			if !m.Deleted {
				m.Body, m.EditedAt = ch.body, ch.at
			}
		case client.TypeDeleted:
			m.Body, m.Deleted = "", true
		case client.TypeReaction:
			m.Reactions = s.react(m.Reactions, ch)
		}
	}
	sort.SliceStable(m.Reactions, func(i, j int) bool { return m.Reactions[i].Count > m.Reactions[j].Count })
	return m, e.num, true
}

// react applies one reaction change to a message's counts. The server sends a change only
// when it changed something, so each is one more or one fewer.
func (s *state) react(rs []client.ReactionCount, ch change) []client.ReactionCount {
	i := slices.IndexFunc(rs, func(r client.ReactionCount) bool { return r.Emoji == ch.emoji })
	if ch.state == client.ReactionRemove {
		if i < 0 {
			return rs
		}
		rs[i].Count--
		if ch.user == s.user {
			rs[i].Mine = false
		}
		if rs[i].Count <= 0 {
			rs = slices.Delete(rs, i, i+1)
		}
		return rs
	}
	if i < 0 {
		rs = append(rs, client.ReactionCount{Emoji: ch.emoji})
		i = len(rs) - 1
	}
	rs[i].Count++
	if ch.user == s.user {
		rs[i].Mine = true
	}
	return rs
}

// number returns the number of a shown message, 0 for a message not shown.
func (s *state) number(id string) int {
	if e, ok := s.msgs[id]; ok && e.loaded {
		return e.num
	}
	return 0
}

// reacted reports whether the user's reactions on message id include emoji.
func (s *state) reacted(id, emoji string) bool {
	m, _, ok := s.shown(id)
	return ok && slices.ContainsFunc(m.Reactions, func(r client.ReactionCount) bool { return r.Emoji == emoji && r.Mine })
}

// target resolves the message a command names: number n, or with n 0 the newest message of
// the open conversation that is not deleted (the user's own with own). With own, the
// message must be the user's; a deleted message can be neither changed nor answered.
func (s *state) target(n int, own bool) (client.Message, error) {
	if n == 0 {
		return s.newest(own)
	}
	if n < 1 || n > len(s.numbered) {
		return client.Message{}, fmt.Errorf("no message #%d", n)
	}
	m, _, _ := s.shown(s.numbered[n-1])
	switch {
	case own && m.SenderID != s.user:
		return client.Message{}, fmt.Errorf("#%d is %s's message, not yours", n, m.SenderID)
	case m.Deleted:
		return client.Message{}, fmt.Errorf("#%d is deleted", n)
	}
	return m, nil
}

// newest returns the newest message of the open conversation that is not deleted (the
// user's own with own).
func (s *state) newest(own bool) (client.Message, error) {
	open, err := s.requireOpen()
	if err != nil {
		return client.Message{}, err
	}
	var best client.Message
	for _, id := range s.numbered {
		m, _, _ := s.shown(id)
		if m.ConversationID != open || m.Deleted || (own && m.SenderID != s.user) || m.MessageID <= best.MessageID {
			continue
		}
		best = m
	}
	switch {
	case best.MessageID != "":
		return best, nil
	case own:
		return client.Message{}, errors.New("none of your messages is shown here: name one by its number")
	default:
		return client.Message{}, errors.New("no message is shown here: name one by its number")
	}
}

// quoteOf is the replyTo a reply to m carries: m's id, sender and the start of its body.
func quoteOf(m client.Message) *client.ReplyRef {
	preview, _ := cut(m.Body, previewRunes)
	return &client.ReplyRef{MessageID: m.MessageID, SenderID: m.SenderID, Preview: preview}
}

// cut returns the first n characters of s, and whether that left some out.
func cut(s string, n int) (string, bool) {
	r := []rune(s)
	if len(r) <= n {
		return s, false
	}
	return string(r[:n]), true
}
