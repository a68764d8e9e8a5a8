package local

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/parleychat/parley/internal/app"
	"github.com/parleychat/parley/internal/awslambda"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/dynalite"
	"github.com/parleychat/parley/internal/localgw"
	"github.com/parleychat/parley/internal/schema"
)

// WireConfig is what a WireFunc gets.
type WireConfig struct {
	// DynamoDBEndpoint is the proxy's URL.
	DynamoDBEndpoint string
	// ManagementEndpoint is the gateway's Management API URL.
	ManagementEndpoint string
	// Tables maps schema table IDs ("Messages") to physical names ("parley-Messages").
	Tables map[string]string
	// JWTSecret is the HS256 secret.
	JWTSecret []byte
	// Logger is the runtime's logger.
	Logger *slog.Logger
	// Service is Config.Service: overrides of the chat service's options.
	Service chat.Options
	// MessageStore is config.StoreDynamoDB or config.StoreKeyspaces.
	MessageStore string
	// CassandraHosts (without ports), CassandraPort and Keyspace locate the message tables
	// when MessageStore is config.StoreKeyspaces.
	CassandraHosts []string
	CassandraPort  int
	Keyspace       string
}

// Env is the functions' environment for the local parts: the variables the CDK stack
// sets (internal/config reads them), pointed at the proxy, the gateway and the local
// Cassandra.
func (wc WireConfig) Env() map[string]string {
	env := map[string]string{
		"TABLE_CONVERSATIONS": wc.Tables[schema.ConversationsID],
		"TABLE_CONNECTIONS":   wc.Tables[schema.ConnectionsID],
		"MESSAGE_STORE":       wc.MessageStore,
		"MANAGEMENT_ENDPOINT": wc.ManagementEndpoint,
		"DYNAMODB_ENDPOINT":   wc.DynamoDBEndpoint,
		"AUTH_MODE":           config.AuthHS256,
		"JWT_SECRET":          string(wc.JWTSecret),
	}
	if wc.MessageStore == config.StoreKeyspaces {
		env["TABLE_OUTBOX"] = wc.Tables[schema.OutboxID]
		env["KEYSPACES_HOSTS"] = strings.Join(wc.CassandraHosts, ",")
		env["KEYSPACES_PORT"] = strconv.Itoa(wc.CassandraPort)
		env["KEYSPACES_KEYSPACE"] = wc.Keyspace
		env["KEYSPACES_SIGV4"] = "false" // a plain connection to a local Apache Cassandra
		env["KEYSPACES_TLS"] = "false"
	} else {
		env["TABLE_MESSAGES"] = wc.Tables[schema.MessagesID]
	}
	return env
}

// Handlers are the functions the runtime invokes in process.
type Handlers struct {
	Authorize localgw.AuthorizeFunc
	Route     localgw.RouteFunc
	Stream    func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)
	// Close releases what the handlers hold; may be nil.
	Close func()
}

// WireFunc builds the handlers for a running DynamoDB and gateway.
type WireFunc func(ctx context.Context, wc WireConfig) (Handlers, error)

// WireApp builds the handlers with internal/app from the environment the deployed
// functions get (WireConfig.Env, read by internal/config as a function reads it), so the
// local runtime runs the functions' code with the functions' configuration and defaults.
func WireApp(ctx context.Context, wc WireConfig) (Handlers, error) {
	env := wc.Env()
	cfg, err := config.Load(func(k string) string { return env[k] }, config.NeedTables|config.NeedManagement|config.NeedAuth)
	if err != nil {
		return Handlers{}, fmt.Errorf("wire app: %w", err)
	}
	awsCfg := aws.Config{
		Region:      dynalite.Region,
		Credentials: credentials.NewStaticCredentialsProvider(dynalite.AccessKeyID, dynalite.SecretAccessKey, ""),
	}
	a, err := app.New(ctx, cfg, app.Options{AWS: &awsCfg, Logger: wc.Logger, Service: wc.Service})
	if err != nil {
		return Handlers{}, fmt.Errorf("wire app: %w", err)
	}
	v, err := app.Verifier(ctx, cfg, &awsCfg)
	if err != nil {
		a.Close()
		return Handlers{}, fmt.Errorf("wire verifier: %w", err)
	}
	return Handlers{
		Authorize: awslambda.NewAuthorizer(v, wc.Logger).Handle,
		Route:     a.Handler.Handle,
		Stream:    a.Stream.Handle,
		Close:     a.Close,
	}, nil
}
