package chat

import (
	"slices"
	"sort"
	"sync"
	"time"

	"context"
	"errors"
	"fmt"

	"github.com/oklog/ulid/v2"
)

// SendInput is a send request.
type SendInput struct {
	ConversationID string
	To             string
	ClientMsgID    string
	Body           *string
	// ReplyTo is the id of the message this one answers ("" for none).
	ReplyTo string
}

// Send stores a message and acknowledges it. It is idempotent on (sender, conversation,
// clientMsgId): a resend stores nothing new, and every ack of one clientMsgId carries the
// same messageId and createdAt. (A resend that finds no message stored under a
// reservation older than ReserveStale gets a fresh messageId: see resent. No ack can have
// carried the old one.) The ack is returned (or posted) only once the message is durably
// stored. Delivery to members happens through the store's stream (Deliver) and, in a
// conversation of at most Options.InlineMaxMembers members, first by Send itself (the
// inline path, internal/chat/inline.go), which then posts the ack and sets its Posted.
//
// A first send (its Reserve stores the reservation) calls Reserve, PutMessage and
// SetLastMessage, nothing more on the stream path (the inline path adds its reads, posts
// and mark); only a resend reads the message (GetMessage) and, when it
// must, renews the reservation.
func (s *Service) Send(ctx context.Context, c Caller, in SendInput) (AckFrame, error) {
	if err := validID("clientMsgId", in.ClientMsgID); err != nil {
		return AckFrame{}, err
	}
	if in.Body == nil {
		return AckFrame{}, Errorf(CodeBadRequest, "body is required")
	}
	body := *in.Body
	if err := validBody(body); err != nil {
		return AckFrame{}, err
	}
	if in.ReplyTo != "" && !ValidULID(in.ReplyTo) {
		return AckFrame{}, Errorf(CodeBadRequest, "replyTo %q is not a message id", in.ReplyTo)
	}
	convID, plan, err := s.sendTarget(ctx, c, in)
	if err != nil {
		return AckFrame{}, err
	}
	var reply *ReplyRef
	if in.ReplyTo != "" {
		if reply, err = s.quote(ctx, convID, in.ReplyTo); err != nil {
			return AckFrame{}, err
		}
	}

	now := s.opts.Now()
	mine := Reservation{
		ConversationID: convID,
		SenderID:       c.UserID,
		ClientMsgID:    in.ClientMsgID,
		MessageID:      s.ids.New(now),
		CreatedAt:      now.UnixMilli(),
	}
	r, err := s.messages.Reserve(ctx, mine)
	if err != nil {
		return AckFrame{}, fmt.Errorf("reserve %s/%s: %w", convID, in.ClientMsgID, err)
	}
	var stored *Message
	if r.MessageID != mine.MessageID { // a resend: an earlier attempt reserved the id
		if r, stored, err = s.resent(ctx, r); err != nil {
			return AckFrame{}, err
		}
	}
	m := Message{
		ConversationID: convID,
		MessageID:      r.MessageID,
		SenderID:       c.UserID,
		Body:           body,
		CreatedAt:      r.CreatedAt,
		ClientMsgID:    in.ClientMsgID,
		ReplyTo:        reply,
		Inline:         plan != nil,
	}
	if stored != nil {
		// Stored already: store nothing (not this resend's body), but with Keyspaces
		// write the outbox item again, in case its write is what failed.
		m = *stored
		err = s.messages.Republish(ctx, m)
	} else {
		err = s.storeReserved(ctx, m)
	}
	if err != nil {
		return AckFrame{}, fmt.Errorf("put message %s/%s: %w", convID, m.MessageID, err)
	}
	ack := AckFrame{
		Type:           TypeAck,
		RequestID:      c.RequestID,
		ClientMsgID:    in.ClientMsgID,
		ConversationID: convID,
		MessageID:      m.MessageID,
		CreatedAt:      m.CreatedAt,
	}
	if stored == nil && m.Inline {
		return s.finishInline(ctx, c, m, plan, ack)
	}
	// A resend of a stored message is not pushed again: the stream path (or the inline
	// path of the attempt that stored it) delivers it.
	if err := s.conversations.SetLastMessage(ctx, m); err != nil {
		return AckFrame{}, fmt.Errorf("set last message of %s: %w", convID, err)
	}
	return ack, nil
}

