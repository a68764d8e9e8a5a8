// Package tui is Parley's line-oriented terminal chat client (`parley chat`). It reads
// commands and messages from an io.Reader and writes the conversation to an io.Writer, so
// it runs in any terminal and in tests alike.
package tui

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Command is one parsed input line.
type Command struct {
	// Name is the command without its slash ("list", "open", ...), or "send" for text.
	Name string
	// Args are the command's whitespace-separated arguments, after Ref's.
	Args []string
	// Text is the message body of a "send", and the text of /edit and /reply as typed.
	Text string
	// Ref is the number of the message that /edit, /delete, /react or /reply names ("3" or
	// "#3" before the other arguments), 0 when the command names none (its default message).
	Ref int
}

// commandSpec says how many arguments a command takes and how to describe it.
type commandSpec struct {
	min, max int // max -1: no limit; Ref is not counted
	usage    string
	help     string
	// ref: the first argument may be a message's number (N or #N), which goes to Ref.
	ref bool
	// text: the arguments (after Ref's) are a text, kept as typed in Text.
	text bool
}

var commandSpecs = map[string]commandSpec{
	"list":    {min: 0, max: 0, usage: "/list", help: "your conversations, with unread counts"},
	"open":    {min: 1, max: 1, usage: "/open ID|N", help: "open a conversation by id or by its number in /list"},
	"dm":      {min: 1, max: 1, usage: "/dm USER", help: "open (or create) the direct conversation with USER"},
	"group":   {min: 2, max: -1, usage: "/group NAME USER...", help: "create a group and open it"},
	"add":     {min: 1, max: -1, usage: "/add USER...", help: "add members to the open group"},
	"leave":   {min: 0, max: 0, usage: "/leave", help: "leave the open group"},
	"history": {min: 0, max: 0, usage: "/history", help: "show the previous page of the open conversation"},
	"reply":   {min: 1, max: -1, usage: "/reply [N] TEXT", help: "answer message #N, quoting it (default: the last message here)", ref: true, text: true},
	"edit":    {min: 1, max: -1, usage: "/edit [N] TEXT", help: "change the text of your message #N (default: your last one here)", ref: true, text: true},
	"delete":  {min: 0, max: 0, usage: "/delete [N]", help: "delete your message #N (default: your last one here)", ref: true},
	"react":   {min: 1, max: 1, usage: "/react [N] EMOJI", help: "add EMOJI to message #N, or take it back (default: the last message here)", ref: true},
	"who":     {min: 1, max: 100, usage: "/who USER...", help: "who is online"},
	"help":    {min: 0, max: 0, usage: "/help", help: "this help"},
	"quit":    {min: 0, max: 0, usage: "/quit", help: "leave parley chat"},
}

var commandOrder = []string{"list", "open", "dm", "group", "add", "leave", "history", "reply", "edit", "delete", "react", "who", "help", "quit"}

// ParseLine parses one input line. Text not starting with "/" is a message to the open
// conversation ("//" sends a text that starts with "/"). An empty line is Command{}.
func ParseLine(line string) (Command, error) {
	line = strings.TrimRight(line, "\r\n")
	if strings.TrimSpace(line) == "" {
		return Command{}, nil
	}
	if strings.HasPrefix(line, "//") {
		return Command{Name: "send", Text: line[1:]}, nil
	}
	if !strings.HasPrefix(line, "/") {
		return Command{Name: "send", Text: line}, nil
	}
	fields := strings.Fields(line[1:])
	if len(fields) == 0 {
		return Command{}, fmt.Errorf("empty command (try /help)")
	}
	name, args := strings.ToLower(fields[0]), fields[1:]
	spec, ok := commandSpecs[name]
	if !ok {
		return Command{}, fmt.Errorf("unknown command /%s (try /help)", fields[0])
	}
	cmd := Command{Name: name}
	words := 1 // the command itself
	if spec.ref && len(args) > 0 {
		if n, ok := messageNumber(args[0]); ok {
			cmd.Ref, args = n, args[1:]
			words++
		}
	}
	if len(args) < spec.min || (spec.max >= 0 && len(args) > spec.max) {
		return Command{}, fmt.Errorf("usage: %s", spec.usage)
	}
	cmd.Args = args
	if spec.text {
		cmd.Text = skipWords(line[1:], words)
	}
	return cmd, nil
}

// messageNumber reads a message's number as the view shows it, "3" or "#3".
func messageNumber(arg string) (int, bool) {
	digits := strings.TrimPrefix(arg, "#")
	if digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil
}

// skipWords returns s without its first n whitespace-separated words and the space around
// them, the rest as typed.
func skipWords(s string, n int) string {
	for range n {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
			s = s[i:]
		} else {
			s = ""
		}
	}
	return strings.TrimLeftFunc(s, unicode.IsSpace)
}

// helpText lists the commands.
func helpText() string {
	var b strings.Builder
	b.WriteString("commands:\n")
	for _, n := range commandOrder {
		s := commandSpecs[n]
		fmt.Fprintf(&b, "  %-22s %s\n", s.usage, s.help)
	}
	b.WriteString("  anything else          send it to the open conversation (// for a leading /)\n")
	b.WriteString("messages show their number first (#N), which /reply, /edit, /delete and /react take\n")
	return b.String()
}
