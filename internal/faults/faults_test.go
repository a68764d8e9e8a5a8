package faults

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    string // Spec.String(), or the error's text
		wantErr bool
	}{
		{in: "", want: ""},
		{in: "none", want: ""},
		{in: "post.error=2%", want: "post.error=2%"},
		{in: "post.error=0.25", want: "post.error=25%"},
		{in: "ddb.latency=10%:5ms", want: "ddb.latency=10%:5ms"},
		{in: "ddb.latency=10%", want: "ddb.latency=10%:20ms"},
		{in: "post.timeout=1%", want: "post.timeout=1%:6s"},
		{in: "ddb.throttle@PutItem=5%,ddb.throttle=1%", want: "ddb.throttle@PutItem=5%,ddb.throttle=1%"},
		{in: "post.error=1%,post.error=3%", want: "post.error=3%"},
		{in: "chaos,gw.drop=0", want: strings.Replace(mustSpec(t, Chaos).String(), "gw.drop=0.5%", "gw.drop=0%", 1)},
		{in: "bogus=1%", want: `unknown fault kind "bogus"`, wantErr: true},
		{in: "post.error", want: "want KIND=RATE", wantErr: true},
		{in: "post.error=150%", want: "rate", wantErr: true},
		{in: "post.error=-1", want: "rate", wantErr: true},
		{in: "post.error=x", want: "rate", wantErr: true},
		{in: "post.error@PutItem=1%", want: "DynamoDB operation", wantErr: true},
		{in: "post.error=1%:5s", want: "only post.timeout and ddb.latency", wantErr: true},
		{in: "ddb.latency=1%:soon", want: "duration", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			spec, err := Parse(tt.in)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Parse(%q) = %v, %v; want an error with %q", tt.in, spec, err, tt.want)
				}
				return
			}
			if err != nil || spec.String() != tt.want {
				t.Fatalf("Parse(%q) = %q, %v; want %q", tt.in, spec.String(), err, tt.want)
			}
		})
	}
	chaos := mustSpec(t, "chaos")
	kinds := map[Kind]bool{}
	for _, r := range chaos {
		if r.Rate <= 0 || r.Rate > 0.05 {
			t.Errorf("chaos: %s at %v, want a few percent", r.Kind, r.Rate)
		}
		kinds[r.Kind] = true
	}
	if len(kinds) != len(Kinds) {
		t.Errorf("chaos has %d kinds, want every one of the %d", len(kinds), len(Kinds))
	}
}

func mustSpec(t *testing.T, s string) Spec {
	t.Helper()
	spec, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// always returns an enabled injector whose every roll hits.
func always(t *testing.T, s string) *Injector {
	in := New(mustSpec(t, s))
	in.roll = func() float64 { return 0 }
	in.Enable()
	return in
}

func TestInjector(t *testing.T) {
	var nilIn *Injector
	if nilIn.Hit(PostError) || len(nilIn.Counts()) != len(Kinds) {
		t.Fatal("a nil injector injects nothing and reports every kind at 0")
	}
	in := New(mustSpec(t, "post.error=100%"))
	if in.Hit(PostError) {
		t.Fatal("a disabled injector must not inject")
	}
	in.Enable()
	if !in.Hit(PostError) || in.Hit(PostThrottle) {
		t.Fatal("post.error at 100% must hit and nothing else")
	}
	in = New(mustSpec(t, "post.error=10%"))
	in.Enable()
	hits := 0
	for range 20000 {
		if in.Hit(PostError) {
			hits++
		}
	}
	if hits < 1600 || hits > 2400 || in.Counts()[PostError] != int64(hits) {
		t.Fatalf("%d hits of 20000 at 10%% (counted %d)", hits, in.Counts()[PostError])
	}
	rec := httptest.NewRecorder()
	in.ServeHTTP(rec, httptest.NewRequest("GET", "/local/faults", nil))
	var counts map[string]int64
	if err := json.Unmarshal(rec.Body.Bytes(), &counts); err != nil || counts["post.error"] != int64(hits) || len(counts) != len(Kinds) {
		t.Fatalf("GET /local/faults = %s (%v)", rec.Body, err)
	}
}

func TestManagement(t *testing.T) {
	var delivered atomic.Int64
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { delivered.Add(1); w.WriteHeader(200) })
	post := func(h http.Handler) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/local/@connections/abc", strings.NewReader("hi")))
		return rec
	}
	for _, tt := range []struct {
		spec      string
		status    int
		delivered int64
	}{
		{"post.throttle=100%", 429, 0},
		{"post.error=100%", 500, 0},
		{"post.timeout=100%:1ms", 504, 1},
		{"none", 200, 1},
	} {
		t.Run(tt.spec, func(t *testing.T) {
			delivered.Store(0)
			if rec := post(Management(always(t, tt.spec), inner)); rec.Code != tt.status || delivered.Load() != tt.delivered {
				t.Fatalf("status %d (want %d), delivered %d (want %d)", rec.Code, tt.status, delivered.Load(), tt.delivered)
			}
		})
	}
	// Other requests pass.
	rec := httptest.NewRecorder()
	Management(always(t, "post.error=100%"), inner).ServeHTTP(rec, httptest.NewRequest("DELETE", "/local/@connections/abc", nil))
	if rec.Code != 200 {
		t.Fatalf("DELETE got %d", rec.Code)
	}
}

