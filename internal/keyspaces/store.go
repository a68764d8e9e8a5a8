package keyspaces

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/parleychat/parley/internal/chat"
)

// Store is the Cassandra/Keyspaces chat.MessageStore.
type Store struct {
	session *gocql.Session
	cfg     Config
	owned   bool // Close closes the session

	// lwtFault, set by tests only, sees each LWT attempt's result (attempt counts from 0)
	// and may replace it, for example with a timeout after a write that applied.
	lwtFault func(attempt int, err error) error

	// Statements, with the keyspace written in.
	qReserve, qRenew, qReservation           string
	qPutMessage, qPutEvent, qGet             string
	qApply, qApplyLegacy, qErase             string
	qBeforeFirst, qBefore, qAfterFirst       string
	qAfter, qCountAll, qCountAfter           string
	qCursorInsert, qCursorUpdate, qCursorGet string
}

var _ chat.MessageStore = (*Store)(nil)

// Open connects with cfg and returns a store on cfg.Keyspace, whose tables must exist
// (CreateSchema). Close releases the session.
func Open(cfg Config) (*Store, error) {
	session, err := Connect(cfg, true)
	if err != nil {
		return nil, err
	}
	s, err := New(session, cfg)
	if err != nil {
		session.Close()
		return nil, err
	}
	s.owned = true
	return s, nil
}

