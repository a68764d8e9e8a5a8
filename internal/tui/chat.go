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
	"strconv"
	"strings"
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

// typingTimeout is how long a typing indicator lasts after the last "start" (PROTOCOL.md).
const typingTimeout = 3 * time.Second

// Chat is one terminal chat session. Every method runs on the goroutine of Run.
type Chat struct {
	cfg  Config
	out  io.Writer
	conn *client.Conn

	open     string // open conversation id, "" for none
	openNext string // the "before" of the open conversation's next older page
	list     []client.ConversationSummary
	names    map[string]string   // conversation id -> display name
	members  map[string][]string // conversation id -> members, when known
	seen     map[string]bool     // message ids shown (duplicates are dropped)
	lastMine map[string]string   // conversation id -> newest own message id
	marked   map[string]string   // conv/user/status -> upTo shown for own messages
	typing   map[string]time.Time
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
		cfg: cfg, out: out,
		names: map[string]string{}, members: map[string][]string{}, seen: map[string]bool{},
		lastMine: map[string]string{}, marked: map[string]string{},
		typing: map[string]time.Time{},
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
	c.printf("connected to %s as %s; /help lists the commands\n", c.cfg.URL, c.cfg.User)

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
			c.printf("! connection lost (%v); reconnecting…\n", c.conn.Err())
			if err := c.connect(ctx, true); err != nil {
				return err
			}
			c.printf("reconnected\n")
			synced = c.startSync(ctx)
		case res := <-synced:
			synced = nil
			if res.err != nil {
				c.printf("! sync: %v\n", res.err)
			} else if res.n > 0 {
				c.printf("synced %d missed message(s)\n", res.n)
			}
		case now := <-tick.C:
			c.expireTyping(now)
		}
	}
}

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
		c.printf("! %v\n", err)
		return false
	}
	if cmd.Name == "quit" {
		return true
	}
	if cmd.Name == "" {
		return false
	}
	if err := c.run(ctx, cmd); err != nil {
		c.printf("! %s: %v\n", cmd.Name, err)
	}
	return false
}

func (c *Chat) run(ctx context.Context, cmd Command) error {
	switch cmd.Name {
	case "help":
		c.printf("%s", helpText())
	case "send":
		return c.send(ctx, cmd.Text)
	case "list":
		convs, err := c.conn.Conversations(ctx)
		if err != nil {
			return err
		}
		c.list = convs
		c.renderList(convs)
	case "open":
		id := cmd.Args[0]
		if n, err := strconv.Atoi(id); err == nil {
			if n < 1 || n > len(c.list) {
				return fmt.Errorf("no conversation number %d in the last /list", n)
			}
			id = c.list[n-1].ConversationID
		}
		return c.openConversation(ctx, id)
	case "dm":
		conv, err := c.conn.CreateConversation(ctx, "", cmd.Args[0])
		if err != nil {
			return err
		}
		c.remember(conv)
		return c.openConversation(ctx, conv.ConversationID)
	case "group":
		conv, err := c.conn.CreateConversation(ctx, cmd.Args[0], cmd.Args[1:]...)
		if err != nil {
			return err
		}
		c.remember(conv)
		return c.openConversation(ctx, conv.ConversationID)
	case "add":
		if c.open == "" {
			return errors.New("no open conversation")
		}
		conv, err := c.conn.AddMembers(ctx, c.open, cmd.Args...)
		if err != nil {
			return err
		}
		c.remember(conv)
		c.printf("members of %s: %s\n", c.name(conv.ConversationID), strings.Join(conv.Members, ", "))
	case "leave":
		if c.open == "" {
			return errors.New("no open conversation")
		}
		if _, err := c.conn.Leave(ctx, c.open); err != nil {
			return err
		}
		c.printf("you left %s\n", c.name(c.open))
		c.open, c.openNext = "", ""
	case "history":
		if c.open == "" {
			return errors.New("no open conversation")
		}
		if c.openNext == "" {
			c.printf("(no older messages)\n")
			return nil
		}
		return c.showPage(ctx, c.openNext, "older messages")
	case "who":
		users, err := c.conn.Presence(ctx, cmd.Args...)
		if err != nil {
			return err
		}
		for _, p := range users {
			c.renderPresence(p)
		}
	default:
		return fmt.Errorf("unhandled command %q", cmd.Name)
	}
	return nil
}

