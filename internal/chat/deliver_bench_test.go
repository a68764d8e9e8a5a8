package chat

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// memberStore and connStore are the two reads fan-out makes, held in memory, so that
// BenchmarkDeliver500 measures the fan-out engine alone. (Embedding the interfaces makes
// any other call panic: the benchmark must not make one.)
type memberStore struct {
	ConversationStore
	members []Membership
}

func (m memberStore) Members(context.Context, string) ([]Membership, error) { return m.members, nil }

type connStore struct {
	ConnectionStore
	readDelay time.Duration
}

func (c connStore) Connections(_ context.Context, user string, _ int64) ([]Connection, error) {
	time.Sleep(c.readDelay)
	return []Connection{{UserID: user, ConnectionID: "c-" + user}}, nil
}

type sleepPusher struct {
	delay time.Duration
	n     atomic.Int64
}

func (p *sleepPusher) Push(context.Context, string, []byte) error {
	time.Sleep(p.delay)
	p.n.Add(1)
	return nil
}

// BenchmarkDeliver500 fans one message out to 500 members with one connection each,
// through a poster that takes 10 ms per call and connection reads that take 5 ms
// (about DynamoDB's and PostToConnection's in-region latencies).
func BenchmarkDeliver500(b *testing.B) {
	members := make([]Membership, 500)
	for i := range members {
		members[i] = Membership{UserID: fmt.Sprint("u", i)}
	}
	for _, conc := range []int{16, 64, 128} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			p := &sleepPusher{delay: 10 * time.Millisecond}
			svc := NewService(nil, memberStore{members: members}, connStore{readDelay: 5 * time.Millisecond}, p,
				Options{PushConcurrency: conc, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			m := Message{ConversationID: "g:1", MessageID: "01JDQ2M3B8Y5K6C9V1X2Z3A4B5", SenderID: "u0", Body: "hello", CreatedAt: 1}
			b.ReportAllocs()
			for b.Loop() {
				if err := svc.NewDeliverer().Deliver(context.Background(), m); err != nil {
					b.Fatal(err)
				}
			}
			if p.n.Load() != int64(500*b.N) {
				b.Fatalf("%d posts for %d deliveries", p.n.Load(), b.N)
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/msg")
		})
	}
}
