package keyspaces

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The expected values are the test vectors published with
// aws-sigv4-auth-cassandra-gocql-driver-plugin (sigv4/internal/crypt_test.go), so this
// implementation signs exactly as the official plugin does.
var (
	vectorTime  = time.Date(2020, 6, 9, 22, 41, 51, 0, time.UTC)
	vectorCreds = aws.Credentials{AccessKeyID: "UserID-1", SecretAccessKey: "UserSecretKey-1"}
)

const vectorNonce = "91703fdc2ef562e19fbdab0f58e42fe5"

func TestSignNonceMatchesPluginVectors(t *testing.T) {
	got := signNonce("us-west-2", vectorNonce, vectorCreds, vectorTime)
	want := "signature=7f3691c18a81b8ce7457699effbfae5b09b4e0714ab38c1292dbdf082c9ddd87,access_key=UserID-1,amzdate=2020-06-09T22:41:51.000Z"
	if got != want {
		t.Fatalf("signNonce =\n %s\nwant\n %s", got, want)
	}
	withToken := vectorCreds
	withToken.SessionToken = "sess-token-1"
	got = signNonce("us-west-2", vectorNonce, withToken, vectorTime)
	if want := want + ",session_token=sess-token-1"; got != want {
		t.Fatalf("signNonce with session token =\n %s\nwant\n %s", got, want)
	}
}

func TestSigV4Exchange(t *testing.T) {
	a := SigV4Authenticator{
		Region: "us-west-2",
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return vectorCreds, nil
		}),
		now: func() time.Time { return vectorTime },
	}
	first, next, err := a.Challenge([]byte("com.amazonaws.cassandra.DefaultAuthenticator"))
	if err != nil || string(first) != "SigV4\x00\x00" || next == nil {
		t.Fatalf("first Challenge = %q, %v, %v; want the SigV4 mechanism and a signer", first, next, err)
	}
	resp, after, err := next.Challenge([]byte("nonce=" + vectorNonce))
	if err != nil {
		t.Fatalf("nonce Challenge: %v", err)
	}
	if after != nil {
		t.Fatalf("nonce Challenge returned a further authenticator %v", after)
	}
	if !strings.HasPrefix(string(resp), "signature=7f3691c18a81b8ce") {
		t.Fatalf("nonce Challenge response = %q", resp)
	}
	if _, _, err := next.Challenge([]byte("no nonce here")); err == nil {
		t.Fatal("Challenge without a nonce succeeded")
	}
}
