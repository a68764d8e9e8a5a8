package lambdamain

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/metrics"
)

func newSink(t *testing.T, buf *bytes.Buffer) *metrics.EMF {
	t.Helper()
	m, err := metrics.New(metrics.Options{Function: "fanout", Writer: buf})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFlushAfterInvocation(t *testing.T) {
	var out, logs bytes.Buffer
	m := newSink(t, &out)
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	h := flushing(func(_ context.Context, req string) (string, error) {
		m.Posted(chat.PathStream, chat.OutcomeDelivered, 1, 20*time.Millisecond)
		if out.Len() != 0 {
			t.Error("metrics written before the handler returned")
		}
		return "ok " + req, errors.New("handler error")
	}, m, log)
	resp, err := h(context.Background(), "x")
	if resp != "ok x" || err == nil || err.Error() != "handler error" {
		t.Errorf("wrapper changed the result: %q, %v", resp, err)
	}
	if n := strings.Count(out.String(), "\n"); n != 1 || !strings.Contains(out.String(), `"`+metrics.DeliveryLag+`":[20]`) {
		t.Errorf("after the invocation: %d documents: %s", n, out.String())
	}
	// An invocation that records nothing writes nothing.
	out.Reset()
	if _, err := flushing(func(context.Context, string) (string, error) { return "", nil }, m, log)(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("empty invocation wrote %s", out.String())
	}
	if logs.Len() != 0 {
		t.Errorf("logged %s", logs.String())
	}
}

func TestFlushOnPanic(t *testing.T) {
	var out bytes.Buffer
	m := newSink(t, &out)
	h := flushing(func(context.Context, int) (int, error) {
		m.FannedOut(false, time.Millisecond)
		panic("boom")
	}, m, slog.New(slog.DiscardHandler))
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the handler's panic", r)
			}
		}()
		_, _ = h(context.Background(), 1)
	}()
	if !strings.Contains(out.String(), `"`+metrics.FanoutRecords+`":1`) {
		t.Errorf("metrics not written on panic: %q", out.String())
	}
}

type failingFlusher struct{}

func (failingFlusher) Flush() error { return errors.New("stdout closed") }

func TestFlushErrorLogged(t *testing.T) {
	var logs bytes.Buffer
	h := flushing(func(context.Context, int) (int, error) { return 7, nil }, failingFlusher{}, slog.New(slog.NewJSONHandler(&logs, nil)))
	if v, err := h(context.Background(), 0); v != 7 || err != nil {
		t.Errorf("got %v, %v: a failed flush must not fail the invocation", v, err)
	}
	if !strings.Contains(logs.String(), "stdout closed") {
		t.Errorf("flush error not logged: %q", logs.String())
	}
}
