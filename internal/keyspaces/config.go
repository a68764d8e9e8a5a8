// Package keyspaces implements chat.MessageStore on Apache Cassandra and Amazon Keyspaces
// (github.com/apache/cassandra-gocql-driver/v2).
//
// Messages use the classic Cassandra chat model: one partition per conversation, clustered by
// the ULID message id, newest first, so the newest page is one partition read; the change
// events of protocol 1.1 (edits, deletes, reactions) are rows of the same partition under
// their own ids. Send's idempotency reservation, the message itself, the changes folded
// into it and the members' delivered/read cursors are written by lightweight transactions
// (Paxos), the only conditional writes Keyspaces offers. Schema (schema.go) is created, and
// a table of an older schema upgraded, by `parley migrate keyspaces`.
//
// On AWS (Config.Region set) the session uses TLS to port 9142 and SigV4 authentication
// with the credentials of the AWS SDK's default chain; against a local Apache Cassandra it
// uses a plain connection (optionally with a username and password).
package keyspaces

import (
	"github.com/parleychat/parley/internal/schema"

	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/aws/aws-sdk-go-v2/aws"
)

// Ports of the CQL native protocol.
const (
	// DefaultPort is Apache Cassandra's plain CQL port.
	DefaultPort = 9042
	// KeyspacesPort is Amazon Keyspaces' CQL port (TLS only).
	KeyspacesPort = 9142
)

// Config says how to reach the cluster and which keyspace holds the tables. The zero value of
// every optional field means the default documented on it.
type Config struct {
	// Hosts are the contact points (host names or IPs, without port). Required. On AWS:
	// cassandra.<region>.amazonaws.com.
	Hosts []string
	// Port is the CQL port. Default: 9142 when Region is set, 9042 otherwise.
	Port int
	// Keyspace holds the tables. Required; letters, digits and _ (at most 48), starting
	// with a letter.
	Keyspace string

	// Region switches to Amazon Keyspaces: TLS (certificate verified against the system's
	// roots, which include the Amazon root CAs, or CAFile) and SigV4 authentication signed
	// for this region. Empty: a plain connection to Apache Cassandra.
	Region string
	// Credentials sign SigV4 requests when Region is set. Default: the AWS SDK's default
	// credential chain (environment, shared config, the Lambda role), loaded by the caller
	// through NewAWSCredentials.
	Credentials aws.CredentialsProvider
	// CAFile is a PEM bundle to verify the server with instead of the system's roots
	// (for example Amazon's sf-class2-root.crt). Optional.
	CAFile string
	// TLS forces TLS without SigV4 (a Cassandra with client encryption). Implied by Region.
	TLS bool
	// Username and Password authenticate to a Cassandra with PasswordAuthenticator (or a
	// Keyspaces service-specific credential). Ignored when Region is set (SigV4 is used).
	Username, Password string

	// WriteConsistency applies to every write and to the commit of LWTs. Default
	// LOCAL_QUORUM, the only level Amazon Keyspaces accepts for writes.
	WriteConsistency gocql.Consistency
	// ReadConsistency applies to reads. Default LOCAL_QUORUM, so that a read after an
	// acknowledged write sees it (LOCAL_ONE is cheaper on Keyspaces but eventually consistent).
	ReadConsistency gocql.Consistency
	// SerialConsistency is the Paxos level of LWTs. Default LOCAL_SERIAL.
	SerialConsistency gocql.Consistency

	// Timeout bounds one request. Default 5s.
	Timeout time.Duration
	// ConnectTimeout bounds connecting to a host. Default 5s.
	ConnectTimeout time.Duration
	// NumConns is the number of connections per host. Default 2.
	NumConns int
	// LWTAttempts bounds the attempts of a lightweight transaction whose outcome a timeout
	// left unknown (each is safe to repeat). Default 4.
	LWTAttempts int
	// Logger receives the driver's warnings and errors. Default slog.Default().
	Logger *slog.Logger
}

