package tui

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/parleychat/parley/internal/client"
)

// Config configures a chat session.
type Config struct {
	// URL is the WebSocket endpoint.
	URL string
	// User is the signed-in user id (the token's subject), used to tell own messages apart.
	User string
	// Token returns a token for each (re)connection.
	Token client.TokenFunc
	// Options are passed to client.Dial. Default: nil (client defaults).
	Options *client.Options
	// Location is the time zone for timestamps. Default time.Local.
	Location *time.Location
	// HistoryPage is how many messages /open and /history show. Default 20.
	HistoryPage int
	// Logger receives diagnostics. Default slog.Default().
	Logger *slog.Logger
}

// Chat is one terminal chat session. Every method runs on the goroutine of Run.
type Chat struct {
	cfg  Config
	conn *client.Conn
	st   *state
	view *view
}

// New returns a chat session writing to out. Run connects it.
func New(cfg Config, out io.Writer) *Chat {
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if cfg.HistoryPage <= 0 {
		cfg.HistoryPage = 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Chat{
		cfg:  cfg,
		st:   newState(cfg.User),
		view: &view{out: out, user: cfg.User, loc: cfg.Location, log: cfg.Logger},
	}
}

// Run connects, syncs, and then handles input lines from in and events from the server
// until /quit, the end of in, or ctx ends. It reconnects (and syncs again) when the
// connection drops.
func (c *Chat) Run(ctx context.Context, in io.Reader) error {
	if c.cfg.Token == nil {
		return errors.New("chat: no token source")
	}
	if err := c.connect(ctx, false); err != nil {
		return err
	}
	defer func() { c.conn.Close() }()
	c.view.connected(c.cfg.URL, c.cfg.User)

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64*1024), 64*1024)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	synced := c.startSync(ctx)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-lines:
			if !ok {
				return nil
			}
			if quit := c.handleLine(ctx, line); quit {
				return nil
			}
		case ev, ok := <-c.conn.Events():
			if ok {
				c.handleEvent(ctx, ev)
				continue
			}
			c.view.connectionLost(c.conn.Err())
			if err := c.connect(ctx, true); err != nil {
				return err
			}
			c.view.reconnected()
			synced = c.startSync(ctx)
		case res := <-synced:
			synced = nil
			c.view.synced(res.n, res.err)
		case now := <-tick.C:
			c.st.expireTyping(now)
		}
	}
}

// connect dials the first connection, or with retry reconnects with backoff.
func (c *Chat) connect(ctx context.Context, retry bool) error {
	if !retry {
		tok, err := c.cfg.Token(ctx)
		if err != nil {
			return fmt.Errorf("chat: token: %w", err)
		}
		conn, err := client.Dial(ctx, c.cfg.URL, tok, c.cfg.Options)
		if err != nil {
			return fmt.Errorf("chat: connect %s: %w", c.cfg.URL, err)
		}
		c.conn = conn
		return nil
	}
	conn, err := client.Reconnect(ctx, c.cfg.URL, c.cfg.Token, c.cfg.Options, 0)
	if err != nil {
		return fmt.Errorf("chat: %w", err)
	}
	c.conn = conn
	return nil
}

// syncResult is how a background sync ended: the messages it replayed, or its error.
type syncResult struct {
	n   int
	err error
}

// startSync runs SyncAll in the background (its messages come through the event loop).
func (c *Chat) startSync(ctx context.Context) <-chan syncResult {
	ch := make(chan syncResult, 1)
	conn := c.conn
	go func() {
		n, err := conn.SyncAll(ctx)
		ch <- syncResult{n, err}
	}()
	return ch
}

// handleLine runs one input line and reports whether the session should end.
func (c *Chat) handleLine(ctx context.Context, line string) bool {
	cmd, err := ParseLine(line)
	if err != nil {
		c.view.problem(err)
		return false
	}
	if cmd.Name == "quit" {
		return true
	}
	if cmd.Name == "" {
		return false
	}
	if err := c.run(ctx, cmd); err != nil {
		c.view.failed(cmd.Name, err)
	}
	return false
}

