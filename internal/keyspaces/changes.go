package keyspaces

import (
	"context"
	"errors"

	"github.com/parleychat/parley/internal/chat"
)

// TEMPORARY: replaced by the real implementation before this lands.
var errTodo = errors.New("keyspaces: version 1.1 changes not implemented yet")

func (s *Store) Republish(context.Context, chat.Message) error          { return nil }
func (s *Store) ApplyChange(context.Context, chat.Message, int) error    { return errTodo }
func (s *Store) EraseBody(context.Context, string, string) error         { return errTodo }