// quote reads the message a reply answers and returns its reference: not_found unless it
// is a message of the conversation.
func (s *Service) quote(ctx context.Context, conversationID, messageID string) (*ReplyRef, error) {
	q, err := s.readMessage(ctx, conversationID, messageID)
	if err != nil {
		return nil, err
	}
	return &ReplyRef{MessageID: q.MessageID, SenderID: q.SenderID, Preview: preview(q.Body)}, nil
}

// storeReserved stores m, a message not known to be stored, under the deadline of its id:
// the id's time plus ReserveStale, by this instance's clock. Past it, a resend may renew
// the reservation and store the message under another id; a put of this id landing then
// would leave two copies. The attempt that made the id started before making it, so on
// Lambda its function's timeout, which ReserveStale is at least, ends it before the
// deadline: only resends that reuse an id are ever cut short (their client sends again,
// and gets a fresh id).
func (s *Service) storeReserved(ctx context.Context, m Message) error {
	left := time.UnixMilli(m.CreatedAt).Add(s.opts.ReserveStale).Sub(s.opts.Now())
	if left <= 0 {
		return fmt.Errorf("the reservation is %v old, past %v: send again", s.opts.ReserveStale-left, s.opts.ReserveStale)
	}
	ctx, cancel := context.WithTimeout(ctx, left)
	defer cancel()
	return s.messages.PutMessage(ctx, m)
}

// renewRounds bounds how often one resend renews a reservation only to find that a
// concurrent resend renewed it first.
const renewRounds = 3

// resent settles a resend, for which Reserve returned r, the reservation an earlier
// attempt made. It returns the message when it is stored already; otherwise the
// reservation to store it under (storeReserved): r itself while r is younger than
// ReserveStale, r renewed with a fresh id from this instance's clock once it is older.
//
// Why renew: an id is made from its instance's clock before the message is stored, and
// sync replays only SettleWindow before a member's delivered cursor. Stored under an id
// made minutes or hours before (a phone that sends again long after an attempt failed
// between Reserve and PutMessage), the message would sort behind the cursors of members
// who got the messages stored meanwhile, and sync would never bring it to them. The fresh
// id sorts it among the messages stored when it is.
//
// Why that stores no second copy under the old id: every put of a message not yet stored
// runs under the deadline of its id, the id's time plus ReserveStale (storeReserved), and
// the attempt that made the id is ended by its function's timeout anyway, at most
// ReserveStale after it started, which was before it made the id. So no put of the old id
// starts once it is ReserveStale old. A resend renews only when it looked for the message,
// and found none, at an age of at least ReserveStale plus clockMargin (1 s) by its own
// clock; one that comes within that second waits out the rest and looks again. The margin
// covers the clocks of the putting and the renewing instance disagreeing and a put in
// flight when its deadline passed. RenewReservation is conditional on the old id, so of
// concurrent resends exactly one renews and the others store under the id it made. A
// resend of a younger reservation reuses its id, which an earlier attempt may still be
// storing: both store the same message. A resend that finds the message stored never
// waits.
func (s *Service) resent(ctx context.Context, r Reservation) (Reservation, *Message, error) {
	for renewals := 0; ; {
		// The age before the read: the read happens at this age or later.
		age := s.opts.Now().Sub(time.UnixMilli(r.CreatedAt))
		m, err := s.messages.GetMessage(ctx, r.ConversationID, r.MessageID)
		if err == nil {
			return r, &m, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return Reservation{}, nil, fmt.Errorf("read reserved message %s/%s: %w", r.ConversationID, r.MessageID, err)
		}
		switch {
		case age < s.opts.ReserveStale:
			return r, nil, nil
		case age < s.opts.ReserveStale+clockMargin:
			select {
			case <-s.opts.After(s.opts.ReserveStale + clockMargin - age):
				continue // and look again
			case <-ctx.Done():
				return Reservation{}, nil, fmt.Errorf("wait to renew reservation %s of %s: %w", r.MessageID, r.ConversationID, ctx.Err())
			}
		case renewals == renewRounds:
			return Reservation{}, nil, fmt.Errorf("renew reservation %s of %s: renewed by others %d times meanwhile", r.MessageID, r.ConversationID, renewRounds)
		}
		renewals++
		now := s.opts.Now()
		fresh := r
		fresh.MessageID, fresh.CreatedAt = s.ids.New(now), now.UnixMilli()
		won, err := s.messages.RenewReservation(ctx, fresh, r.MessageID)
		if err != nil {
			return Reservation{}, nil, fmt.Errorf("renew reservation %s of %s: %w", r.MessageID, r.ConversationID, err)
		}
		if won.MessageID == fresh.MessageID {
			s.log.InfoContext(ctx, "send: renewed a stale reservation whose message was never stored",
				"conversationId", r.ConversationID, "userId", r.SenderID, "messageId", won.MessageID,
				"oldMessageId", r.MessageID, "age", age)
			return won, nil, nil
		}
		r = won // a concurrent resend renewed it first: settle the reservation it made
	}
}

