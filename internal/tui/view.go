package tui

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/client"
)

// view writes everything a session shows, one line per thing. It keeps nothing between
// calls: what it needs to know about conversations (names, which one is open) it reads
// from the state it is given.
type view struct {
	out  io.Writer
	user string         // the signed-in user, shown as "you"
	loc  *time.Location // time zone of timestamps
	log  *slog.Logger   // receives write failures
}

// printf writes one piece of output; a failed write is logged, not returned.
func (v *view) printf(format string, args ...any) {
	if _, err := fmt.Fprintf(v.out, format, args...); err != nil {
		v.log.Debug("chat: write output", "err", err)
	}
}

// connected greets the user once the first connection is up.
func (v *view) connected(url, user string) {
	v.printf("connected to %s as %s; /help lists the commands\n", url, user)
}

// connectionLost says the connection dropped with err and a reconnection is under way.
func (v *view) connectionLost(err error) {
	v.printf("! connection lost (%v); reconnecting…\n", err)
}

// reconnected says the connection is back.
func (v *view) reconnected() { v.printf("reconnected\n") }

// synced reports the end of a sync: its error, or how many missed messages and changes to
// messages it replayed.
func (v *view) synced(n int, err error) {
	if err != nil {
		v.printf("! sync: %v\n", err)
	} else if n > 0 {
		v.printf("synced %d missed message(s) and change(s)\n", n)
	}
}

// problem shows an error that is not a command's: a line that does not parse, an error
// frame from the server.
func (v *view) problem(err error) { v.printf("! %v\n", err) }

// failed shows that what (a command's name, "receipt") failed with err.
func (v *view) failed(what string, err error) { v.printf("! %s: %v\n", what, err) }

// help lists the commands.
func (v *view) help() { v.printf("%s", helpText()) }

// header starts a section: a conversation's name when it opens, a history page's title.
func (v *view) header(title string) { v.printf("── %s ──\n", title) }

// members shows a conversation's members after /add.
func (v *view) members(st *state, conv *client.Conversation) {
	v.printf("members of %s: %s\n", st.name(conv.ConversationID), strings.Join(conv.Members, ", "))
}

// conversationChanged shows the members of a conversation the server says has changed.
func (v *view) conversationChanged(st *state, conv *client.Conversation) {
	v.printf("* %s: members %s\n", st.name(conv.ConversationID), strings.Join(conv.Members, ", "))
}

// left confirms that the user left the conversation id.
func (v *view) left(st *state, id string) { v.printf("you left %s\n", st.name(id)) }

// noOlder answers /history when there is no older page.
func (v *view) noOlder() { v.printf("(no older messages)\n") }

// page shows a history page (newest first, as history returns it, and recorded in st)
// oldest first, own messages with their status.
func (v *view) page(st *state, msgs []client.Message) {
	if len(msgs) == 0 {
		v.printf("(no messages)\n")
		return
	}
	for _, m := range slices.Backward(msgs) {
		line := v.line(st, m.MessageID)
		if m.SenderID == v.user {
			line += " " + statusMark(m)
		}
		v.printf("%s\n", line)
	}
}

// sent shows an own message, recorded in st, once the server acknowledged it.
func (v *view) sent(st *state, m client.Message) {
	v.printf("%s%s ✓\n", v.in(st, m.ConversationID), v.line(st, m.MessageID))
}

// message shows a pushed message, recorded in st, prefixed with its conversation's name
// unless that conversation is open.
func (v *view) message(st *state, m client.Message) {
	v.printf("%s%s\n", v.in(st, m.ConversationID), v.line(st, m.MessageID))
}

// edited shows a message, recorded in st, as an edit made it.
func (v *view) edited(st *state, conv, id string) {
	v.printf("%s✎ %s\n", v.in(st, conv), v.line(st, id))
}

// deleted shows the place of a message, recorded in st, that a delete emptied.
func (v *view) deleted(st *state, conv, id string) {
	v.printf("%s✗ %s\n", v.in(st, conv), v.line(st, id))
}

// reaction shows who added or took back which reaction, and the message, recorded in st,
// with its reactions as they now are.
func (v *view) reaction(st *state, r *client.Reaction) {
	did := "reacted"
	if r.State == client.ReactionRemove {
		did = "took back"
	}
	v.printf("%s%s %s %s: %s\n", v.in(st, r.ConversationID), v.who(r.UserID), did, r.Emoji, v.line(st, r.MessageID))
}

// reactionUnchanged answers a /react that changed nothing: the server found the user's
// reaction already as asked.
func (v *view) reactionUnchanged(st *state, r *client.Reaction) {
	if r.State == client.ReactionRemove {
		v.printf("(you had no %s on #%d)\n", r.Emoji, st.number(r.MessageID))
		return
	}
	v.printf("(you had reacted %s to #%d already)\n", r.Emoji, st.number(r.MessageID))
}

// in is "" for the open conversation and "[NAME] " for any other.
func (v *view) in(st *state, conv string) string {
	if st.isOpen(conv) {
		return ""
	}
	return "[" + st.name(conv) + "] "
}

