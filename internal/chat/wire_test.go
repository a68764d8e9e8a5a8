package chat

import (
	"strings"
	"testing"
	"time"
)

func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		name      string
		frame     string
		wantCode  Code // "" for success
		action    string
		requestID string
	}{
		{"send", `{"action":"send","conversationId":"c","clientMsgId":"m","body":"hi","requestId":"r1"}`, "", "send", "r1"},
		{"unknown fields ignored", `{"action":"heartbeat","future":{"x":1}}`, "", "heartbeat", ""},
		{"not json", `hello`, CodeBadRequest, "", ""},
		{"array", `[1,2]`, CodeBadRequest, "", ""},
		{"null", `null`, CodeBadRequest, "", ""},
		{"string", `"send"`, CodeBadRequest, "", ""},
		{"no action", `{"requestId":"r2"}`, CodeBadRequest, "", "r2"},
		{"action not a string", `{"action":5,"requestId":"r3"}`, CodeBadRequest, "", "r3"},
		{"empty action", `{"action":""}`, CodeBadRequest, "", ""},
		{"body wrong type keeps ids", `{"action":"send","requestId":"r4","body":5}`, CodeBadRequest, "send", "r4"},
		{"limit wrong type", `{"action":"history","limit":"ten"}`, CodeBadRequest, "history", ""},
		{"requestId too long", `{"action":"heartbeat","requestId":"` + strings.Repeat("x", 65) + `"}`, CodeBadRequest, "heartbeat", ""},
		{"requestId 64 ok", `{"action":"heartbeat","requestId":"` + strings.Repeat("x", 64) + `"}`, "", "heartbeat", strings.Repeat("x", 64)},
		{"requestId empty", `{"action":"heartbeat","requestId":""}`, CodeBadRequest, "heartbeat", ""},
		{"requestId number", `{"action":"heartbeat","requestId":7}`, CodeBadRequest, "heartbeat", ""},
		{"invalid utf8", "{\"action\":\"send\",\"body\":\"\xff\"}", CodeBadRequest, "", ""},
		{"over 32 KiB", `{"action":"send","body":"` + strings.Repeat("a", MaxFrameBytes) + `"}`, CodeTooLarge, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := DecodeRequest([]byte(tt.frame))
			if got := codeOf(err); got != tt.wantCode {
				t.Fatalf("code = %q (%v), want %q", got, err, tt.wantCode)
			}
			if r.Action != tt.action || r.RequestID != tt.requestID {
				t.Fatalf("action, requestId = %q, %q; want %q, %q", r.Action, r.RequestID, tt.action, tt.requestID)
			}
		})
	}
}

func codeOf(err error) Code {
	if err == nil {
		return ""
	}
	return ErrorCode(err)
}

func TestIDs(t *testing.T) {
	ids := NewIDs()
	now := time.Now()
	prev := ""
	for i := 0; i < 1000; i++ {
		id := ids.New(now) // the same millisecond: monotonic entropy keeps the order
		if !ValidULID(id) {
			t.Fatalf("%q is not a ULID", id)
		}
		if id <= prev {
			t.Fatalf("id %q after %q: not increasing", id, prev)
		}
		prev = id
	}
	if ValidULID("not-a-ulid") || ValidULID(strings.Repeat("Z", 26)) {
		t.Fatal("ValidULID accepted garbage")
	}
}

func TestDirectID(t *testing.T) {
	if DirectID("bob", "alice") != DirectID("alice", "bob") {
		t.Fatal("DirectID depends on argument order")
	}
	a, b, ok := DirectMembers(DirectID("bob", "alice"))
	if !ok || a != "alice" || b != "bob" {
		t.Fatalf("DirectMembers = %q, %q, %v", a, b, ok)
	}
	if _, _, ok := DirectMembers(GroupID("01H")); ok {
		t.Fatal("a group id parsed as direct")
	}
}

func TestValidUserID(t *testing.T) {
	for _, id := range []string{"a", "alice", "A.b@c-d_9", strings.Repeat("x", 64)} {
		if !ValidUserID(id) {
			t.Errorf("ValidUserID(%q) = false", id)
		}
	}
	for _, id := range []string{"", "a b", "a:b", "é", strings.Repeat("x", 65), "a#b"} {
		if ValidUserID(id) {
			t.Errorf("ValidUserID(%q) = true", id)
		}
	}
}
