package timing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

func TestParse(t *testing.T) {
	m, err := Parse("")
	if err != nil || *m != *AWS() {
		t.Fatalf("Parse(\"\") = %v, %v; want the AWS model", m, err)
	}
	m, err = Parse("ddb=8ms, post=30ms,stream.poll=0s")
	if err != nil || m.DynamoDB != 8*time.Millisecond || m.Post != 30*time.Millisecond || m.StreamPoll != 0 || m.GatewayIn != AWS().GatewayIn {
		t.Fatalf("Parse = %+v, %v", m, err)
	}
	if got := m.String(); !strings.Contains(got, "ddb=8ms") || !strings.Contains(got, "gw.in=10ms") {
		t.Fatalf("String = %q", got)
	}
	for _, bad := range []string{"ddb", "dynamo=5ms", "ddb=fast", "ddb=-1ms", "post=2m"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	var off *Model
	if off.Poll() != 0 || off.String() != "off" {
		t.Fatal("a nil model adds nothing")
	}
}

// The wrappers add at least their figure (a lower bound, which a slow machine cannot
// break).
func TestWrappersDelay(t *testing.T) {
	m := &Model{DynamoDB: 40 * time.Millisecond, Post: 40 * time.Millisecond, GatewayIn: 20 * time.Millisecond,
		GatewayOut: 30 * time.Millisecond, Invoke: 20 * time.Millisecond}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) })
	timeIt := func(f func()) time.Duration { start := time.Now(); f(); return time.Since(start) }
	if d := timeIt(func() { DynamoDB(m, ok).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil)) }); d < 40*time.Millisecond {
		t.Errorf("DynamoDB added %v", d)
	}
	if d := timeIt(func() {
		Management(m, ok).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/local/@connections/x", nil))
	}); d < 40*time.Millisecond {
		t.Errorf("Management added %v to a post", d)
	}
	route := Route(m, func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: "reply"}, nil
	})
	if d := timeIt(func() { _, _ = route(context.Background(), events.APIGatewayWebsocketProxyRequest{}) }); d < 70*time.Millisecond {
		t.Errorf("Route added %v, want gw.in + invoke + gw.out", d)
	}
	stream := Stream(m, func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		return events.DynamoDBEventResponse{}, nil
	})
	if d := timeIt(func() { _, _ = stream(context.Background(), events.DynamoDBEvent{}) }); d < 20*time.Millisecond {
		t.Errorf("Stream added %v", d)
	}
	if DynamoDB(nil, ok) == nil || Route(nil, route) == nil {
		t.Fatal("nil model must pass through")
	}
}
