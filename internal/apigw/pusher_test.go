package apigw

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/parleychat/parley/internal/chat"
)

// server answers PostToConnection with the status and error type given, the way API
// Gateway's Management API does, and counts the requests.
func server(t *testing.T, status int, errType string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.Method != http.MethodPost || r.URL.Path != "/prod/@connections/abc123=" {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
			return
		}
		if errType != "" {
			w.Header().Set("x-amzn-ErrorType", errType)
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		if errType != "" {
			fmt.Fprintf(w, `{"message":%q}`, errType)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestPushErrorMapping(t *testing.T) {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")}
	tests := []struct {
		name      string
		status    int
		errType   string
		want      error // nil: success; chat.ErrGone / chat.ErrRejected; errTransient otherwise
		transient bool
	}{
		{"ok", 200, "", nil, false},
		{"gone", 410, "GoneException", chat.ErrGone, false},
		{"forbidden", 403, "ForbiddenException", chat.ErrRejected, false},
		{"payload too large", 413, "PayloadTooLargeException", chat.ErrRejected, false},
		{"bad request", 400, "BadRequestException", chat.ErrRejected, false},
		{"throttled", 429, "LimitExceededException", nil, true},
		{"server error", 500, "InternalServerErrorException", nil, true},
		{"unavailable", 503, "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, n := server(t, tt.status, tt.errType)
			client, err := NewClient(cfg, ClientOptions{Endpoint: srv.URL + "/prod"})
			if err != nil {
				t.Fatal(err)
			}
			err = New(client).Push(context.Background(), "abc123=", []byte(`{"type":"heartbeat"}`))
			switch {
			case tt.transient:
				if err == nil || errors.Is(err, chat.ErrGone) || errors.Is(err, chat.ErrRejected) {
					t.Fatalf("err = %v, want a transient error", err)
				}
			case tt.want == nil:
				if err != nil {
					t.Fatalf("err = %v", err)
				}
			default:
				if !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
			}
			// The SDK's own retries are off: the chat service decides what to retry.
			if got := n.Load(); got != 1 {
				t.Fatalf("%d requests, want 1", got)
			}
		})
	}
}

func TestNewClientNeedsEndpoint(t *testing.T) {
	if _, err := NewClient(aws.Config{}, ClientOptions{}); err == nil {
		t.Fatal("NewClient without endpoint succeeded")
	}
}