// New returns a store that uses an open session; cfg supplies the keyspace, the consistency
// levels and the LWT attempts (its connection fields are ignored). Close leaves the session
// open.
func New(session *gocql.Session, cfg Config) (*Store, error) {
	if session == nil {
		return nil, errors.New("keyspaces: nil session")
	}
	if len(cfg.Hosts) == 0 {
		cfg.Hosts = []string{"session"} // connection fields are not used here
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	k := cfg.Keyspace
	const cols = messageCols
	insert := "INSERT INTO " + k + ".messages (" + cols + ") VALUES (?" + strings.Repeat(", ?", strings.Count(cols, ",")) + ")"
	const set = "SET body = ?, edited_at = ?, deleted = ?, reactions = ?, version = ?, last_change = ?, edit_ids = ? WHERE conversation_id = ? AND message_id = ?"
	return &Store{
		session: session,
		cfg:     cfg,

		qReserve:     "INSERT INTO " + k + ".reservations (conversation_id, sender_id, client_msg_id, message_id, created_at) VALUES (?, ?, ?, ?, ?) IF NOT EXISTS",
		qRenew:       "UPDATE " + k + ".reservations SET message_id = ?, created_at = ? WHERE conversation_id = ? AND sender_id = ? AND client_msg_id = ? IF message_id = ?",
		qReservation: "SELECT message_id, created_at FROM " + k + ".reservations WHERE conversation_id = ? AND sender_id = ? AND client_msg_id = ?",
		qPutMessage:  insert + " IF NOT EXISTS",
		qPutEvent:    insert,
		qGet:         "SELECT " + cols + " FROM " + k + ".messages WHERE conversation_id = ? AND message_id = ?",
		qApply:       "UPDATE " + k + ".messages " + set + " IF version = ?",
		qApplyLegacy: "UPDATE " + k + ".messages " + set + " IF version = null AND sender_id = ?",
		qErase:       "DELETE body FROM " + k + ".messages WHERE conversation_id = ? AND message_id = ?",

		// History pages are paged by hand (Store.messagesOnly), so they have no LIMIT.
		qBeforeFirst: "SELECT " + cols + " FROM " + k + ".messages WHERE conversation_id = ?",
		qBefore:      "SELECT " + cols + " FROM " + k + ".messages WHERE conversation_id = ? AND message_id < ?",
		qAfterFirst:  "SELECT " + cols + " FROM " + k + ".messages WHERE conversation_id = ? ORDER BY message_id ASC LIMIT ?",
		qAfter:       "SELECT " + cols + " FROM " + k + ".messages WHERE conversation_id = ? AND message_id > ? ORDER BY message_id ASC LIMIT ?",
		qCountAll:    "SELECT sender_id, kind FROM " + k + ".messages WHERE conversation_id = ?",
		qCountAfter:  "SELECT sender_id, kind FROM " + k + ".messages WHERE conversation_id = ? AND message_id > ?",

		qCursorInsert: "INSERT INTO " + k + ".cursors (conversation_id, user_id, status, up_to) VALUES (?, ?, ?, ?) IF NOT EXISTS",
		qCursorUpdate: "UPDATE " + k + ".cursors SET up_to = ? WHERE conversation_id = ? AND user_id = ? AND status = ? IF up_to < ?",
		qCursorGet:    "SELECT user_id, status, up_to FROM " + k + ".cursors WHERE conversation_id = ? AND user_id IN ?",
	}, nil
}

// Close closes the session when Open made it.
func (s *Store) Close() {
	if s.owned {
		s.session.Close()
	}
}

// write, read and lwt build queries; the context is given when they run (ExecContext,
// IterContext, ScanContext, MapScanCASContext).
func (s *Store) write(stmt string, args ...any) *gocql.Query {
	return s.session.Query(stmt, args...).Consistency(s.cfg.WriteConsistency)
}

func (s *Store) read(stmt string, args ...any) *gocql.Query {
	return s.session.Query(stmt, args...).Consistency(s.cfg.ReadConsistency)
}

// lwt is a lightweight transaction: Paxos at SerialConsistency, committed at
// WriteConsistency. The driver does not retry it; lwtDo does.
func (s *Store) lwt(stmt string, args ...any) *gocql.Query {
	return s.write(stmt, args...).SerialConsistency(s.cfg.SerialConsistency).Idempotent(false)
}

// lwtDo runs an LWT attempt until it returns without an outcome-unknown error (a write or
// CAS timeout under contention), at most LWTAttempts times. It reports whether an earlier
// attempt's outcome was unknown, which the caller must take into account.
func (s *Store) lwtDo(ctx context.Context, attempt func() error) (retried bool, err error) {
	for i := 0; ; i++ {
		err = attempt()
		if s.lwtFault != nil {
			err = s.lwtFault(i, err)
		}
		if err == nil || !outcomeUnknown(err) || i+1 >= s.cfg.LWTAttempts {
			return i > 0, err
		}
		s.cfg.Logger.WarnContext(ctx, "keyspaces: lightweight transaction timed out; retrying", "attempt", i+1, "err", err)
		select {
		case <-ctx.Done():
			return true, fmt.Errorf("%w (after: %v)", ctx.Err(), err)
		case <-time.After(time.Duration(20*(1<<i)) * time.Millisecond):
		}
	}
}

// outcomeUnknown reports errors after which a conditional write may or may not have applied.
func outcomeUnknown(err error) bool {
	var wt *gocql.RequestErrWriteTimeout
	var cu *gocql.RequestErrCASWriteUnknown
	var un *gocql.RequestErrUnavailable
	return errors.As(err, &wt) || errors.As(err, &cu) || errors.As(err, &un) ||
		errors.Is(err, gocql.ErrTimeoutNoResponse)
}

func checkKey(what string, values ...string) error {
	for _, v := range values {
		if v == "" {
			return fmt.Errorf("%s: empty key", what)
		}
	}
	return nil
}

// Reserve stores r with INSERT ... IF NOT EXISTS and returns the reservation in force.
func (s *Store) Reserve(ctx context.Context, r chat.Reservation) (chat.Reservation, error) {
	what := fmt.Sprintf("reserve %s/%s/%s", r.ConversationID, r.SenderID, r.ClientMsgID)
	if err := checkKey(what, r.ConversationID, r.SenderID, r.ClientMsgID, r.MessageID); err != nil {
		return chat.Reservation{}, err
	}
	var applied bool
	existing := map[string]any{}
	_, err := s.lwtDo(ctx, func() error {
		clear(existing)
		var err error
		applied, err = s.lwt(s.qReserve, r.ConversationID, r.SenderID, r.ClientMsgID, r.MessageID, r.CreatedAt).
			MapScanCASContext(ctx, existing)
		return err
	})
	if err != nil {
		return chat.Reservation{}, fmt.Errorf("%s: %w", what, err)
	}
	if applied {
		return r, nil
	}
	// Not applied: the row that won (possibly written by an earlier attempt of ours whose
	// outcome a timeout hid, which then carries r's own values).
	id, _ := existing["message_id"].(string)
	created, _ := existing["created_at"].(int64)
	if id == "" {
		return chat.Reservation{}, fmt.Errorf("%s: not applied, and the existing reservation has no message id", what)
	}
	won := r
	won.MessageID, won.CreatedAt = id, created
	return won, nil
}

// RenewReservation renews the reservation with UPDATE ... IF message_id = ? (which applies
// nothing when the row does not exist) and returns the reservation in force.
func (s *Store) RenewReservation(ctx context.Context, r chat.Reservation, oldMessageID string) (chat.Reservation, error) {
	what := fmt.Sprintf("renew reservation %s/%s/%s from %s", r.ConversationID, r.SenderID, r.ClientMsgID, oldMessageID)
	if err := checkKey(what, r.ConversationID, r.SenderID, r.ClientMsgID, r.MessageID, oldMessageID); err != nil {
		return chat.Reservation{}, err
	}
	var applied bool
	current := map[string]any{}
	_, err := s.lwtDo(ctx, func() error {
		clear(current)
		var err error
		applied, err = s.lwt(s.qRenew, r.MessageID, r.CreatedAt, r.ConversationID, r.SenderID, r.ClientMsgID, oldMessageID).
			MapScanCASContext(ctx, current)
		return err
	})
	if err != nil {
		return chat.Reservation{}, fmt.Errorf("%s: %w", what, err)
	}
	// Not applied but holding r's id: an earlier attempt whose outcome a timeout hid
	// applied it (r's id is fresh, nobody else writes it), or r was renewed already.
	if id, _ := current["message_id"].(string); applied || id == r.MessageID {
		return r, nil
	}
	// Not applied: another id is in force, or no row exists. The result carries only the
	// condition's column (message_id, absent without a row), so read the row in force.
	var id string
	var created int64
	err = s.read(s.qReservation, r.ConversationID, r.SenderID, r.ClientMsgID).ScanContext(ctx, &id, &created)
	if errors.Is(err, gocql.ErrNotFound) {
		return chat.Reservation{}, fmt.Errorf("%s: %w", what, chat.ErrNotFound)
	}
	if err != nil {
		return chat.Reservation{}, fmt.Errorf("%s: read the reservation in force: %w", what, err)
	}
	won := r
	won.MessageID, won.CreatedAt = id, created
	return won, nil
}

// PutMessage stores m. A message (Change == nil) is written with INSERT ... IF NOT EXISTS,
// a lightweight transaction: a message is only ever put when it is new (or again as it was
// read), so a put that finds the row stores nothing, which is what keeps a later put of
// the original copy from undoing a change (ApplyChange) and makes the put idempotent.
// Every write to a message row is thus an LWT; on Amazon Keyspaces an LWT costs the same
// write units as a plain write (docs/keyspaces.md). A change event is written once under
// its own fresh id by a plain INSERT (the same key overwrites the same row; its later
// write is only EraseBody's DELETE body). Empty fields are left unset, not written as
// nulls, so no tombstones come of them.
func (s *Store) PutMessage(ctx context.Context, m chat.Message) error {
	what := fmt.Sprintf("put message %s/%s", m.ConversationID, m.MessageID)
	if m.IsChange() {
		what = fmt.Sprintf("put %s event %s/%s", m.Change.Kind, m.ConversationID, m.MessageID)
	}
	if err := checkKey(what, m.ConversationID, m.MessageID); err != nil {
		return err
	}
	args, err := insertArgs(m)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if m.IsChange() {
		if err := s.write(s.qPutEvent, args...).Idempotent(true).ExecContext(ctx); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	// Applied or not, the message is stored: a row that exists is this message (put by an
	// earlier attempt, perhaps one whose outcome a timeout hid) in its state of now.
	existing := map[string]any{}
	_, err = s.lwtDo(ctx, func() error {
		clear(existing)
		_, err := s.lwt(s.qPutMessage, args...).MapScanCASContext(ctx, existing)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// GetMessage returns one timeline item, a message or a change event, or chat.ErrNotFound.
func (s *Store) GetMessage(ctx context.Context, conversationID, messageID string) (chat.Message, error) {
	what := fmt.Sprintf("get message %s/%s", conversationID, messageID)
	if err := checkKey(what, conversationID, messageID); err != nil {
		return chat.Message{}, err
	}
	r, err := s.getRow(ctx, s.cfg.ReadConsistency, conversationID, messageID)
	if errors.Is(err, gocql.ErrNotFound) {
		return chat.Message{}, fmt.Errorf("%s: %w", what, chat.ErrNotFound)
	}
	if err != nil {
		return chat.Message{}, fmt.Errorf("%s: %w", what, err)
	}
	return r.message()
}

// getRow reads one row at consistency c; gocql.ErrNotFound when it does not exist.
func (s *Store) getRow(ctx context.Context, c gocql.Consistency, conversationID, messageID string) (row, error) {
	var r row
	err := s.session.Query(s.qGet, conversationID, messageID).Consistency(c).ScanContext(ctx, r.dest()...)
	return r, err
}

// Before returns up to limit messages below before (or the newest), newest first: the
// table's own clustering order, one slice of one partition, read past change events.
func (s *Store) Before(ctx context.Context, conversationID, before string, limit int) ([]chat.Message, bool, error) {
	what := fmt.Sprintf("messages of %s before %q", conversationID, before)
	if err := checkPage(what, conversationID, limit); err != nil {
		return nil, false, err
	}
	query := func() *gocql.Query {
		if before == "" {
			return s.read(s.qBeforeFirst, conversationID)
		}
		return s.read(s.qBefore, conversationID, before)
	}
	return s.messagesOnly(ctx, what, query, limit)
}

// messagesOnly reads the rows of query a page at a time, keeping the messages and leaving
// out change events, until it holds limit+1 messages (the extra one tells that more
// exist) or the slice ends. The first page asks for as many rows as messages are needed,
// so a slice without change events reads exactly what the answer needs; once change
// events showed up, each page asks for as many rows as the ratio seen so far says hold the
// messages still missing (at most 1000), rather than a round trip for each few.
func (s *Store) messagesOnly(ctx context.Context, what string, query func() *gocql.Query, limit int) ([]chat.Message, bool, error) {
	var msgs []chat.Message
	var state []byte
	scanned := 0
	for {
		need := limit + 1 - len(msgs)
		if len(msgs) < scanned {
			need = min(need*scanned/max(len(msgs), 1)+1, 1000)
		}
		iter := query().PageSize(need).PageState(state).IterContext(ctx)
		var r row
		for iter.Scan(r.dest()...) {
			scanned++
			if r.kind == "" {
				m, err := r.message()
				if err != nil {
					iter.Close()
					return nil, false, fmt.Errorf("%s: %w", what, err)
				}
				msgs = append(msgs, m)
			}
			r = row{}
		}
		state = iter.PageState()
		if err := iter.Close(); err != nil {
			return nil, false, fmt.Errorf("%s: %w", what, err)
		}
		if len(msgs) > limit {
			return msgs[:limit], true, nil
		}
		if len(state) == 0 {
			return msgs, false, nil
		}
	}
}

// After returns up to limit timeline items (messages and change events) above after (or
// from the first), oldest first.
func (s *Store) After(ctx context.Context, conversationID, after string, limit int) ([]chat.Message, bool, error) {
	what := fmt.Sprintf("timeline of %s after %q", conversationID, after)
	if err := checkPage(what, conversationID, limit); err != nil {
		return nil, false, err
	}
	q := s.read(s.qAfterFirst, conversationID, limit+1)
	if after != "" {
		q = s.read(s.qAfter, conversationID, after, limit+1)
	}
	iter := q.PageSize(limit + 1).IterContext(ctx)
	var msgs []chat.Message
	var r row
	for iter.Scan(r.dest()...) {
		m, err := r.message()
		if err != nil {
			iter.Close()
			return nil, false, fmt.Errorf("%s: %w", what, err)
		}
		msgs = append(msgs, m)
		r = row{}
	}
	if err := iter.Close(); err != nil {
		return nil, false, fmt.Errorf("%s: %w", what, err)
	}
	if len(msgs) > limit {
		return msgs[:limit], true, nil
	}
	return msgs, false, nil
}

func checkPage(what, conversationID string, limit int) error {
	if err := checkKey(what, conversationID); err != nil {
		return err
	}
	if limit < 1 {
		return fmt.Errorf("%s: limit %d is not positive", what, limit)
	}
	return nil
}

// CountAfter counts messages above after not sent by excludeSender, stopping at max. It
// reads only sender_id and kind (change events are not counted), a page at a time, and
// stops reading once max is reached.
func (s *Store) CountAfter(ctx context.Context, conversationID, after, excludeSender string, max int) (int, error) {
	what := fmt.Sprintf("count messages of %s after %q", conversationID, after)
	if err := checkKey(what, conversationID); err != nil {
		return 0, err
	}
	if max < 1 {
		return 0, nil
	}
	q := s.read(s.qCountAll, conversationID)
	if after != "" {
		q = s.read(s.qCountAfter, conversationID, after)
	}
	iter := q.PageSize(min(max+1, 1000)).IterContext(ctx)
	n := 0
	var sender, kind string
	for n < max && iter.Scan(&sender, &kind) {
		if kind == "" && sender != excludeSender {
			n++
		}
		kind = ""
	}
	if err := iter.Close(); err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return n, nil
}

// AdvanceCursor moves one cursor forward with lightweight transactions: UPDATE ... IF
// up_to < upTo when the cursor exists, INSERT ... IF NOT EXISTS for its first move. A race
// between two first moves is settled by Paxos; the loser retries the UPDATE.
func (s *Store) AdvanceCursor(ctx context.Context, conversationID, userID, status, upTo string) (bool, error) {
	what := fmt.Sprintf("advance %s cursor of %s in %s to %s", status, userID, conversationID, upTo)
	if err := checkKey(what, conversationID, userID, upTo); err != nil {
		return false, err
	}
	if status != chat.StatusDelivered && status != chat.StatusRead {
		return false, fmt.Errorf("%s: unknown status %q", what, status)
	}
	// Each round either settles or observes that the row did not exist and then that an
	// INSERT lost to a concurrent one: at most a few rounds.
	for round := 0; round < 3; round++ {
		var applied bool
		current := map[string]any{}
		retried, err := s.lwtDo(ctx, func() error {
			clear(current)
			var err error
			applied, err = s.lwt(s.qCursorUpdate, upTo, conversationID, userID, status, upTo).
				MapScanCASContext(ctx, current)
			return err
		})
		if err != nil {
			return false, fmt.Errorf("%s: %w", what, err)
		}
		if applied {
			return true, nil
		}
		if cur, ok := current["up_to"].(string); ok && cur != "" {
			// The cursor exists at or beyond upTo. If an attempt timed out and the cursor
			// now sits exactly at upTo, that attempt most likely moved it.
			return retried && cur == upTo, nil
		}
		// No row yet: the first move.
		retried, err = s.lwtDo(ctx, func() error {
			clear(current)
			var err error
			applied, err = s.lwt(s.qCursorInsert, conversationID, userID, status, upTo).
				MapScanCASContext(ctx, current)
			return err
		})
		if err != nil {
			return false, fmt.Errorf("%s: %w", what, err)
		}
		if applied {
			return true, nil
		}
		if cur, _ := current["up_to"].(string); retried && cur == upTo {
			return true, nil
		}
		// Another writer created the row first: compare against its value.
	}
	return false, fmt.Errorf("%s: still contended after 3 rounds", what)
}

// Cursors returns the cursors of userIDs, in the order given, from one partition read.
func (s *Store) Cursors(ctx context.Context, conversationID string, userIDs []string) ([]chat.Cursor, error) {
	what := fmt.Sprintf("cursors of %d members of %s", len(userIDs), conversationID)
	if err := checkKey(what, conversationID); err != nil {
		return nil, err
	}
	out := make([]chat.Cursor, len(userIDs))
	if len(userIDs) == 0 {
		return out, nil
	}
	byUser := make(map[string]*chat.Cursor, len(userIDs))
	unique := make([]string, 0, len(userIDs))
	for _, u := range userIDs {
		if _, ok := byUser[u]; !ok {
			byUser[u] = &chat.Cursor{UserID: u}
			unique = append(unique, u)
		}
	}
	// IN on a clustering column; batches keep each query's IN list modest.
	const batch = 100
	for i := 0; i < len(unique); i += batch {
		part := unique[i:min(i+batch, len(unique))]
		iter := s.read(s.qCursorGet, conversationID, part).IterContext(ctx)
		var user, status, upTo string
		for iter.Scan(&user, &status, &upTo) {
			c := byUser[user]
			if c == nil {
				continue
			}
			switch status {
			case chat.StatusDelivered:
				c.DeliveredUpTo = upTo
			case chat.StatusRead:
				c.ReadUpTo = upTo
			}
		}
		if err := iter.Close(); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
	}
	for i, u := range userIDs {
		out[i] = *byUser[u]
	}
	return out, nil
}