// run carries out one parsed command other than quit.
func (c *Chat) run(ctx context.Context, cmd Command) error {
	switch cmd.Name {
	case "help":
		c.view.help()
	case "send":
		return c.send(ctx, cmd.Text)
	case "list":
		convs, err := c.conn.Conversations(ctx)
		if err != nil {
			return err
		}
		c.view.list(c.st, convs, c.st.setList(convs))
	case "open":
		id, err := c.st.conversationID(cmd.Args[0])
		if err != nil {
			return err
		}
		return c.openConversation(ctx, id)
	case "dm":
		conv, err := c.conn.CreateConversation(ctx, "", cmd.Args[0])
		if err != nil {
			return err
		}
		c.st.remember(conv)
		return c.openConversation(ctx, conv.ConversationID)
	case "group":
		conv, err := c.conn.CreateConversation(ctx, cmd.Args[0], cmd.Args[1:]...)
		if err != nil {
			return err
		}
		c.st.remember(conv)
		return c.openConversation(ctx, conv.ConversationID)
	case "add":
		open, err := c.st.requireOpen()
		if err != nil {
			return err
		}
		conv, err := c.conn.AddMembers(ctx, open, cmd.Args...)
		if err != nil {
			return err
		}
		c.st.remember(conv)
		c.view.members(c.st, conv)
	case "leave":
		open, err := c.st.requireOpen()
		if err != nil {
			return err
		}
		if _, err := c.conn.Leave(ctx, open); err != nil {
			return err
		}
		c.view.left(c.st, open)
		c.st.closeOpen()
	case "history":
		if _, err := c.st.requireOpen(); err != nil {
			return err
		}
		if c.st.older() == "" {
			c.view.noOlder()
			return nil
		}
		return c.showPage(ctx, c.st.older(), "older messages")
	case "reply":
		m, err := c.st.target(cmd.Ref, false)
		if err != nil {
			return err
		}
		return c.post(ctx, m.ConversationID, cmd.Text, &m)
	case "edit":
		m, err := c.st.target(cmd.Ref, true)
		if err != nil {
			return err
		}
		ed, err := c.conn.Edit(ctx, m.ConversationID, m.MessageID, cmd.Text)
		if err != nil {
			return err
		}
		c.st.applyEdited(ed) // false for a retried edit: shown again all the same
		c.view.edited(c.st, ed.ConversationID, ed.MessageID)
	case "delete":
		m, err := c.st.target(cmd.Ref, true)
		if err != nil {
			return err
		}
		d, err := c.conn.Delete(ctx, m.ConversationID, m.MessageID)
		if err != nil {
			return err
		}
		c.st.applyDeleted(d)
		c.view.deleted(c.st, d.ConversationID, d.MessageID)
	case "react":
		return c.react(ctx, cmd.Ref, cmd.Args[0])
	case "who":
		users, err := c.conn.Presence(ctx, cmd.Args...)
		if err != nil {
			return err
		}
		c.view.presence(users)
	default:
		return fmt.Errorf("unhandled command %q", cmd.Name)
	}
	return nil
}

// send sends text to the open conversation and shows it once acknowledged.
func (c *Chat) send(ctx context.Context, text string) error {
	open := c.st.current()
	if open == "" {
		return errors.New("no open conversation: use /list and /open, /dm or /group")
	}
	return c.post(ctx, open, text, nil)
}

// post sends text to conv, as a reply to quoted unless it is nil, and shows it once
// acknowledged.
func (c *Chat) post(ctx context.Context, conv, text string, quoted *client.Message) error {
	// The echo of this message is read only after the send returns (this goroutine handles
	// events), and then dropped as seen: the ack is what prints it.
	var (
		ack     *client.Ack
		err     error
		replyTo *client.ReplyRef
	)
	if quoted == nil {
		ack, err = c.conn.Send(ctx, conv, newClientMsgID(), text)
	} else {
		replyTo = quoteOf(*quoted)
		ack, err = c.conn.SendReply(ctx, conv, newClientMsgID(), text, quoted.MessageID)
	}
	if err != nil {
		return err
	}
	m := client.Message{
		ConversationID: ack.ConversationID, MessageID: ack.MessageID, SenderID: c.cfg.User, Body: text, CreatedAt: ack.CreatedAt,
		ClientMsgID: ack.ClientMsgID, ReplyTo: replyTo,
	}
	c.st.sent(m)
	c.view.sent(c.st, m)
	return nil
}

