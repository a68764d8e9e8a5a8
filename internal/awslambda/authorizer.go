package awslambda

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/parleychat/parley/internal/auth"
)

// ErrUnauthorized is the error an authorizer returns to make API Gateway answer the
// handshake with HTTP 401; its text must be exactly "Unauthorized".
var ErrUnauthorized = errors.New("Unauthorized")

// Authorizer is the REQUEST authorizer of $connect. It reads the token from the query
// parameter `token` or from `Authorization: Bearer <jwt>`.
type Authorizer struct {
	verifier auth.Verifier
	log      *slog.Logger
}

// NewAuthorizer returns an Authorizer using v; a nil logger means slog.Default().
func NewAuthorizer(v auth.Verifier, log *slog.Logger) *Authorizer {
	if log == nil {
		log = slog.Default()
	}
	return &Authorizer{verifier: v, log: log}
}

// Token returns the token of a request: the `token` query parameter, else the bearer
// token of the Authorization header (any capitalisation).
func Token(query, headers map[string]string) string {
	if t := query["token"]; t != "" {
		return t
	}
	for k, v := range headers {
		if strings.EqualFold(k, "Authorization") {
			scheme, tok, ok := strings.Cut(strings.TrimSpace(v), " ")
			if ok && strings.EqualFold(scheme, "Bearer") {
				return strings.TrimSpace(tok)
			}
		}
	}
	return ""
}

// Handle answers API Gateway: ErrUnauthorized (HTTP 401) without a token, a Deny policy
// (HTTP 403) for a bad one, an Allow policy with the user id as principal otherwise.
func (a *Authorizer) Handle(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	token := Token(req.QueryStringParameters, req.Headers)
	user, err := a.verifier.Verify(ctx, token)
	if errors.Is(err, auth.ErrMissing) {
		return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
	}
	if err != nil {
		a.log.InfoContext(ctx, "token refused", "requestId", req.RequestContext.RequestID, "err", err)
		return policy("anonymous", "Deny", req.MethodArn, nil), nil
	}
	return policy(user, "Allow", req.MethodArn, map[string]any{"userId": user}), nil
}

func policy(principal, effect, resource string, context map[string]any) events.APIGatewayCustomAuthorizerResponse {
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: principal,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action:   []string{"execute-api:Invoke"},
				Effect:   effect,
				Resource: []string{resource},
			}},
		},
		Context: context,
	}
}
