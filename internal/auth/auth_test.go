package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func hs(t *testing.T, claims jwt.MapClaims, key []byte, method jwt.SigningMethod) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHS256(t *testing.T) {
	v, err := NewHS256(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	good, err := Sign(secret, "alice", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		token   string
		want    string
		wantErr error
	}{
		{"signed by Sign", good, "alice", nil},
		{"missing", "", "", ErrMissing},
		{"garbage", "not.a.jwt", "", ErrInvalid},
		{"expired", hs(t, jwt.MapClaims{"sub": "bob", "exp": now.Add(-time.Hour).Unix()}, secret, jwt.SigningMethodHS256), "", ErrInvalid},
		{"no exp", hs(t, jwt.MapClaims{"sub": "bob"}, secret, jwt.SigningMethodHS256), "", ErrInvalid},
		{"not yet valid", hs(t, jwt.MapClaims{"sub": "bob", "exp": now.Add(2 * time.Hour).Unix(), "nbf": now.Add(time.Hour).Unix()}, secret, jwt.SigningMethodHS256), "", ErrInvalid},
		{"issued in the future", hs(t, jwt.MapClaims{"sub": "bob", "exp": now.Add(2 * time.Hour).Unix(), "iat": now.Add(time.Hour).Unix()}, secret, jwt.SigningMethodHS256), "", ErrInvalid},
		{"wrong secret", hs(t, jwt.MapClaims{"sub": "bob", "exp": now.Add(time.Hour).Unix()}, []byte("another-secret-of-32-bytes......"), jwt.SigningMethodHS256), "", ErrInvalid},
		{"other HMAC", hs(t, jwt.MapClaims{"sub": "bob", "exp": now.Add(time.Hour).Unix()}, secret, jwt.SigningMethodHS512), "", ErrInvalid},
		{"bad user id", hs(t, jwt.MapClaims{"sub": "bob smith", "exp": now.Add(time.Hour).Unix()}, secret, jwt.SigningMethodHS256), "", ErrInvalid},
		{"user id too long", hs(t, jwt.MapClaims{"sub": string(make([]byte, 65)), "exp": now.Add(time.Hour).Unix()}, secret, jwt.SigningMethodHS256), "", ErrInvalid},
		{"nbf and iat honoured", hs(t, jwt.MapClaims{"sub": "a.b@c-d_e", "exp": now.Add(time.Hour).Unix(), "nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix()}, secret, jwt.SigningMethodHS256), "a.b@c-d_e", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(context.Background(), tt.token)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Verify: err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("Verify = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSignRejects(t *testing.T) {
	if _, err := Sign(secret, "bad user", time.Hour); err == nil {
		t.Error("Sign accepted an invalid user id")
	}
	if _, err := Sign(secret, "alice", 0); err == nil {
		t.Error("Sign accepted a zero ttl")
	}
	if _, err := NewHS256(nil); err == nil {
		t.Error("NewHS256 accepted an empty secret")
	}
	// A short secret works (locally people use PARLEY_JWT_SECRET=secret).
	short := []byte("secret")
	v, err := NewHS256(short)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := Sign(short, "alice", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := v.Verify(context.Background(), tok); err != nil || u != "alice" {
		t.Fatalf("short secret: %q, %v", u, err)
	}
}

// issuer serves an OIDC discovery document and a JWKS with one ES256 key.
func issuer(t *testing.T) (*httptest.Server, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b64 := func(n *big.Int) string { return base64.RawURLEncoding.EncodeToString(n.FillBytes(make([]byte, 32))) }
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": srv.URL + "/jwks.json"})
	})
	mux.HandleFunc("/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
			"x": b64(key.X), "y": b64(key.Y),
		}}})
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, key
}

func TestOIDC(t *testing.T) {
	srv, key := issuer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := NewOIDC(ctx, srv.URL, "parley-client", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	sign := func(claims jwt.MapClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	exp := time.Now().Add(time.Hour).Unix()
	tests := []struct {
		name   string
		claims jwt.MapClaims
		want   string
	}{
		{"id token", jwt.MapClaims{"iss": srv.URL, "sub": "carol", "aud": "parley-client", "exp": exp}, "carol"},
		{"cognito access token", jwt.MapClaims{"iss": srv.URL, "sub": "dave", "client_id": "parley-client", "exp": exp}, "dave"},
		{"wrong issuer", jwt.MapClaims{"iss": "https://evil.example", "sub": "carol", "aud": "parley-client", "exp": exp}, ""},
		{"wrong audience", jwt.MapClaims{"iss": srv.URL, "sub": "carol", "aud": "other", "exp": exp}, ""},
		{"expired", jwt.MapClaims{"iss": srv.URL, "sub": "carol", "aud": "parley-client", "exp": time.Now().Add(-time.Hour).Unix()}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(ctx, sign(tt.claims))
			if tt.want == "" {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("Verify = %q, %v; want ErrInvalid", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Verify = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	// An HS256 token signed with anything must not pass an OIDC verifier.
	if _, err := v.Verify(ctx, hs(t, jwt.MapClaims{"iss": srv.URL, "sub": "x", "aud": "parley-client", "exp": exp}, secret, jwt.SigningMethodHS256)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("HS256 token accepted by OIDC verifier: %v", err)
	}
}
