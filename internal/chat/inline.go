package chat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"
)

// The inline path (DESIGN.md §1, docs/architecture.md). Lambda polls a DynamoDB stream
// shard four times a second, so the stream fan-out starts on average 125 ms after a
// message is stored. For conversations of at most Options.InlineMaxMembers members, Send
// therefore pushes the message itself once it is durable, and then marks it
// (ConversationStore.MarkInline). The stream fan-out still gets every message: for one
// that Send was to push (Message.Inline, stored with the message) it reads the mark, one
// read unit, and delivers only when the mark is missing, i.e. when Send crashed, timed
// out, could not read, or some post still failed after its retries. Duplicates are
// possible (the fan-out can read before the mark is written), losses are not: at least
// once, as before.
//
// Ordering of the reads. The members are read while the message is being stored (a
// member added meanwhile is a concurrent change either way, as on the stream path). The
// connections are read only after the message is stored: a device that connects and
// syncs while Send runs either registered its connection before that read (and gets the
// push) or syncs after the message is stored (and gets it from sync). Reading them
// earlier would open a window where it gets neither, and the mark would stop the stream
// path from covering it.

// InlineMarkTTL is how long an inline delivery mark must be kept: a message's stream
// record reaches the fan-out within the mapping's maximum record age (internal/topology,
// 10 minutes), or never. An hour leaves margin; the store's TTL then collects the mark.
const InlineMarkTTL = time.Hour

// InlineGrace is how long after a message's creation the stream fan-out waits for its
// mark before delivering it itself. On AWS a stream record reaches the fan-out 0 to
// 250 ms after the write, and the inline path usually marks within tens of milliseconds
// of it; locally, without --aws-timings, the record comes at once. The grace covers the
// inline path's retries (PushAttempts with 25, 50, 100 ms backoff) and delays the stream's
// delivery of a message the inline path did not finish by at most this much.
const InlineGrace = 500 * time.Millisecond

// inlinePlan is a Send that will push its message itself: the members, being read while
// the message is stored.
type inlinePlan struct {
	done    chan struct{}
	members audience
	err     error
}

// planDirect plans the inline push of a direct conversation: its members follow from its
// id, no read.
func (s *Service) planDirect(conversationID string) *inlinePlan {
	a, b, ok := DirectMembers(conversationID)
	if !ok || s.opts.InlineMaxMembers < 2 {
		return nil
	}
	p := &inlinePlan{done: make(chan struct{}), members: audience{ids: []string{a, b}, kind: KindDirect}}
	close(p.done)
	return p
}

// authorizeGroup checks that the caller is a member of a conversation given by id and,
// when the inline path is on, reads its member count at the same time: for a
// conversation small enough it starts reading the members and returns the plan.
func (s *Service) authorizeGroup(ctx context.Context, conversationID, userID string) (*inlinePlan, error) {
	if s.opts.InlineMaxMembers == 0 {
		_, err := s.requireMember(ctx, conversationID, userID)
		return nil, err
	}
	if _, _, direct := DirectMembers(conversationID); direct {
		if _, err := s.requireMember(ctx, conversationID, userID); err != nil {
			return nil, err
		}
		return s.planDirect(conversationID), nil
	}
	var conv Conversation
	var convErr error
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		_, err := s.requireMember(gctx, conversationID, userID)
		return err
	})
	g.Go(func() error {
		conv, convErr = s.conversations.GetConversation(gctx, conversationID)
		return nil // requireMember reports a missing conversation
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if convErr != nil || conv.MemberCount > s.opts.InlineMaxMembers {
		if convErr != nil && !errors.Is(convErr, context.Canceled) {
			s.log.WarnContext(ctx, "send: read member count: stream path only", "conversationId", conversationID, "err", convErr)
		}
		return nil, nil
	}
	p := &inlinePlan{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.members, p.err = s.audienceOf(ctx, conversationID)
	}()
	return p, nil
}

// wait returns the members, once read.
func (p *inlinePlan) wait(ctx context.Context) ([]string, error) {
	aud, err := p.audience(ctx)
	return aud.ids, err
}

// audience returns the members with their mutes, once read.
func (p *inlinePlan) audience(ctx context.Context) (audience, error) {
	select {
	case <-p.done:
		return p.members, p.err
	case <-ctx.Done():
		return audience{}, ctx.Err()
	}
}

// finishInline completes a Send whose message m (with m.Inline set) is stored: it records
// m as the conversation's last message while it reads the members' connections, then
// posts the ack to the caller's connection and m to every member's connections at once,
// and marks m when every post ended (delivered, gone or rejected). The returned ack has
// Posted set when the caller got it that way; when that post failed it is the route
// response instead. An error means m is stored but the send did not complete (the
// conversation's last message could not be set): the client sends again, and gets the
// same message id.
func (s *Service) finishInline(ctx context.Context, c Caller, m Message, p *inlinePlan, ack AckFrame) (AckFrame, error) {
	setLast := make(chan error, 1)
	go func() { setLast <- s.conversations.SetLastMessage(ctx, m) }()

	aud, err := p.audience(ctx)
	frame, encErr := Encode(MessageFrame{Type: TypeMessage, Message: m})
	if err != nil || encErr != nil {
		// The stream path delivers it (no mark).
		s.log.WarnContext(ctx, "send: inline delivery not started: the stream delivers", "conversationId", m.ConversationID,
			"messageId", m.MessageID, "err", errors.Join(err, encErr))
		if err := <-setLast; err != nil {
			return AckFrame{}, fmt.Errorf("set last message of %s: %w", m.ConversationID, err)
		}
		return ack, nil
	}

	type ackResult struct{ setErr, postErr error }
	posted := make(chan ackResult, 1)
	go func() {
		if err := <-setLast; err != nil {
			posted <- ackResult{setErr: err}
			return
		}
		data, err := Encode(ack)
		if err == nil {
			// One try: when it fails the ack goes back as the route response instead.
			_, err = s.post(ctx, c.ConnectionID, data, 1)
		}
		posted <- ackResult{postErr: err}
	}()
	st, pushErr := s.pushToUsers(ctx, aud.ids, "", push{frame: frame, retry: true, path: PathInline, createdAt: m.CreatedAt})
	if pushErr == nil {
		// Notified before the mark: without the mark the stream path delivers and
		// notifies again, so a notification that failed here is not lost.
		pushErr = s.notifyOffline(ctx, m, aud, st.offline)
	}
	if pushErr == nil {
		if err := s.conversations.MarkInline(ctx, MessageRef{m.ConversationID, m.MessageID}); err != nil {
			s.log.WarnContext(ctx, "send: mark inline delivery: the stream delivers again", "conversationId", m.ConversationID,
				"messageId", m.MessageID, "err", err)
		}
	} else {
		s.log.InfoContext(ctx, "send: inline delivery incomplete: the stream delivers", "conversationId", m.ConversationID,
			"messageId", m.MessageID, "err", pushErr)
	}

	r := <-posted
	switch {
	case r.setErr != nil:
		return AckFrame{}, fmt.Errorf("set last message of %s: %w", m.ConversationID, r.setErr)
	case r.postErr == nil || errors.Is(r.postErr, ErrGone):
		ack.Posted = true // delivered, or nobody to answer
	default:
		s.log.DebugContext(ctx, "send: post the ack: answering with the route response", "err", r.postErr)
	}
	return ack, nil
}