func (c *Chat) send(ctx context.Context, text string) error {
	if c.open == "" {
		return errors.New("no open conversation: use /list and /open, /dm or /group")
	}
	// The echo of this message is read only after Send returns (this goroutine handles
	// events), and then dropped as seen: the ack is what prints it.
	ack, err := c.conn.Send(ctx, c.open, newClientMsgID(), text)
	if err != nil {
		return err
	}
	c.seen[ack.MessageID] = true
	c.lastMine[ack.ConversationID] = ack.MessageID
	c.printf("%s ✓\n", c.formatMessage(client.Message{
		ConversationID: ack.ConversationID, MessageID: ack.MessageID, SenderID: c.cfg.User, Body: text, CreatedAt: ack.CreatedAt,
	}))
	return nil
}

// openConversation makes id the open conversation and shows its newest page.
func (c *Chat) openConversation(ctx context.Context, id string) error {
	c.open, c.openNext = id, ""
	c.printf("── %s ──\n", c.name(id))
	return c.showPage(ctx, "", "")
}

// showPage prints a history page of the open conversation, oldest first, and marks the
// newest message read.
func (c *Chat) showPage(ctx context.Context, before, title string) error {
	page, err := c.conn.History(ctx, c.open, before, c.cfg.HistoryPage)
	if err != nil {
		return err
	}
	c.openNext = page.Next
	if title != "" {
		c.printf("── %s ──\n", title)
	}
	if len(page.Messages) == 0 {
		c.printf("(no messages)\n")
		return nil
	}
	for i := len(page.Messages) - 1; i >= 0; i-- {
		m := page.Messages[i]
		c.seen[m.MessageID] = true
		line := c.formatMessage(m)
		if m.SenderID == c.cfg.User {
			line += " " + statusMark(m)
			if m.MessageID > c.lastMine[m.ConversationID] {
				c.lastMine[m.ConversationID] = m.MessageID
			}
		}
		c.printf("%s\n", line)
	}
	if before == "" {
		c.receipt(ctx, c.open, page.Messages[0].MessageID, client.StatusRead)
	}
	return nil
}

// handleEvent renders one pushed frame and sends the receipts it calls for.
func (c *Chat) handleEvent(ctx context.Context, ev client.Event) {
	switch ev.Type {
	case client.TypeMessage:
		m := ev.Message
		if m == nil || c.seen[m.MessageID] {
			return // a duplicate, or the echo of a send whose ack printed it
		}
		c.seen[m.MessageID] = true
		delete(c.typing, m.ConversationID+"\x00"+m.SenderID)
		if m.SenderID == c.cfg.User && m.MessageID > c.lastMine[m.ConversationID] {
			c.lastMine[m.ConversationID] = m.MessageID
		}
		if m.ConversationID == c.open {
			c.printf("%s\n", c.formatMessage(*m))
			if m.SenderID != c.cfg.User {
				c.receipt(ctx, m.ConversationID, m.MessageID, client.StatusRead)
			}
			return
		}
		c.printf("[%s] %s\n", c.name(m.ConversationID), c.formatMessage(*m))
		if m.SenderID != c.cfg.User {
			c.receipt(ctx, m.ConversationID, m.MessageID, client.StatusDelivered)
		}
	case client.TypeTyping:
		t := ev.Typing
		if t == nil || t.UserID == c.cfg.User {
			return
		}
		key := t.ConversationID + "\x00" + t.UserID
		_, was := c.typing[key]
		if t.State == client.TypingStop {
			delete(c.typing, key)
			return
		}
		c.typing[key] = ev.Received
		if !was {
			where := ""
			if t.ConversationID != c.open {
				where = " in " + c.name(t.ConversationID)
			}
			c.printf("%s is typing…%s\n", t.UserID, where)
		}
	case client.TypeReceipt:
		c.renderReceipt(ev.Receipt)
	case client.TypeConversation:
		conv := ev.Conversation
		if conv == nil {
			return
		}
		c.remember(conv)
		c.printf("* %s: members %s\n", c.name(conv.ConversationID), strings.Join(conv.Members, ", "))
	case client.TypePresence:
		for _, p := range ev.Presence {
			c.renderPresence(p)
		}
	case client.TypeError:
		if ev.Err != nil {
			c.printf("! %v\n", ev.Err)
		}
	}
}

