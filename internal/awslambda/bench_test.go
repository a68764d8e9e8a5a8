package awslambda

import (
	"fmt"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// BenchmarkFanout500 measures the fan-out of one message to a 500-member group, one
// connection each, through a poster that takes 10 ms per call (about what
// PostToConnection takes in-region), with members and connections read from dynalite.
func BenchmarkFanout500(b *testing.B) {
	for _, conc := range []int{16, 64, 128} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			e := newEnv(b, chat.Options{PushConcurrency: conc})
			e.push.delay = 10 * time.Millisecond
			owner := uid("owner")
			oc := e.connect(owner)
			members := users(uid("m"), 499)
			for _, u := range members {
				e.connect(u)
			}
			g := e.must(owner, oc, map[string]any{"action": "createConversation", "members": members, "name": "bench"})
			m := e.send(owner, oc, g["conversation"].(map[string]any)["conversationId"].(string), "hello everyone")
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				e.push.reset()
				if r := e.deliver(m); len(r.BatchItemFailures) != 0 {
					b.Fatal(r)
				}
			}
			b.StopTimer()
			if n := e.push.calls.Load(); n < 500 {
				b.Fatalf("only %d posts", n)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/msg")
		})
	}
}