func TestDynamoDB(t *testing.T) {
	var done atomic.Int64
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { done.Add(1); _, _ = io.WriteString(w, "{}") })
	call := func(h http.Handler, op string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/", strings.NewReader("{}"))
		req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+op)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for _, tt := range []struct {
		spec, op, errType string
		status            int
		done              int64
	}{
		{"ddb.throttle=100%", "PutItem", "ThrottlingException", 400, 0},
		{"ddb.capacity=100%", "Query", "ProvisionedThroughputExceededException", 400, 0},
		{"ddb.error=100%", "GetItem", "InternalServerError", 500, 0},
		{"ddb.ambiguous=100%", "PutItem", "InternalServerError", 500, 1},
		{"ddb.error@PutItem=100%", "GetItem", "", 200, 1},
		{"ddb.error@PutItem=100%", "PutItem", "InternalServerError", 500, 0},
	} {
		t.Run(tt.spec+" "+tt.op, func(t *testing.T) {
			done.Store(0)
			rec := call(DynamoDB(always(t, tt.spec), inner), tt.op)
			if rec.Code != tt.status || done.Load() != tt.done || !strings.Contains(rec.Body.String(), tt.errType) {
				t.Fatalf("%d %s (done %d); want %d %s (done %d)", rec.Code, rec.Body, done.Load(), tt.status, tt.errType, tt.done)
			}
		})
	}
	start := time.Now()
	if rec := call(DynamoDB(always(t, "ddb.latency=100%:30ms"), inner), "Query"); rec.Code != 200 || time.Since(start) < 30*time.Millisecond {
		t.Fatalf("latency: %d after %v", rec.Code, time.Since(start))
	}
}

func TestRoute(t *testing.T) {
	var ran atomic.Int64
	next := func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		ran.Add(1)
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: "ack"}, nil
	}
	req := func(route string) events.APIGatewayWebsocketProxyRequest {
		var r events.APIGatewayWebsocketProxyRequest
		r.RequestContext.RouteKey = route
		return r
	}
	for _, tt := range []struct {
		spec, route string
		fails       bool
		ran         int64
	}{
		{"fn.crash-before=100%", "send", true, 0},
		{"fn.crash-after=100%", "send", true, 1},
		{"fn.crash-before=100%", "$connect", false, 1},
		{"none", "send", false, 1},
	} {
		t.Run(tt.spec+" "+tt.route, func(t *testing.T) {
			ran.Store(0)
			resp, err := Route(always(t, tt.spec), next)(context.Background(), req(tt.route))
			if (err != nil) != tt.fails || ran.Load() != tt.ran || (!tt.fails && resp.Body != "ack") {
				t.Fatalf("err %v, ran %d, body %q", err, ran.Load(), resp.Body)
			}
		})
	}
}

func TestStream(t *testing.T) {
	var handled atomic.Int64
	next := func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		handled.Add(int64(len(ev.Records)))
		return events.DynamoDBEventResponse{}, nil
	}
	ev := events.DynamoDBEvent{Records: make([]events.DynamoDBEventRecord, 10)}
	t.Run("crash", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Fatal("fn.fanout-crash must panic")
			}
			if handled.Load() > 10 {
				t.Fatalf("handled %d of 10", handled.Load())
			}
		}()
		_, _ = Stream(always(t, "fn.fanout-crash=100%"), next)(context.Background(), ev)
	})
	t.Run("timeout", func(t *testing.T) {
		handled.Store(0)
		if _, err := Stream(always(t, "fn.fanout-timeout=100%"), next)(context.Background(), ev); err == nil || handled.Load() > 10 {
			t.Fatalf("err %v, handled %d", err, handled.Load())
		}
	})
	t.Run("none", func(t *testing.T) {
		handled.Store(0)
		if _, err := Stream(always(t, "none"), next)(context.Background(), ev); err != nil || handled.Load() != 10 {
			t.Fatalf("err %v, handled %d", err, handled.Load())
		}
	})
}

func TestListenerDrop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := Listener(always(t, "gw.drop=100%"), ln, "/ws")
	defer fl.Close()
	served := make(chan error, 2)
	go func() {
		for range 2 {
			c, err := fl.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 64)
				if _, err := c.Read(buf); err != nil { // the request line
					served <- err
					return
				}
				_, err := c.Read(buf) // a frame
				served <- err
			}()
		}
	}()
	for _, path := range []string{"/ws", "/other"} {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(c, "GET "+path+" HTTP/1.1\r\n")
		time.Sleep(50 * time.Millisecond)
		_, _ = io.WriteString(c, "frame")
		err = <-served
		if path == "/ws" && err == nil {
			t.Fatal("a WebSocket connection was not dropped")
		}
		if path == "/other" && err != nil {
			t.Fatalf("a non-WebSocket connection was dropped: %v", err)
		}
		_ = c.Close()
	}
}