// sendTarget resolves the conversation of a send and checks that the caller may post in
// it, creating the direct conversation on first use of "to". For a conversation small
// enough for the inline path it also returns the plan of that push.
func (s *Service) sendTarget(ctx context.Context, c Caller, in SendInput) (string, *inlinePlan, error) {
	switch {
	case in.ConversationID != "" && in.To != "":
		return "", nil, Errorf(CodeBadRequest, "give conversationId or to, not both")
	case in.To != "":
		if !ValidUserID(in.To) {
			return "", nil, Errorf(CodeBadRequest, "to: %q is not a valid user id", in.To)
		}
		if in.To == c.UserID {
			return "", nil, Errorf(CodeBadRequest, "to: you cannot start a direct conversation with yourself")
		}
		conv, err := s.ensureDirect(ctx, c.UserID, in.To)
		if err != nil {
			return "", nil, err
		}
		return conv.ConversationID, s.planDirect(conv.ConversationID), nil
	default:
		if err := validConversationID(in.ConversationID); err != nil {
			return "", nil, Errorf(CodeBadRequest, "conversationId or to is required")
		}
		plan, err := s.authorizeGroup(ctx, in.ConversationID, c.UserID)
		if err != nil {
			return "", nil, err
		}
		return in.ConversationID, plan, nil
	}
}

// Receipt moves the caller's delivered (and, for read, read) cursor forward to messageID
// and, when it moved in a conversation of at most MaxReceiptFanout members, tells every
// member's other connections.
//
// In a direct conversation the message's existence proves the conversation's, and its
// members (the caller among them, or not) follow from its id: no membership or member
// read. In a group the membership and the message are read at once.
func (s *Service) Receipt(ctx context.Context, c Caller, conversationID, messageID, status string) (ReceiptFrame, error) {
	if err := validConversationID(conversationID); err != nil {
		return ReceiptFrame{}, err
	}
	if err := validID("messageId", messageID); err != nil {
		return ReceiptFrame{}, err
	}
	if status != StatusDelivered && status != StatusRead {
		return ReceiptFrame{}, Errorf(CodeBadRequest, "status must be \"delivered\" or \"read\"")
	}
	a, b, direct := DirectMembers(conversationID)
	if direct && c.UserID != a && c.UserID != b {
		// Not a member, whether or not the conversation exists (as requireMember answers).
		if _, err := s.requireMember(ctx, conversationID, c.UserID); err != nil {
			return ReceiptFrame{}, err
		}
		return ReceiptFrame{}, Errorf(CodeForbidden, "you are not a member of %q", conversationID)
	}
	// Both reads at once; the membership's answer comes first, so a non-member learns
	// nothing of the messages.
	var memberErr, msgErr error
	var wg sync.WaitGroup
	if !direct {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, memberErr = s.requireMember(ctx, conversationID, c.UserID)
		}()
	}
	_, msgErr = s.messages.GetMessage(ctx, conversationID, messageID)
	wg.Wait()
	switch {
	case memberErr != nil:
		return ReceiptFrame{}, memberErr
	case errors.Is(msgErr, ErrNotFound):
		return ReceiptFrame{}, Errorf(CodeNotFound, "no message %q in %q", messageID, conversationID)
	case msgErr != nil:
		return ReceiptFrame{}, fmt.Errorf("read message %s/%s: %w", conversationID, messageID, msgErr)
	}
	moved, err := s.messages.AdvanceCursor(ctx, conversationID, c.UserID, StatusDelivered, messageID)
	if err != nil {
		return ReceiptFrame{}, fmt.Errorf("advance delivered cursor of %s in %s: %w", c.UserID, conversationID, err)
	}
	if status == StatusRead {
		if moved, err = s.messages.AdvanceCursor(ctx, conversationID, c.UserID, StatusRead, messageID); err != nil {
			return ReceiptFrame{}, fmt.Errorf("advance read cursor of %s in %s: %w", c.UserID, conversationID, err)
		}
	}
	ev := ReceiptFrame{Type: TypeReceipt, ConversationID: conversationID, UserID: c.UserID, Status: status, UpTo: messageID, At: s.now()}
	if moved {
		if members, ok := s.receiptAudience(ctx, conversationID); ok {
			s.broadcast(ctx, members, c.ConnectionID, ev)
		}
	}
	ev.RequestID = c.RequestID
	return ev, nil
}

