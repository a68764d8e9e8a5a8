package chat

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Changes to messages: edit, delete, react (PROTOCOL.md §8; docs/architecture.md,
// "Timeline storage").
//
// A change is two writes, because neither store offers a transaction across items (and
// dynalite none at all): first the message's folded state, as a compare-and-set on its
// Version (MessageStore.ApplyChange), recording the change as its LastChange; then the
// change event, an item of the timeline under its own eventId (PutMessage), which the
// stream (or outbox) fans out and sync replays, exactly like a message. When the second
// write fails the caller gets an error, and a retry of the same change finds it applied
// (LastChange) and stores its event again: the retry path of each action. The event is
// stored only after the state, so no member can see a change that the state lacks.

// A change that lost the compare-and-set to a concurrent one re-reads the message and
// tries again, after a jittered pause that doubles from changeBackoff up to
// maxChangeBackoff, so that the changes racing for one message (a popular message's
// reactions) spread out instead of colliding again. It gives up (internal, which a client
// retries) after changeBudget or maxChangeRounds. One message takes about one change per
// read-and-write round trip: docs/benchmarks.md has the figures.
const (
	changeBackoff    = 4 * time.Millisecond
	maxChangeBackoff = 100 * time.Millisecond
	changeBudget     = 3 * time.Second
	maxChangeRounds  = 64
)

// changeTarget is an authorized change's message and delivery plan.
type changeTarget struct {
	msg  Message
	plan *inlinePlan
}

// changeOutcome is what an action decides for a message as read.
type changeOutcome struct {
	// next is the message's new state; nil for a change that changes nothing.
	next *Message
	// change is the change made (next != nil), or for a repeat the change applied last,
	// whose event is stored again.
	change *Change
}

// Edit replaces the body of one of the caller's messages.
func (s *Service) Edit(ctx context.Context, c Caller, conversationID, messageID string, body *string) (EditedFrame, error) {
	if body == nil {
		return EditedFrame{}, Errorf(CodeBadRequest, "body is required")
	}
	if err := validBody(*body); err != nil {
		return EditedFrame{}, err
	}
	ch, err := s.change(ctx, c, conversationID, messageID, func(m Message, at int64) (changeOutcome, error) {
		if m.SenderID != c.UserID {
			return changeOutcome{}, Errorf(CodeForbidden, "only the sender may edit a message")
		}
		if m.Deleted {
			return changeOutcome{}, Errorf(CodeNotFound, "message %q is deleted", messageID)
		}
		if last := m.LastChange(); last != nil && last.Kind == ChangeEdit && m.Body == *body {
			return changeOutcome{change: last}, nil // a retry of the edit applied last
		}
		next := m
		next.Body, next.EditedAt = *body, at
		ch := &Change{Kind: ChangeEdit, Body: *body}
		if len(m.EditIDs) >= MaxKeptEdits {
			ch.Erases = m.EditIDs[:len(m.EditIDs)-MaxKeptEdits+1]
		}
		return changeOutcome{next: &next, change: ch}, nil
	})
	if err != nil {
		return EditedFrame{}, err
	}
	return EditedFrame{Type: TypeEdited, RequestID: c.RequestID, ConversationID: conversationID, MessageID: messageID,
		EventID: ch.EventID, Body: *body, EditedAt: ch.At}, nil
}

// Delete erases one of the caller's messages: its body, and that of its last edit, leave
// storage; its place in the timeline stays.
func (s *Service) Delete(ctx context.Context, c Caller, conversationID, messageID string) (DeletedFrame, error) {
	ch, err := s.change(ctx, c, conversationID, messageID, func(m Message, at int64) (changeOutcome, error) {
		if m.SenderID != c.UserID {
			return changeOutcome{}, Errorf(CodeForbidden, "only the sender may delete a message")
		}
		if m.Deleted {
			// Nothing changes after a delete, so the change applied last is the delete.
			return changeOutcome{change: m.LastChange()}, nil
		}
		next := m
		next.Body, next.Deleted, next.EditIDs = "", true, nil
		return changeOutcome{next: &next, change: &Change{Kind: ChangeDelete, Erases: m.EditIDs}}, nil
	})
	if err != nil {
		return DeletedFrame{}, err
	}
	return DeletedFrame{Type: TypeDeleted, RequestID: c.RequestID, ConversationID: conversationID, MessageID: messageID,
		EventID: ch.EventID, At: ch.At}, nil
}

// React adds (state "add" or "") or removes (state "remove") the caller's reaction emoji
// to a message.
func (s *Service) React(ctx context.Context, c Caller, conversationID, messageID, emoji, state string) (ReactionFrame, error) {
	if err := validEmoji(emoji); err != nil {
		return ReactionFrame{}, err
	}
	switch state {
	case "":
		state = ReactionAdd
	case ReactionAdd, ReactionRemove:
	default:
		return ReactionFrame{}, Errorf(CodeBadRequest, "state must be %q or %q", ReactionAdd, ReactionRemove)
	}
	ch, err := s.change(ctx, c, conversationID, messageID, func(m Message, at int64) (changeOutcome, error) {
		if m.Deleted {
			return changeOutcome{}, Errorf(CodeNotFound, "message %q is deleted", messageID)
		}
		users := m.Reactions[emoji]
		_, has := slices.BinarySearch(users, c.UserID)
		if has == (state == ReactionAdd) {
			// A retry of a change that made the state so, when it is among the recent ones.
			for i := len(m.Changes) - 1; i >= 0; i-- {
				if ch := m.Changes[i]; ch.Kind == ChangeReaction && ch.UserID == c.UserID && ch.Emoji == emoji {
					if ch.State == state {
						return changeOutcome{change: &ch}, nil
					}
					break
				}
			}
			return changeOutcome{change: &Change{Kind: ChangeReaction, UserID: c.UserID, Emoji: emoji, State: state, At: at}}, nil
		}
		next := m
		next.Reactions = make(map[string][]string, len(m.Reactions)+1)
		mine, total := 0, 0
		for e, us := range m.Reactions {
			if e != emoji {
				next.Reactions[e] = us
			}
			total += len(us)
			if _, ok := slices.BinarySearch(us, c.UserID); ok {
				mine++
			}
		}
		if state == ReactionAdd {
			switch {
			case mine >= MaxUserReactions:
				return changeOutcome{}, Errorf(CodeTooLarge, "you have %d reactions on this message, the limit is %d", mine, MaxUserReactions)
			case total >= MaxMessageReactions:
				return changeOutcome{}, Errorf(CodeTooLarge, "the message has %d reactions, the limit is %d", total, MaxMessageReactions)
			}
			i, _ := slices.BinarySearch(users, c.UserID)
			next.Reactions[emoji] = slices.Insert(slices.Clone(users), i, c.UserID)
		} else if rest := slices.DeleteFunc(slices.Clone(users), func(u string) bool { return u == c.UserID }); len(rest) > 0 {
			next.Reactions[emoji] = rest
		}
		if len(next.Reactions) == 0 {
			next.Reactions = nil
		}
		return changeOutcome{next: &next, change: &Change{Kind: ChangeReaction, Emoji: emoji, State: state}}, nil
	})
	if err != nil {
		return ReactionFrame{}, err
	}
	return ReactionFrame{Type: TypeReaction, RequestID: c.RequestID, ConversationID: conversationID, MessageID: messageID,
		EventID: ch.EventID, UserID: c.UserID, Emoji: emoji, State: state, At: ch.At}, nil
}

// change runs one change: it authorizes the caller as a member while it reads the
// message, lets decide compute the outcome, applies it (re-reading on a concurrent
// change), stores its event and delivers it. It returns the change made, or, for a change
// that changed nothing, the one decide named (whose event is stored again when it has an
// EventID: it is the retry of a change whose event may be missing).
func (s *Service) change(ctx context.Context, c Caller, conversationID, messageID string,
	decide func(m Message, at int64) (changeOutcome, error)) (Change, error) {
	if err := validConversationID(conversationID); err != nil {
		return Change{}, err
	}
	if !ValidULID(messageID) {
		return Change{}, Errorf(CodeBadRequest, "messageId %q is not a message id", messageID)
	}
	t, err := s.changeTarget(ctx, c, conversationID, messageID)
	if err != nil {
		return Change{}, err
	}
	m := t.msg
	started := s.opts.Now()
	for round := 1; ; round++ {
		at := s.now()
		out, err := decide(m, at)
		if err != nil {
			return Change{}, err
		}
		if out.next == nil {
			if out.change == nil || out.change.EventID == "" {
				return derefChange(out.change), nil
			}
			// A repeat of a recent change (a retry): storing its event, its erasures or
			// its push may be what failed the first time.
			if err := s.storeChange(ctx, c, m, *out.change, t.plan); err != nil {
				return Change{}, err
			}
			return *out.change, nil
		}
		ch := *out.change
		ch.MessageID, ch.UserID, ch.At = messageID, c.UserID, at
		ch.EventID = s.eventID(m, at)
		next := *out.next
		next.Version = m.Version + 1
		next.LastEventID = ch.EventID
		last := ch
		last.Body = "" // an edit's body is the message's
		next.Changes = append(slices.Clone(m.Changes[max(len(m.Changes)-MaxRecentChanges+1, 0):]), last)
		if ch.Kind == ChangeEdit {
			next.EditIDs = append(slices.Clone(m.EditIDs[len(ch.Erases):]), ch.EventID)
		}
		err = s.messages.ApplyChange(ctx, next, m.Version)
		if err == nil {
			return ch, s.storeChange(ctx, c, next, ch, t.plan)
		}
		if !errors.Is(err, ErrConflict) {
			return Change{}, fmt.Errorf("apply %s to %s/%s: %w", ch.Kind, conversationID, messageID, err)
		}
		if round == maxChangeRounds || s.opts.Now().Sub(started) > changeBudget {
			return Change{}, fmt.Errorf("apply %s to %s/%s: changed concurrently %d times in %v", ch.Kind, conversationID, messageID,
				round, s.opts.Now().Sub(started).Round(time.Millisecond))
		}
		select {
		case <-s.opts.After(jitter(min(changeBackoff<<min(round-1, 8), maxChangeBackoff))):
		case <-ctx.Done():
			return Change{}, fmt.Errorf("apply %s to %s/%s: %w", ch.Kind, conversationID, messageID, ctx.Err())
		}
		if m, err = s.readMessage(ctx, conversationID, messageID); err != nil {
			return Change{}, err
		}
	}
}

func derefChange(c *Change) Change {
	if c == nil {
		return Change{}
	}
	return *c
}

// changeTarget checks that the caller is a member of the conversation while it reads the
// message (both at once; the membership's answer comes first, so a non-member learns
// nothing of the message) and, when the inline path is on, plans the push of the event.
func (s *Service) changeTarget(ctx context.Context, c Caller, conversationID, messageID string) (changeTarget, error) {
	var t changeTarget
	var msgErr error
	read := make(chan struct{})
	go func() {
		defer close(read)
		t.msg, msgErr = s.readMessage(ctx, conversationID, messageID)
	}()
	// Not under a context that ends with this call: the plan reads the members on after it.
	plan, err := s.authorizeGroup(ctx, conversationID, c.UserID)
	<-read
	if err != nil {
		return changeTarget{}, err
	}
	t.plan = plan
	return t, msgErr
}

// readMessage reads a message (not a change event) of the conversation.
func (s *Service) readMessage(ctx context.Context, conversationID, messageID string) (Message, error) {
	m, err := s.messages.GetMessage(ctx, conversationID, messageID)
	switch {
	case errors.Is(err, ErrNotFound) || err == nil && m.IsChange():
		return Message{}, Errorf(CodeNotFound, "no message %q in %q", messageID, conversationID)
	case err != nil:
		return Message{}, fmt.Errorf("read message %s/%s: %w", conversationID, messageID, err)
	}
	return m, nil
}

// eventID makes the id of a change to m at time at: above every change applied to m
// before, so that a message's changes sort in the order they were applied even when the
// instances' clocks disagree.
func (s *Service) eventID(m Message, at int64) string {
	t := time.UnixMilli(at)
	if last := m.LastChange(); last != nil && last.At >= at {
		t = time.UnixMilli(last.At + 1)
	}
	for {
		id := s.ids.New(t)
		if id > m.LastEventID && id > m.MessageID {
			return id
		}
		t = t.Add(time.Millisecond)
	}
}

// storeChange completes a change applied to m (now in its state after it): it stores the
// change's event, erases the body the change superseded, records an edited or deleted
// last message, and pushes the event to the members' connections on the inline path.
func (s *Service) storeChange(ctx context.Context, c Caller, m Message, ch Change, plan *inlinePlan) error {
	ev := Message{
		ConversationID: m.ConversationID,
		MessageID:      ch.EventID,
		SenderID:       ch.UserID,
		CreatedAt:      ch.At,
		Change:         &ch,
		Inline:         plan != nil,
		Origin:         c.ConnectionID,
	}
	if ch.Kind == ChangeEdit {
		ev.Body = m.Body // the edit stored again by a retry is the message's last
		ch.Body = m.Body
	}
	if err := s.messages.PutMessage(ctx, ev); err != nil {
		return fmt.Errorf("store %s event %s of %s/%s: %w", ch.Kind, ch.EventID, m.ConversationID, ch.MessageID, err)
	}
	err := parallel(ctx, len(ch.Erases), s.opts.ReadConcurrency, func(ctx context.Context, i int) error {
		if err := s.messages.EraseBody(ctx, m.ConversationID, ch.Erases[i]); err != nil {
			return fmt.Errorf("erase the body of edit %s of %s/%s: %w", ch.Erases[i], m.ConversationID, ch.MessageID, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if ch.Kind == ChangeEdit || ch.Kind == ChangeDelete {
		if err := s.conversations.SetLastMessage(ctx, summary(m)); err != nil {
			return fmt.Errorf("set last message of %s: %w", m.ConversationID, err)
		}
	}
	if plan != nil {
		s.pushChangeInline(ctx, c, ev, plan)
	}
	return nil
}

// pushChangeInline pushes a stored change event to every member's connections but the
// caller's, and marks it delivered when every post ended, as Send's inline path does for
// messages. A failure only leaves the event to the stream fan-out.
func (s *Service) pushChangeInline(ctx context.Context, c Caller, ev Message, plan *inlinePlan) {
	members, err := plan.wait(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "change: inline delivery not started: the stream delivers", "conversationId", ev.ConversationID, "eventId", ev.MessageID, "err", err)
		return
	}
	frame, ok := TimelineFrame(ev)
	if !ok {
		return
	}
	data, err := Encode(frame)
	if err != nil {
		s.log.ErrorContext(ctx, "encode change event", "err", err)
		return
	}
	if _, err := s.pushToUsers(ctx, members, c.ConnectionID, push{frame: data, retry: true, path: PathInline, createdAt: ev.CreatedAt}); err != nil {
		s.log.InfoContext(ctx, "change: inline delivery incomplete: the stream delivers", "conversationId", ev.ConversationID, "eventId", ev.MessageID, "err", err)
		return
	}
	if err := s.conversations.MarkInline(ctx, MessageRef{ev.ConversationID, ev.MessageID}); err != nil {
		s.log.WarnContext(ctx, "change: mark inline delivery: the stream delivers again", "conversationId", ev.ConversationID, "eventId", ev.MessageID, "err", err)
	}
}

// summary is m as a conversation's last message: its folded body, without its reactions
// and change records.
func summary(m Message) Message {
	m.Reactions, m.Changes, m.EditIDs, m.Version, m.Inline = nil, nil, nil, 0, false
	return m
}

// TimelineFrame returns the frame that carries a timeline item to a member: a message
// frame for a message, an edited, deleted or reaction frame for a change. ok is false
// for an item no member is to get: an edit whose body a later edit or a delete erased.
func TimelineFrame(m Message) (frame any, ok bool) {
	c := m.Change
	if c == nil {
		return MessageFrame{Type: TypeMessage, Message: m}, true
	}
	switch c.Kind {
	case ChangeEdit:
		if c.Body == "" {
			return nil, false
		}
		return EditedFrame{Type: TypeEdited, ConversationID: m.ConversationID, MessageID: c.MessageID, EventID: c.EventID, Body: c.Body, EditedAt: c.At}, true
	case ChangeDelete:
		return DeletedFrame{Type: TypeDeleted, ConversationID: m.ConversationID, MessageID: c.MessageID, EventID: c.EventID, At: c.At}, true
	case ChangeReaction:
		return ReactionFrame{Type: TypeReaction, ConversationID: m.ConversationID, MessageID: c.MessageID, EventID: c.EventID,
			UserID: c.UserID, Emoji: c.Emoji, State: c.State, At: c.At}, true
	}
	return nil, false
}

// reactionCounts folds a message's reactions for the caller: most frequent first, then
// by emoji.
func reactionCounts(rx map[string][]string, caller string) []ReactionCount {
	if len(rx) == 0 {
		return nil
	}
	out := make([]ReactionCount, 0, len(rx))
	for e, users := range rx {
		if len(users) == 0 {
			continue
		}
		_, mine := slices.BinarySearch(users, caller)
		out = append(out, ReactionCount{Emoji: e, Count: len(users), Mine: mine})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Emoji < out[j].Emoji
	})
	return out
}

// validBody checks a message body against send's rules.
func validBody(body string) error {
	switch {
	case len(body) == 0:
		return Errorf(CodeBadRequest, "body must not be empty")
	case len(body) > MaxBodyBytes:
		return Errorf(CodeTooLarge, "body is %d bytes, the limit is %d", len(body), MaxBodyBytes)
	case !utf8.ValidString(body):
		return Errorf(CodeBadRequest, "body is not valid UTF-8")
	}
	return nil
}

// validEmoji checks a reaction: 1 to MaxEmojiBytes bytes of UTF-8 without spaces or
// control characters.
func validEmoji(e string) error {
	switch {
	case e == "":
		return Errorf(CodeBadRequest, "emoji is required")
	case len(e) > MaxEmojiBytes:
		return Errorf(CodeBadRequest, "emoji is %d bytes, the limit is %d", len(e), MaxEmojiBytes)
	case !utf8.ValidString(e):
		return Errorf(CodeBadRequest, "emoji is not valid UTF-8")
	case strings.IndexFunc(e, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return Errorf(CodeBadRequest, "emoji must not contain spaces or control characters")
	}
	return nil
}

// preview returns the first MaxPreviewRunes characters of body.
func preview(body string) string {
	n := 0
	for i := range body {
		if n == MaxPreviewRunes {
			return body[:i]
		}
		n++
	}
	return body
}