// withDefaults validates c and fills in the defaults.
func (c Config) withDefaults() (Config, error) {
	if len(c.Hosts) == 0 {
		return c, errors.New("keyspaces config: no hosts")
	}
	for _, h := range c.Hosts {
		if h == "" {
			return c, errors.New("keyspaces config: empty host")
		}
	}
	if err := schema.CheckKeyspace(c.Keyspace); err != nil {
		return c, fmt.Errorf("keyspaces config: %w", err)
	}
	if c.Region != "" && c.Credentials == nil {
		return c, errors.New("keyspaces config: Region is set but Credentials is nil (use NewAWSCredentials)")
	}
	if c.Port == 0 {
		c.Port = DefaultPort
		if c.Region != "" {
			c.Port = KeyspacesPort
		}
	}
	if c.Port < 1 || c.Port > 65535 {
		return c, fmt.Errorf("keyspaces config: bad port %d", c.Port)
	}
	if c.WriteConsistency == 0 {
		c.WriteConsistency = gocql.LocalQuorum
	}
	if c.ReadConsistency == 0 {
		c.ReadConsistency = gocql.LocalQuorum
	}
	if c.SerialConsistency == 0 {
		c.SerialConsistency = gocql.LocalSerial
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 5 * time.Second
	}
	if c.NumConns == 0 {
		c.NumConns = 2
	}
	if c.LWTAttempts == 0 {
		c.LWTAttempts = 4
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// Connect opens a session. With keyspace false it does not bind the session to c.Keyspace
// (for creating it); every statement of this package names the keyspace anyway.
func Connect(c Config, keyspace bool) (*gocql.Session, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	cluster := gocql.NewCluster(c.Hosts...)
	cluster.Port = c.Port
	if keyspace {
		cluster.Keyspace = c.Keyspace
	}
	cluster.Consistency = c.ReadConsistency
	cluster.SerialConsistency = c.SerialConsistency
	cluster.Timeout = c.Timeout
	cluster.ConnectTimeout = c.ConnectTimeout
	cluster.NumConns = c.NumConns
	cluster.Logger = slogLogger{c.Logger}
	if c.Region != "" || c.TLS {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.Region != "" {
			// Keyspaces' peers are listed by IP; every one presents the endpoint's certificate.
			tc.ServerName = c.Hosts[0]
		}
		if c.CAFile != "" {
			pem, err := os.ReadFile(c.CAFile)
			if err != nil {
				return nil, fmt.Errorf("read CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("CA file %s: no PEM certificates", c.CAFile)
			}
			tc.RootCAs = pool
		}
		cluster.SslOpts = &gocql.SslOptions{Config: tc, EnableHostVerification: true}
	}
	switch {
	case c.Region != "":
		cluster.Authenticator = SigV4Authenticator{Region: c.Region, Credentials: c.Credentials}
	case c.Username != "":
		cluster.Authenticator = gocql.PasswordAuthenticator{Username: c.Username, Password: c.Password}
	}
	session, err := cluster.CreateSession()
	if err != nil {
		return nil, fmt.Errorf("connect to cassandra %v port %d: %w", c.Hosts, c.Port, err)
	}
	return session, nil
}

// slogLogger adapts slog to the driver's StructuredLogger. The driver's debug and info
// messages (hosts coming and going) are logged at debug level.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) attrs(fields []gocql.LogField) []any {
	out := make([]any, 0, len(fields))
	for _, f := range fields {
		out = append(out, slog.Any(f.Name, f.Value.Any()))
	}
	return out
}

func (s slogLogger) Error(msg string, fields ...gocql.LogField) {
	s.l.Error("gocql: "+msg, s.attrs(fields)...)
}

func (s slogLogger) Warning(msg string, fields ...gocql.LogField) {
	s.l.Warn("gocql: "+msg, s.attrs(fields)...)
}

func (s slogLogger) Info(msg string, fields ...gocql.LogField) {
	s.l.Debug("gocql: "+msg, s.attrs(fields)...)
}

func (s slogLogger) Debug(msg string, fields ...gocql.LogField) {
	s.l.Debug("gocql: "+msg, s.attrs(fields)...)
}
