package chat

import (
	"strconv"
	"strings"
	"testing"
)

// BenchmarkDecodeSend measures decoding and validating one send frame, the first thing
// every send does.
func BenchmarkDecodeSend(b *testing.B) {
	for _, size := range []int{100, 4096, 16384} {
		frame := []byte(`{"action":"send","conversationId":"g:01JDQ2M3B8Y5K6C9V1X2Z3A4B5","clientMsgId":"c-1f3a9","requestId":"r-77","body":"` + strings.Repeat("a", size) + `"}`)
		b.Run(byteSize(size), func(b *testing.B) {
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				r, err := DecodeRequest(frame)
				if err != nil {
					b.Fatal(err)
				}
				if err := validID("clientMsgId", r.ClientMsgID); err != nil || r.Body == nil || len(*r.Body) > MaxBodyBytes {
					b.Fatal("invalid")
				}
			}
		})
	}
}

func byteSize(n int) string { return strconv.Itoa(n) + "B" }

// BenchmarkEncodeMessage measures encoding the message frame that fan-out posts.
func BenchmarkEncodeMessage(b *testing.B) {
	m := Message{ConversationID: "g:01JDQ2M3B8Y5K6C9V1X2Z3A4B5", MessageID: "01JDQ2M3B8Y5K6C9V1X2Z3A4B6", SenderID: "alice", Body: strings.Repeat("a", 200), CreatedAt: 1795881660123, ClientMsgID: "c-1"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(MessageFrame{Type: TypeMessage, Message: m}); err != nil {
			b.Fatal(err)
		}
	}
}