// react toggles the user's reaction emoji on message number n (0: the newest here): takes
// it back if the user has it, adds it otherwise.
func (c *Chat) react(ctx context.Context, n int, emoji string) error {
	m, err := c.st.target(n, false)
	if err != nil {
		return err
	}
	state := client.ReactionAdd
	if c.st.reacted(m.MessageID, emoji) {
		state = client.ReactionRemove
	}
	r, err := c.conn.React(ctx, m.ConversationID, m.MessageID, emoji, state)
	if err != nil {
		return err
	}
	if r.EventID == "" {
		c.view.reactionUnchanged(c.st, r)
		return nil
	}
	c.st.applyReaction(r)
	c.view.reaction(c.st, r)
	return nil
}

// openConversation makes id the open conversation and shows its newest page.
func (c *Chat) openConversation(ctx context.Context, id string) error {
	c.st.setOpen(id)
	c.view.header(c.st.name(id))
	return c.showPage(ctx, "", "")
}

// showPage prints a history page of the open conversation, oldest first, and marks the
// newest message read.
func (c *Chat) showPage(ctx context.Context, before, title string) error {
	open := c.st.current()
	page, err := c.conn.History(ctx, open, before, c.cfg.HistoryPage)
	if err != nil {
		return err
	}
	c.st.addPage(page)
	if title != "" {
		c.view.header(title)
	}
	c.view.page(c.st, page.Messages)
	if before == "" && len(page.Messages) > 0 {
		c.receipt(ctx, open, page.Messages[0].MessageID, client.StatusRead)
	}
	return nil
}

// handleEvent applies one pushed frame to the state, shows what is new in it and sends
// the receipts it calls for. Changes to messages (edits, deletes, reactions) are shown
// when they change a message the session shows; they get no receipt of their own (the
// next message's moves the cursor past them, and a change that sync replays again is
// dropped as a duplicate).
func (c *Chat) handleEvent(ctx context.Context, ev client.Event) {
	switch ev.Type {
	case client.TypeMessage:
		m := ev.Message
		if !c.st.applyMessage(m) {
			return // a duplicate, or the echo of a send whose ack printed it
		}
		c.view.message(c.st, *m)
		if m.SenderID == c.cfg.User {
			return
		}
		status := client.StatusDelivered
		if c.st.isOpen(m.ConversationID) {
			status = client.StatusRead
		}
		c.receipt(ctx, m.ConversationID, m.MessageID, status)
	case client.TypeEdited:
		if c.st.applyEdited(ev.Edited) {
			c.view.edited(c.st, ev.Edited.ConversationID, ev.Edited.MessageID)
		}
	case client.TypeDeleted:
		if c.st.applyDeleted(ev.Deleted) {
			c.view.deleted(c.st, ev.Deleted.ConversationID, ev.Deleted.MessageID)
		}
	case client.TypeReaction:
		if c.st.applyReaction(ev.Reaction) {
			c.view.reaction(c.st, ev.Reaction)
		}
	case client.TypeTyping:
		if c.st.applyTyping(ev.Typing, ev.Received) {
			c.view.typing(c.st, ev.Typing)
		}
	case client.TypeReceipt:
		if c.st.applyReceipt(ev.Receipt) {
			c.view.receipt(c.st, ev.Receipt)
		}
	case client.TypeConversation:
		if ev.Conversation == nil {
			return
		}
		c.st.remember(ev.Conversation)
		c.view.conversationChanged(c.st, ev.Conversation)
	case client.TypePresence:
		c.view.presence(ev.Presence)
	case client.TypeError:
		if ev.Err != nil {
			c.view.problem(ev.Err)
		}
	}
}

// receipt sends a receipt, reporting a failure without stopping the session.
func (c *Chat) receipt(ctx context.Context, conv, messageID, status string) {
	if _, err := c.conn.Receipt(ctx, conv, messageID, status); err != nil {
		c.view.failed("receipt", err)
	}
}

// newClientMsgID returns a random client message id.
func newClientMsgID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "c-" + hex.EncodeToString(b[:])
}
