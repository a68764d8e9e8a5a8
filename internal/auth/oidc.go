package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/parleychat/parley/internal/chat"
)

// OIDC verifies RS256/ES256 tokens of an OpenID Connect issuer against its JWKS, which is
// found through the issuer's discovery document and refreshed in the background.
type OIDC struct {
	issuer   string
	audience string
	keys     keyfunc.Keyfunc
}

var _ Verifier = (*OIDC)(nil)

// NewOIDC discovers the issuer's JWKS (issuer + "/.well-known/openid-configuration") and
// returns a verifier that requires iss = issuer and, when audience is not empty, that the
// token's aud (or, for Cognito access tokens, client_id) equals audience.
func NewOIDC(ctx context.Context, issuer, audience string, client *http.Client) (*OIDC, error) {
	issuer = strings.TrimSuffix(issuer, "/")
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	jwksURL, err := discoverJWKS(ctx, client, issuer)
	if err != nil {
		return nil, err
	}
	k, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{jwksURL}, keyfunc.Override{Client: client})
	if err != nil {
		return nil, fmt.Errorf("auth: load JWKS %s: %w", jwksURL, err)
	}
	return &OIDC{issuer: issuer, audience: audience, keys: k}, nil
}

func discoverJWKS(ctx context.Context, client *http.Client, issuer string) (string, error) {
	url := issuer + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("auth: discovery request %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("auth: discovery %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("auth: discovery %s: HTTP %d", url, resp.StatusCode)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return "", fmt.Errorf("auth: decode discovery %s: %w", url, err)
	}
	if doc.JWKSURI == "" {
		return "", fmt.Errorf("auth: discovery %s has no jwks_uri", url)
	}
	if strings.TrimSuffix(doc.Issuer, "/") != issuer {
		return "", fmt.Errorf("auth: discovery %s names issuer %q, want %q", url, doc.Issuer, issuer)
	}
	return doc.JWKSURI, nil
}

// Verify implements Verifier.
func (o *OIDC) Verify(_ context.Context, token string) (string, error) {
	if token == "" {
		return "", ErrMissing
	}
	var claims struct {
		jwt.RegisteredClaims
		ClientID string `json:"client_id"`
	}
	_, err := jwt.ParseWithClaims(token, &claims, o.keys.Keyfunc,
		jwt.WithValidMethods([]string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512"}),
		jwt.WithIssuer(o.issuer), jwt.WithExpirationRequired(), jwt.WithLeeway(leeway), jwt.WithIssuedAt())
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if o.audience != "" {
		ok := claims.ClientID == o.audience
		for _, a := range claims.Audience {
			ok = ok || a == o.audience
		}
		if !ok {
			return "", fmt.Errorf("%w: audience does not match", ErrInvalid)
		}
	}
	if !chat.ValidUserID(claims.Subject) {
		return "", fmt.Errorf("%w: sub %q is not a valid user id", ErrInvalid, claims.Subject)
	}
	return claims.Subject, nil
}
