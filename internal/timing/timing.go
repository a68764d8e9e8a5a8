// Package timing models the deployed path's latencies in `parley local --aws-timings`, so
// that local latency figures say something about AWS: the stream mapping's poll, and a
// latency on every DynamoDB request, every Management API post, each API Gateway hop and
// each function invocation. Each figure, its default and its source are in
// docs/benchmarks.md; every one can be changed (Parse). The wrappers put the delays where
// they occur on AWS without the parts they wrap knowing. A nil *Model adds nothing.
package timing

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Model is the set of modelled latencies.
type Model struct {
	// StreamPoll is how often a stream mapping polls its shard when it found nothing:
	// records wait for the next poll. Default 250 ms.
	StreamPoll time.Duration
	// DynamoDB is added to every DynamoDB request. Default 5 ms.
	DynamoDB time.Duration
	// Post is the Management API's PostToConnection, from the call to the frame on the
	// client's WebSocket (the poster waits for it). Default 15 ms.
	Post time.Duration
	// GatewayIn is a client frame's way through API Gateway to the function. Default 10 ms.
	GatewayIn time.Duration
	// GatewayOut is a route response's way from the function back to the client. Default
	// 10 ms.
	GatewayOut time.Duration
	// Invoke is the overhead of invoking a warm function. Default 3 ms.
	Invoke time.Duration
}

// AWS returns the default model (docs/benchmarks.md gives each figure's source).
func AWS() *Model {
	return &Model{
		StreamPoll: 250 * time.Millisecond,
		DynamoDB:   5 * time.Millisecond,
		Post:       15 * time.Millisecond,
		GatewayIn:  10 * time.Millisecond,
		GatewayOut: 10 * time.Millisecond,
		Invoke:     3 * time.Millisecond,
	}
}

// fields names each figure in Parse's syntax.
func (m *Model) fields() map[string]*time.Duration {
	return map[string]*time.Duration{
		"stream.poll": &m.StreamPoll, "ddb": &m.DynamoDB, "post": &m.Post,
		"gw.in": &m.GatewayIn, "gw.out": &m.GatewayOut, "invoke": &m.Invoke,
	}
}

// Parse returns the AWS model with the figures spec sets: comma-separated NAME=DURATION,
// NAME one of stream.poll, ddb, post, gw.in, gw.out, invoke ("ddb=8ms,post=30ms").
func Parse(spec string) (*Model, error) {
	m := AWS()
	f := m.fields()
	for _, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		name, value, ok := strings.Cut(entry, "=")
		p := f[name]
		if !ok || p == nil {
			return nil, fmt.Errorf("timing: %q: want NAME=DURATION, NAME one of %s", entry, strings.Join(names(f), ", "))
		}
		d, err := time.ParseDuration(value)
		if err != nil || d < 0 || d > time.Minute {
			return nil, fmt.Errorf("timing: %q: want a duration from 0 to 1m", entry)
		}
		*p = d
	}
	return m, nil
}

// String renders the model in Parse's syntax.
func (m *Model) String() string {
	if m == nil {
		return "off"
	}
	f := m.fields()
	parts := make([]string, 0, len(f))
	for _, n := range names(f) {
		parts = append(parts, n+"="+f[n].String())
	}
	return strings.Join(parts, ",")
}

func names(f map[string]*time.Duration) []string {
	out := make([]string, 0, len(f))
	for n := range f {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Poll is the stream mappings' poll interval (0 without a model: records at once).
func (m *Model) Poll() time.Duration {
	if m == nil {
		return 0
	}
	return m.StreamPoll
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// DynamoDB delays every request to the local DynamoDB endpoint.
func DynamoDB(m *Model, next http.Handler) http.Handler {
	if m == nil || m.DynamoDB == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sleep(r.Context(), m.DynamoDB) {
			next.ServeHTTP(w, r)
		}
	})
}

// Management delays every post to /@connections/{id} before it reaches the connection.
func Management(m *Model, next http.Handler) http.Handler {
	if m == nil || m.Post == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/@connections/") && !sleep(r.Context(), m.Post) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RouteFunc is a WebSocket route function.
type RouteFunc = func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)

// Route adds the gateway's hops and the invocation to a route function: GatewayIn and
// Invoke before it runs, GatewayOut before its response reaches the client.
func Route(m *Model, next RouteFunc) RouteFunc {
	if m == nil {
		return next
	}
	return func(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		sleep(ctx, m.GatewayIn+m.Invoke)
		resp, err := next(ctx, req)
		if err == nil && resp.Body != "" {
			sleep(ctx, m.GatewayOut)
		}
		return resp, err
	}
}

// StreamFunc is a DynamoDB stream function.
type StreamFunc = func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// Stream adds the invocation to the stream function (the poll is the mapping's).
func Stream(m *Model, next StreamFunc) StreamFunc {
	if m == nil {
		return next
	}
	return func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		sleep(ctx, m.Invoke)
		return next(ctx, ev)
	}
}

// AuthorizeFunc is the $connect authorizer.
type AuthorizeFunc = func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error)

// Authorize adds the invocation to the authorizer.
func Authorize(m *Model, next AuthorizeFunc) AuthorizeFunc {
	if m == nil {
		return next
	}
	return func(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		sleep(ctx, m.Invoke)
		return next(ctx, req)
	}
}
