// Package tui is Parley's line-oriented terminal chat client (`parley chat`). It reads
// commands and messages from an io.Reader and writes the conversation to an io.Writer, so
// it runs in any terminal and in tests alike.
package tui

import (
	"fmt"
	"strings"
)

// Command is one parsed input line.
type Command struct {
	// Name is the command without its slash ("list", "open", ...), or "send" for text.
	Name string
	// Args are the command's whitespace-separated arguments.
	Args []string
	// Text is the message body of a "send".
	Text string
}

// commandSpec says how many arguments a command takes and how to describe it.
type commandSpec struct {
	min, max int // max -1: no limit
	usage    string
	help     string
}

var commandSpecs = map[string]commandSpec{
	"list":    {0, 0, "/list", "your conversations, with unread counts"},
	"open":    {1, 1, "/open ID|N", "open a conversation by id or by its number in /list"},
	"dm":      {1, 1, "/dm USER", "open (or create) the direct conversation with USER"},
	"group":   {2, -1, "/group NAME USER...", "create a group and open it"},
	"add":     {1, -1, "/add USER...", "add members to the open group"},
	"leave":   {0, 0, "/leave", "leave the open group"},
	"history": {0, 0, "/history", "show the previous page of the open conversation"},
	"who":     {1, 100, "/who USER...", "who is online"},
	"help":    {0, 0, "/help", "this help"},
	"quit":    {0, 0, "/quit", "leave parley chat"},
}

var commandOrder = []string{"list", "open", "dm", "group", "add", "leave", "history", "who", "help", "quit"}

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
	if len(args) < spec.min || (spec.max >= 0 && len(args) > spec.max) {
		return Command{}, fmt.Errorf("usage: %s", spec.usage)
	}
	return Command{Name: name, Args: args}, nil
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
	return b.String()
}
