package tui

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/parleychat/parley/internal/client"
)

// typingTimeout is how long a typing indicator lasts after the last "start" (PROTOCOL.md).
const typingTimeout = 3 * time.Second

// state is what a chat session knows: the open conversation, the last /list, conversation
// names, the messages shown with their numbers and the changes to them (timeline.go), the
// newest own message per conversation and the receipts and typing indicators already shown
// for it. Each method applies one change and, where the change may call for output,
// reports whether there is something new to show. It does no I/O: the view reads it, and
// it is tested on its own.
type state struct {
	user     string // the signed-in user, to tell own messages, receipts and typing apart
	open     string // open conversation id, "" for none
	next     string // the "before" of the open conversation's next older page
	list     []client.ConversationSummary
	names    map[string]string    // conversation id -> display name
	members  map[string][]string  // conversation id -> members, when known
	msgs     map[string]*entry    // message id -> what is known of it (duplicates are dropped)
	numbered []string             // message ids by number - 1, in the order they were first shown
	lastMine map[string]string    // conversation id -> newest own message id
	marked   map[string]string    // conv/user/status -> upTo shown for own messages
	typing   map[string]time.Time // conv/user -> last "start"
}

// newState returns the empty state of a session signed in as user.
func newState(user string) *state {
	return &state{
		user:  user,
		names: map[string]string{}, members: map[string][]string{}, msgs: map[string]*entry{},
		lastMine: map[string]string{}, marked: map[string]string{},
		typing: map[string]time.Time{},
	}
}

// current returns the open conversation's id, "" for none.
func (s *state) current() string { return s.open }

// older returns the "before" of the open conversation's next older page, "" when there is
// none (or none is known yet).
func (s *state) older() string { return s.next }

// requireOpen returns the open conversation's id, or an error when none is open.
func (s *state) requireOpen() (string, error) {
	if s.open == "" {
		return "", errors.New("no open conversation")
	}
	return s.open, nil
}

// setOpen makes id the open conversation; its older pages are not known yet.
func (s *state) setOpen(id string) { s.open, s.next = id, "" }

// closeOpen leaves no conversation open (after /leave).
func (s *state) closeOpen() { s.open, s.next = "", "" }

// isOpen reports whether conv is the open conversation.
func (s *state) isOpen(conv string) bool { return conv == s.open }

// setList records the result of /list, for /open N, and the names its entries carry. It
// returns each entry's display name, as name would give it right after that entry.
func (s *state) setList(convs []client.ConversationSummary) []string {
	s.list = convs
	shown := make([]string, len(convs))
	for i, c := range convs {
		if c.Name != "" {
			s.names[c.ConversationID] = c.Name
		}
		shown[i] = s.name(c.ConversationID)
	}
	return shown
}

// conversationID resolves the argument of /open: a number is that entry of the last
// /list, anything else is a conversation id.
func (s *state) conversationID(arg string) (string, error) {
	n, err := strconv.Atoi(arg)
	if err != nil {
		return arg, nil
	}
	if n < 1 || n > len(s.list) {
		return "", fmt.Errorf("no conversation number %d in the last /list", n)
	}
	return s.list[n-1].ConversationID, nil
}

// remember records a conversation's name and members.
func (s *state) remember(conv *client.Conversation) {
	s.members[conv.ConversationID] = conv.Members
	switch {
	case conv.Name != "":
		s.names[conv.ConversationID] = conv.Name
	case conv.Kind == client.KindDirect:
		for _, m := range conv.Members {
			if m != s.user {
				s.names[conv.ConversationID] = "@" + m
			}
		}
	}
}

// name is how a conversation is shown: its name, "@peer" for a direct one, or its id.
func (s *state) name(id string) string {
	if n, ok := s.names[id]; ok {
		return n
	}
	return id
}

// sent records an own message once acknowledged, which is shown with the ack: its echo is
// then dropped as seen, and it is the conversation's newest own message.
func (s *state) sent(m client.Message) {
	s.load(m, "", "")
	s.lastMine[m.ConversationID] = m.MessageID
}

// addPage records a history page of the open conversation as shown: its messages, as they
// now stand, replace what was known of them (and are numbered oldest first when new), the
// newest own one among them is tracked, and its Next is the next older page.
func (s *state) addPage(page *client.HistoryPage) {
	s.next = page.Next
	for _, m := range slices.Backward(page.Messages) {
		s.load(m, m.LastEventID, m.LastEventID)
		s.trackMine(m)
	}
}

// trackMine makes m the newest own message of its conversation if it is own and newer.
func (s *state) trackMine(m client.Message) {
	if m.SenderID == s.user && m.MessageID > s.lastMine[m.ConversationID] {
		s.lastMine[m.ConversationID] = m.MessageID
	}
}

// applyMessage records a pushed message and reports whether it is new: false for nil, a
// duplicate, or the echo of a send whose ack showed it. A new message ends its sender's
// typing indicator.
func (s *state) applyMessage(m *client.Message) bool {
	if m == nil || s.number(m.MessageID) != 0 {
		return false
	}
	s.load(*m, m.LastEventID, "")
	delete(s.typing, typingKey(m.ConversationID, m.SenderID))
	s.trackMine(*m)
	return true
}

// applyTyping records another member's typing indicator, received at at, and reports
// whether it has just started (a repeated "start" extends it silently; "stop" ends it).
// Own indicators are ignored.
func (s *state) applyTyping(t *client.Typing, at time.Time) bool {
	if t == nil || t.UserID == s.user {
		return false
	}
	key := typingKey(t.ConversationID, t.UserID)
	_, was := s.typing[key]
	if t.State == client.TypingStop {
		delete(s.typing, key)
		return false
	}
	s.typing[key] = at
	return !was
}

// expireTyping forgets typing indicators older than typingTimeout.
func (s *state) expireTyping(now time.Time) {
	for k, at := range s.typing {
		if now.Sub(at) > typingTimeout {
			delete(s.typing, k)
		}
	}
}

// applyReceipt records another member's receipt and reports whether to show it: when it
// covers the newest own message of its conversation, once per member and status. A read
// receipt also counts as the delivered one.
func (s *state) applyReceipt(r *client.Receipt) bool {
	if r == nil || r.UserID == s.user {
		return false
	}
	mine := s.lastMine[r.ConversationID]
	if mine == "" || r.UpTo < mine {
		return false
	}
	key := receiptKey(r.ConversationID, r.UserID, r.Status)
	if s.marked[key] >= mine {
		return false
	}
	s.marked[key] = mine
	if r.Status == client.StatusRead {
		s.marked[receiptKey(r.ConversationID, r.UserID, client.StatusDelivered)] = mine
	}
	return true
}

// typingKey is the key of a member's typing indicator in a conversation.
func typingKey(conv, user string) string { return conv + "\x00" + user }

// receiptKey is the key of the receipts shown for a member and status in a conversation.
func receiptKey(conv, user, status string) string { return conv + "\x00" + user + "\x00" + status }