// typing shows that another member started typing.
func (v *view) typing(st *state, t *client.Typing) {
	v.printf("%s is typing…%s\n", t.UserID, v.where(st, t.ConversationID))
}

// receipt shows another member's receipt for the newest own message.
func (v *view) receipt(st *state, r *client.Receipt) {
	if r.Status == client.StatusRead {
		v.printf("  ✓✓ read by %s%s\n", r.UserID, v.where(st, r.ConversationID))
		return
	}
	v.printf("  ✓✓ delivered to %s%s\n", r.UserID, v.where(st, r.ConversationID))
}

// where is "" for the open conversation and " in NAME" for any other.
func (v *view) where(st *state, conv string) string {
	if st.isOpen(conv) {
		return ""
	}
	return " in " + st.name(conv)
}

// presence shows each user as "● bob is online" or "○ bob is offline (last seen …)".
func (v *view) presence(users []client.Presence) {
	for _, p := range users {
		switch {
		case p.Online:
			v.printf("● %s is online\n", p.UserID)
		case p.LastSeen == 0:
			v.printf("○ %s is offline\n", p.UserID)
		default:
			v.printf("○ %s is offline (last seen %s)\n", p.UserID, time.UnixMilli(p.LastSeen).In(v.loc).Format("Jan 2 15:04"))
		}
	}
}

// list prints the conversation list, numbered for /open N; names holds each entry's
// display name (state.setList).
func (v *view) list(st *state, convs []client.ConversationSummary, names []string) {
	if len(convs) == 0 {
		v.printf("no conversations yet: /dm USER or /group NAME USER...\n")
		return
	}
	for i, s := range convs {
		unread := ""
		if s.Unread > 0 {
			unread = fmt.Sprintf(" (%d unread)", s.Unread)
			if s.Unread >= 100 {
				unread = " (100+ unread)"
			}
		}
		last := ""
		if s.LastMessage != nil {
			last = " — " + v.formatMessage(st, *s.LastMessage)
		}
		v.printf("%2d. %s [%s, %d members] %s%s%s\n", i+1, names[i], s.Kind, s.MemberCount, s.ConversationID, unread, last)
	}
}

// quoteRunes is how much of a quoted message's preview a reply shows.
const quoteRunes = 40

// line renders a message recorded in st as it now stands: "#N " and formatMessage, then its
// reactions ("  [👍 2 🎉 1]").
func (v *view) line(st *state, id string) string {
	m, n, _ := st.shown(id)
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %s", n, v.formatMessage(st, m))
	for i, r := range m.Reactions {
		sep := " "
		if i == 0 {
			sep = "  ["
		}
		fmt.Fprintf(&b, "%s%s %d", sep, r.Emoji, r.Count)
	}
	if len(m.Reactions) > 0 {
		b.WriteString("]")
	}
	return b.String()
}

// formatMessage renders "[15:04] alice: body" ("you" for own messages): a reply with the
// message it answers first (`(re #3 bob: "hi")`, the number when st shows that message), an
// edited message with "(edited)" after the body, a deleted one as "(message deleted)".
func (v *view) formatMessage(st *state, m client.Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %s: ", time.UnixMilli(m.CreatedAt).In(v.loc).Format("15:04"), v.who(m.SenderID))
	if q := m.ReplyTo; q != nil {
		ref := v.who(q.SenderID)
		if n := st.number(q.MessageID); n != 0 {
			ref = fmt.Sprintf("#%d %s", n, ref)
		}
		if q.Preview == "" {
			fmt.Fprintf(&b, "(re %s: a deleted message) ", ref)
		} else {
			preview, more := cut(q.Preview, quoteRunes)
			if more {
				preview += "…"
			}
			fmt.Fprintf(&b, "(re %s: %q) ", ref, preview)
		}
	}
	switch {
	case m.Deleted:
		b.WriteString("(message deleted)")
	case m.EditedAt != 0:
		b.WriteString(m.Body + " (edited)")
	default:
		b.WriteString(m.Body)
	}
	return b.String()
}

// who names a user as the view shows them: "you" for the signed-in user.
func (v *view) who(user string) string {
	if user == v.user {
		return "you"
	}
	return user
}

// statusMark renders the status history gives an own message: ✓ sent, ✓✓ delivered,
// "✓✓ read"; in groups "✓✓ N, read by M".
func statusMark(m client.Message) string {
	switch {
	case m.Status == client.StatusRead:
		return "✓✓ read"
	case m.Status == client.StatusDelivered:
		return "✓✓"
	case m.Status == client.StatusSent:
		return "✓"
	case m.DeliveredTo != nil || m.ReadBy != nil:
		d, r := 0, 0
		if m.DeliveredTo != nil {
			d = *m.DeliveredTo
		}
		if m.ReadBy != nil {
			r = *m.ReadBy
		}
		return fmt.Sprintf("✓✓ %d, read by %d", d, r)
	default:
		return "✓"
	}
}
