package awslambda

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"

	"github.com/parleychat/parley/internal/auth"
)

func TestAuthorizerFixture(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	v, err := auth.NewHS256(secret)
	if err != nil {
		t.Fatal(err)
	}
	a := NewAuthorizer(v, nil)
	good, _ := auth.Sign(secret, "alice", time.Hour)
	forged, _ := auth.Sign([]byte("another-secret-another-secret!!!"), "alice", time.Hour)

	tests := []struct {
		name    string
		query   map[string]string
		headers map[string]string
		want    string // "401", "Deny" or the principal allowed
	}{
		{"no token", nil, nil, "401"},
		{"query token", map[string]string{"token": good}, nil, "alice"},
		{"bearer header", nil, map[string]string{"Authorization": "Bearer " + good}, "alice"},
		{"lower-case header", nil, map[string]string{"authorization": "bearer " + good}, "alice"},
		{"basic header is no token", nil, map[string]string{"Authorization": "Basic abc"}, "401"},
		{"forged", map[string]string{"token": forged}, nil, "Deny"},
		{"garbage", map[string]string{"token": "abc"}, nil, "Deny"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := fixture[events.APIGatewayCustomAuthorizerRequestTypeRequest](t, "authorizer.json")
			req.QueryStringParameters = tt.query
			for k, v := range tt.headers {
				req.Headers[k] = v
			}
			resp, err := a.Handle(context.Background(), req)
			switch tt.want {
			case "401":
				if !errors.Is(err, ErrUnauthorized) || err.Error() != "Unauthorized" {
					t.Fatalf("err = %v, want Unauthorized", err)
				}
			case "Deny":
				if err != nil || resp.PolicyDocument.Statement[0].Effect != "Deny" {
					t.Fatalf("%+v %v, want Deny", resp, err)
				}
			default:
				st := resp.PolicyDocument.Statement[0]
				if err != nil || st.Effect != "Allow" || resp.PrincipalID != tt.want || resp.Context["userId"] != tt.want || st.Resource[0] != req.MethodArn {
					t.Fatalf("%+v %v, want Allow for %s", resp, err, tt.want)
				}
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		// Expired by more than the 30 s leeway.
		req := fixture[events.APIGatewayCustomAuthorizerRequestTypeRequest](t, "authorizer.json")
		req.QueryStringParameters = map[string]string{"token": signAt(t, secret, time.Now().Add(-time.Hour))}
		resp, err := a.Handle(context.Background(), req)
		if err != nil || resp.PolicyDocument.Statement[0].Effect != "Deny" {
			t.Fatalf("%+v %v, want Deny", resp, err)
		}
	})
}

// signAt returns a token for alice that expired at exp.
func signAt(t *testing.T, secret []byte, exp time.Time) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "exp": exp.Unix()}).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
