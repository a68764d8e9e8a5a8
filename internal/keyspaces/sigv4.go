package keyspaces

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

// SigV4Authenticator authenticates to Amazon Keyspaces with AWS Signature Version 4, the
// protocol of github.com/aws/aws-sigv4-auth-cassandra-gocql-driver-plugin. That plugin
// implements the interface of the old github.com/gocql/gocql import path (and pulls in the
// AWS SDK v1), so its authenticator does not satisfy the v2 driver's gocql.Authenticator;
// this is the same exchange written against the v2 driver and aws-sdk-go-v2 credentials:
//
//	client: "SigV4\0\0"
//	server: "nonce=<nonce>"
//	client: "signature=<hex>,access_key=<id>,amzdate=<time>[,session_token=<token>]"
//
// where the signature is SigV4 over a canonical "PUT /authenticate" request whose payload
// hash is the SHA-256 of the nonce, for service "cassandra" in Region.
type SigV4Authenticator struct {
	// Region is the AWS region of the Keyspaces endpoint, such as "eu-west-1".
	Region string
	// Credentials are retrieved for each new connection (an aws.CredentialsCache keeps
	// that cheap and refreshes expiring role credentials).
	Credentials aws.CredentialsProvider

	now func() time.Time // for tests; time.Now when nil
}

var _ gocql.Authenticator = SigV4Authenticator{}

// NewAWSCredentials loads the AWS SDK's default credential chain (environment, shared
// config and credentials files, the Lambda or container role), cached.
func NewAWSCredentials(ctx context.Context) (aws.CredentialsProvider, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	if cfg.Credentials == nil {
		return nil, errors.New("load AWS config: no credentials provider")
	}
	return cfg.Credentials, nil
}

// Challenge answers the server's authenticate request by naming the SigV4 mechanism; the
// returned authenticator answers the nonce challenge that follows.
func (a SigV4Authenticator) Challenge(_ []byte) ([]byte, gocql.Authenticator, error) {
	return []byte("SigV4\x00\x00"), sigv4Signer{a}, nil
}

// Success accepts the server's final message.
func (a SigV4Authenticator) Success(_ []byte) error { return nil }

type sigv4Signer struct{ a SigV4Authenticator }

func (s sigv4Signer) Challenge(req []byte) ([]byte, gocql.Authenticator, error) {
	nonce, ok := strings.CutPrefix(string(req), "nonce=")
	if !ok {
		return nil, nil, fmt.Errorf("sigv4: server challenge has no nonce (%d bytes)", len(req))
	}
	if s.a.Credentials == nil {
		return nil, nil, errors.New("sigv4: no AWS credentials provider")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	creds, err := s.a.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("sigv4: retrieve AWS credentials: %w", err)
	}
	now := time.Now
	if s.a.now != nil {
		now = s.a.now
	}
	return []byte(signNonce(s.a.Region, nonce, creds, now().UTC())), nil, nil
}

func (s sigv4Signer) Success(_ []byte) error { return nil }

// signNonce builds the response to a nonce challenge.
func signNonce(region, nonce string, creds aws.Credentials, t time.Time) string {
	const amzDateLayout = "2006-01-02T15:04:05.000Z"
	day := t.Format("20060102")
	amzDate := t.Format(amzDateLayout)
	scope := day + "/" + region + "/cassandra/aws4_request"

	// The query parameters, already in sorted order.
	query := "X-Amz-Algorithm=AWS4-HMAC-SHA256" +
		"&X-Amz-Credential=" + creds.AccessKeyID + "%2F" + url.QueryEscape(scope) +
		"&X-Amz-Date=" + url.QueryEscape(amzDate) +
		"&X-Amz-Expires=900"
	nonceHash := sha256.Sum256([]byte(nonce))
	canonical := "PUT\n/authenticate\n" + query + "\nhost:cassandra\n\nhost\n" + hex.EncodeToString(nonceHash[:])

	canonicalHash := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(canonicalHash[:])

	key := hmacSHA256([]byte("AWS4"+creds.SecretAccessKey), day)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, "cassandra")
	key = hmacSHA256(key, "aws4_request")
	signature := hex.EncodeToString(hmacSHA256(key, toSign))

	out := "signature=" + signature + ",access_key=" + creds.AccessKeyID + ",amzdate=" + amzDate
	if creds.SessionToken != "" {
		out += ",session_token=" + creds.SessionToken
	}
	return out
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}