// receipt sends a receipt, reporting a failure without stopping the session.
func (c *Chat) receipt(ctx context.Context, conv, messageID, status string) {
	if _, err := c.conn.Receipt(ctx, conv, messageID, status); err != nil {
		c.printf("! receipt: %v\n", err)
	}
}

// expireTyping forgets typing indicators older than typingTimeout.
func (c *Chat) expireTyping(now time.Time) {
	for k, at := range c.typing {
		if now.Sub(at) > typingTimeout {
			delete(c.typing, k)
		}
	}
}

// remember records a conversation's name and members.
func (c *Chat) remember(conv *client.Conversation) {
	c.members[conv.ConversationID] = conv.Members
	switch {
	case conv.Name != "":
		c.names[conv.ConversationID] = conv.Name
	case conv.Kind == client.KindDirect:
		for _, m := range conv.Members {
			if m != c.cfg.User {
				c.names[conv.ConversationID] = "@" + m
			}
		}
	}
}

// name is how a conversation is shown: its name, "@peer" for a direct one, or its id.
func (c *Chat) name(id string) string {
	if n, ok := c.names[id]; ok {
		return n
	}
	return id
}

func (c *Chat) printf(format string, args ...any) {
	if _, err := fmt.Fprintf(c.out, format, args...); err != nil {
		c.cfg.Logger.Debug("chat: write output", "err", err)
	}
}

// formatMessage renders "[15:04] alice: body" ("you" for own messages).
func (c *Chat) formatMessage(m client.Message) string {
	who := m.SenderID
	if who == c.cfg.User {
		who = "you"
	}
	return fmt.Sprintf("[%s] %s: %s", time.UnixMilli(m.CreatedAt).In(c.cfg.Location).Format("15:04"), who, m.Body)
}

// statusMark renders the status history gives an own message: ✓ sent, ✓✓ delivered,
// "read"; in groups "✓✓ N read M".
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

// renderReceipt shows another member's receipt when it covers the newest own message of
// that conversation, once per member and status.
func (c *Chat) renderReceipt(r *client.Receipt) {
	if r == nil || r.UserID == c.cfg.User {
		return
	}
	mine := c.lastMine[r.ConversationID]
	if mine == "" || r.UpTo < mine {
		return
	}
	key := r.ConversationID + "\x00" + r.UserID + "\x00" + r.Status
	if c.marked[key] >= mine {
		return
	}
	c.marked[key] = mine
	where := ""
	if r.ConversationID != c.open {
		where = " in " + c.name(r.ConversationID)
	}
	if r.Status == client.StatusRead {
		c.printf("  ✓✓ read by %s%s\n", r.UserID, where)
		c.marked[r.ConversationID+"\x00"+r.UserID+"\x00"+client.StatusDelivered] = mine
		return
	}
	c.printf("  ✓✓ delivered to %s%s\n", r.UserID, where)
}

// renderPresence shows "● bob is online" or "○ bob is offline (last seen …)".
func (c *Chat) renderPresence(p client.Presence) {
	if p.Online {
		c.printf("● %s is online\n", p.UserID)
		return
	}
	if p.LastSeen == 0 {
		c.printf("○ %s is offline\n", p.UserID)
		return
	}
	c.printf("○ %s is offline (last seen %s)\n", p.UserID, time.UnixMilli(p.LastSeen).In(c.cfg.Location).Format("Jan 2 15:04"))
}

// renderList prints the conversation list, numbered for /open N.
func (c *Chat) renderList(convs []client.ConversationSummary) {
	if len(convs) == 0 {
		c.printf("no conversations yet: /dm USER or /group NAME USER...\n")
		return
	}
	for i, s := range convs {
		if s.Name != "" {
			c.names[s.ConversationID] = s.Name
		}
		unread := ""
		if s.Unread > 0 {
			unread = fmt.Sprintf(" (%d unread)", s.Unread)
			if s.Unread >= 100 {
				unread = " (100+ unread)"
			}
		}
		last := ""
		if s.LastMessage != nil {
			last = " — " + c.formatMessage(*s.LastMessage)
		}
		c.printf("%2d. %s [%s, %d members] %s%s%s\n", i+1, c.name(s.ConversationID), s.Kind, s.MemberCount, s.ConversationID, unread, last)
	}
}

// newClientMsgID returns a random client message id.
func newClientMsgID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "c-" + hex.EncodeToString(b[:])
}