// receiptAudience returns the members a receipt event goes to: everyone, in a
// conversation of at most MaxReceiptFanout members. Receipt events are best effort, so a
// failed read only means none is pushed.
func (s *Service) receiptAudience(ctx context.Context, conversationID string) ([]string, bool) {
	if _, _, direct := DirectMembers(conversationID); !direct {
		conv, err := s.conversations.GetConversation(ctx, conversationID)
		if err != nil || conv.MemberCount > MaxReceiptFanout {
			return nil, false
		}
	}
	members, err := s.memberIDs(ctx, conversationID)
	return members, err == nil
}

// History returns a page of the conversation, newest first, with the status of the
// caller's own messages computed from the other members' cursors.
func (s *Service) History(ctx context.Context, c Caller, conversationID, before string, limit *int) (HistoryFrame, error) {
	if err := validConversationID(conversationID); err != nil {
		return HistoryFrame{}, err
	}
	if before != "" && !ValidULID(before) {
		return HistoryFrame{}, Errorf(CodeBadRequest, "before %q is not a message id", before)
	}
	n := DefaultHistoryLimit
	if limit != nil {
		n = *limit
		if n < 1 || n > MaxHistoryLimit {
			return HistoryFrame{}, Errorf(CodeBadRequest, "limit must be 1 to %d", MaxHistoryLimit)
		}
	}
	m, err := s.requireMember(ctx, conversationID, c.UserID)
	if err != nil {
		return HistoryFrame{}, err
	}
	msgs, more, err := s.messages.Before(ctx, conversationID, before, n)
	if err != nil {
		return HistoryFrame{}, fmt.Errorf("read history of %s: %w", conversationID, err)
	}
	out := HistoryFrame{Type: TypeHistory, RequestID: c.RequestID, ConversationID: conversationID, Messages: make([]HistoryMessage, len(msgs))}
	own := false
	for i, msg := range msgs {
		out.Messages[i] = HistoryMessage{Message: msg, Reactions: reactionCounts(msg.Reactions, c.UserID), LastEventID: msg.LastEventID}
		own = own || msg.SenderID == c.UserID
	}
	if more && len(msgs) > 0 {
		out.Next = msgs[len(msgs)-1].MessageID
	}
	if own {
		if err := s.addStatus(ctx, c.UserID, m.Kind, conversationID, out.Messages); err != nil {
			return HistoryFrame{}, err
		}
	}
	return out, nil
}

// addStatus sets the status fields of the caller's messages from the other members'
// cursors: a message is delivered to (read by) a member whose cursor is at or past it.
func (s *Service) addStatus(ctx context.Context, caller, kind, conversationID string, msgs []HistoryMessage) error {
	members, err := s.memberIDs(ctx, conversationID)
	if err != nil {
		return err
	}
	others := make([]string, 0, len(members))
	for _, u := range members {
		if u != caller {
			others = append(others, u)
		}
	}
	cursors, err := s.messages.Cursors(ctx, conversationID, others)
	if err != nil {
		return fmt.Errorf("read cursors of %s: %w", conversationID, err)
	}
	for i := range msgs {
		m := &msgs[i]
		if m.SenderID != caller {
			continue
		}
		delivered, read := 0, 0
		for _, cur := range cursors {
			if cur.ReadUpTo >= m.MessageID {
				read++
			}
			if cur.DeliveredUpTo >= m.MessageID || cur.ReadUpTo >= m.MessageID {
				delivered++
			}
		}
		if kind == KindDirect {
			switch {
			case read > 0:
				m.Status = StatusRead
			case delivered > 0:
				m.Status = StatusDelivered
			default:
				m.Status = StatusSent
			}
			continue
		}
		m.DeliveredTo, m.ReadBy = &delivered, &read
	}
	return nil
}

