// Package localtest starts the real local runtime for other packages' tests.
package localtest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/local"
)

// Start starts parley local (dynalite, the stream proxy, the handlers, the gateway) on a
// free port of 127.0.0.1 with cfg (Addr and a quiet Logger are filled in when empty) and
// stops it when the test ends. A failure to start fails the test: it never skips.
func Start(t testing.TB, cfg local.Config) *local.Main {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	m := local.New(cfg)
	if err := m.Start(ctx); err != nil {
		m.Close()
		t.Fatalf("start parley local (needs Node.js and npm for dynalite): %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close parley local: %v", err)
		}
	})
	return m
}
