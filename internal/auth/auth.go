// Package auth verifies and (for local use) signs Parley's JWTs.
//
// A token's `sub` is the user id; `exp` is required; `nbf` and `iat` are honoured when
// present. Two verifiers exist: HS256 with a shared secret (local runtime, or a secret
// from AWS Secrets Manager when deployed) and an OIDC issuer's RS256/ES256 keys fetched
// from its JWKS (for example a Cognito user pool).
package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parleychat/parley/internal/chat"
)

// Errors returned by Verify. ErrMissing maps to HTTP 401 on the handshake, the others to 403.
var (
	ErrMissing = errors.New("auth: missing token")
	ErrInvalid = errors.New("auth: invalid token")
)

// Verifier checks a token and returns its user id.
type Verifier interface {
	// Verify returns the token's user id, ErrMissing for an empty token, or an error
	// wrapping ErrInvalid for anything else wrong with it.
	Verify(ctx context.Context, token string) (userID string, err error)
}

// leeway tolerates small clock differences on exp, nbf and iat.
const leeway = 30 * time.Second

// HS256 verifies tokens signed with a shared secret.
type HS256 struct {
	secret []byte
}

// RecommendedSecretBytes is the HS256 key length RFC 7518 §3.2 asks for (the hash's
// output size). Shorter secrets work but are weaker; callers warn about them.
const RecommendedSecretBytes = 32

// NewHS256 returns a verifier for the secret, which must not be empty. A secret shorter
// than RecommendedSecretBytes is accepted (a developer's PARLEY_JWT_SECRET=secret must
// work locally); the deployed stack generates a 64-character one.
func NewHS256(secret []byte) (*HS256, error) {
	if len(secret) == 0 {
		return nil, errors.New("auth: the HS256 secret is empty")
	}
	return &HS256{secret: secret}, nil
}

var _ Verifier = (*HS256)(nil)

// Verify implements Verifier.
func (h *HS256) Verify(_ context.Context, token string) (string, error) {
	if token == "" {
		return "", ErrMissing
	}
	return parse(token, func(*jwt.Token) (any, error) { return h.secret, nil }, jwt.WithValidMethods([]string{"HS256"}))
}

// parse validates a token with the given key function and extra options and returns its
// subject, checked as a user id.
func parse(token string, keyFunc jwt.Keyfunc, opts ...jwt.ParserOption) (string, error) {
	opts = append(opts, jwt.WithExpirationRequired(), jwt.WithLeeway(leeway), jwt.WithIssuedAt())
	var claims jwt.RegisteredClaims
	if _, err := jwt.ParseWithClaims(token, &claims, keyFunc, opts...); err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if !chat.ValidUserID(claims.Subject) {
		return "", fmt.Errorf("%w: sub %q is not a valid user id", ErrInvalid, claims.Subject)
	}
	return claims.Subject, nil
}

// Sign returns an HS256 token for user that expires after ttl. It is meant for the local
// runtime, tests and load generators that hold the secret.
func Sign(secret []byte, user string, ttl time.Duration) (string, error) {
	if !chat.ValidUserID(user) {
		return "", fmt.Errorf("auth: %q is not a valid user id (%s)", user, chat.UserIDRule)
	}
	if ttl <= 0 {
		return "", fmt.Errorf("auth: ttl %v must be positive", ttl)
	}
	now := time.Now()
	claims := jwt.RegisteredClaims{
		Subject:   user,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("auth: sign token for %s: %w", user, err)
	}
	return s, nil
}