// Sync replays what the caller missed: it pushes to the caller's connection, in order,
// the messages after their delivered cursor in each of their conversations (oldest first
// within each, at most MaxSyncMessages in all), then returns the synced frame that ends
// the replay, which API Gateway sends after them as the reply. When the caller's
// connection is gone the error wraps ErrGone: there is nobody to answer.
func (s *Service) Sync(ctx context.Context, c Caller) (SyncedFrame, error) {
	msgs, more, err := s.missed(ctx, c)
	if err != nil {
		return SyncedFrame{}, err
	}
	sent := 0
	for i, m := range msgs {
		f, ok := TimelineFrame(m)
		if !ok {
			continue // an edit whose body was erased: a later edit or the delete follows
		}
		sent++
		frame, err := Encode(f)
		if err != nil {
			return SyncedFrame{}, err
		}
		// Retried as fan-out's posts are: one throttled post must not fail the whole sync.
		if _, err := s.post(ctx, c.ConnectionID, frame, s.opts.PushAttempts); err != nil {
			return SyncedFrame{}, fmt.Errorf("sync: push message %d of %d to %s: %w", i+1, len(msgs), c.ConnectionID, err)
		}
	}
	return syncedFrame(c, msgs, sent, more), nil
}

// missed collects, oldest first within each conversation, the messages after the caller's
// delivered cursor in each of their conversations, at most MaxSyncMessages in all. more
// tells whether messages were left out.
func (s *Service) missed(ctx context.Context, c Caller) (msgs []Message, more bool, err error) {
	ms, err := s.conversations.UserConversations(ctx, c.UserID)
	if err != nil {
		return nil, false, fmt.Errorf("read conversations of %s: %w", c.UserID, err)
	}
	cursors := make([]Cursor, len(ms))
	err = parallel(ctx, len(ms), s.opts.ReadConcurrency, func(ctx context.Context, i int) error {
		cs, err := s.messages.Cursors(ctx, ms[i].ConversationID, []string{c.UserID})
		if err != nil {
			return fmt.Errorf("read cursor of %s in %s: %w", c.UserID, ms[i].ConversationID, err)
		}
		if len(cs) == 1 {
			cursors[i] = cs[0]
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	// Read the conversations a chunk at a time, in parallel within a chunk, each up to the
	// budget left when the chunk starts; then keep pages in conversation order up to the cap.
	// Once the cap is reached, a chunk only peeks (limit 1) to tell whether more is left.
	// The cap counts the messages after the cursors; the settling window's replays (see
	// afterCursor) come on top.
	fresh := 0
	for start := 0; start < len(ms); start += syncChunk {
		end := min(start+syncChunk, len(ms))
		limit := max(MaxSyncMessages-fresh, 1)
		pages := make([]syncPage, end-start)
		err := parallel(ctx, end-start, s.opts.ReadConcurrency, func(ctx context.Context, k int) error {
			i := start + k
			p, err := s.afterCursor(ctx, ms[i].ConversationID, cursors[i].DeliveredUpTo, limit)
			pages[k] = p
			return err
		})
		if err != nil {
			return nil, false, err
		}
		for _, p := range pages {
			budget := MaxSyncMessages - fresh
			if budget == 0 {
				more = more || len(p.fresh) > 0 || p.more
				continue
			}
			msgs = append(msgs, p.window...)
			if len(p.fresh) > budget {
				msgs, more, fresh = append(msgs, p.fresh[:budget]...), true, MaxSyncMessages
				continue
			}
			msgs, fresh = append(msgs, p.fresh...), fresh+len(p.fresh)
			more = more || p.more
		}
		if fresh == MaxSyncMessages && more {
			break
		}
	}
	return msgs, more, nil
}

// syncPage is what a sync replays of one conversation: the settling window before the
// cursor (messages the member most likely has), then up to the limit after it.
type syncPage struct {
	window, fresh []Message
	more          bool // messages after fresh exist
}

// afterCursor reads a conversation's messages for sync: those after the cursor, up to
// limit, and before them those of the settling window, the SettleWindow before the
// cursor's time (at most MaxSettleReplay, the newest).
//
// The window closes a gap that message ids leave open: an id is made from its instance's
// clock before the message is stored, so on AWS, with many instances, a message can be
// stored after one with a later id. A member whose delivered cursor passed that later id
// would never get the earlier message from sync. Replaying the window costs no extra read
// (one query from the window's start) and some duplicates, which clients drop by id.
func (s *Service) afterCursor(ctx context.Context, conversationID, cursor string, limit int) (syncPage, error) {
	from := settleFrom(cursor, s.opts.SettleWindow)
	if from == cursor {
		fresh, more, err := s.messages.After(ctx, conversationID, cursor, limit)
		if err != nil {
			return syncPage{}, fmt.Errorf("read messages of %s after %q: %w", conversationID, cursor, err)
		}
		return syncPage{fresh: fresh, more: more}, nil
	}
	page, more, err := s.messages.After(ctx, conversationID, from, limit+MaxSettleReplay)
	if err != nil {
		return syncPage{}, fmt.Errorf("read messages of %s after %q: %w", conversationID, from, err)
	}
	i := sort.Search(len(page), func(i int) bool { return page[i].MessageID > cursor })
	p := syncPage{window: page[:i], fresh: page[i:], more: more}
	if len(p.window) > MaxSettleReplay {
		p.window = p.window[len(p.window)-MaxSettleReplay:]
	}
	switch {
	case len(p.fresh) > limit:
		p.fresh, p.more = p.fresh[:limit], true
	case len(p.fresh) == 0 && more:
		// A window fuller than the read (a conversation of more than limit+MaxSettleReplay
		// messages in the window): read after the cursor itself, and replay the newest of
		// the window, those just before the cursor.
		if p.fresh, p.more, err = s.messages.After(ctx, conversationID, cursor, limit); err != nil {
			return syncPage{}, fmt.Errorf("read messages of %s after %q: %w", conversationID, cursor, err)
		}
		newest, _, err := s.messages.Before(ctx, conversationID, cursor, MaxSettleReplay)
		if err != nil {
			return syncPage{}, fmt.Errorf("read messages of %s before %q: %w", conversationID, cursor, err)
		}
		slices.Reverse(newest)
		p.window = newest
	}
	return p, nil
}

// settleFrom returns the id from which a sync replays a conversation whose cursor is
// cursor: the smallest id of the time window before the cursor's. An empty cursor, a
// window of zero or less, or a cursor that is not a ULID give the cursor itself.
func settleFrom(cursor string, window time.Duration) string {
	if cursor == "" || window <= 0 {
		return cursor
	}
	id, err := ulid.ParseStrict(cursor)
	if err != nil {
		return cursor
	}
	ms := int64(id.Time()) - window.Milliseconds()
	if ms <= 0 {
		return ""
	}
	var from ulid.ULID
	if err := from.SetTime(uint64(ms)); err != nil {
		return cursor
	}
	return from.String()
}

// syncChunk is how many conversations a sync reads in parallel at a time.
const syncChunk = 16

// syncedFrame builds the frame that ends a sync of msgs, of which sent were pushed (the
// others, erased edits, had nothing to push but count as passed: lastMessageIds covers
// them, so a client's receipt moves past them).
func syncedFrame(c Caller, msgs []Message, sent int, more bool) SyncedFrame {
	f := SyncedFrame{Type: TypeSynced, RequestID: c.RequestID, Count: sent, More: more}
	if len(msgs) > 0 {
		f.LastMessageIDs = map[string]string{}
		for _, m := range msgs {
			if m.MessageID > f.LastMessageIDs[m.ConversationID] {
				f.LastMessageIDs[m.ConversationID] = m.MessageID
			}
		}
	}
	return f
}
