package local

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

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
	"github.com/parleychat/parley/internal/topology"
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
	// Instances and ClockSkew are Config.Instances and Config.ClockSkew.
	Instances int
	ClockSkew time.Duration
	// InlineMaxMembers is Config.InlineMaxMembers (nil: the functions' default).
	InlineMaxMembers *int
	// NotifyURL, NotifyLog and NotifyPreview are Config's: the functions' NOTIFY_URL,
	// NOTIFY_LOG and NOTIFY_PREVIEW (nil: the functions' default).
	NotifyURL     string
	NotifyLog     bool
	NotifyPreview *bool
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
	if wc.InlineMaxMembers != nil {
		env["INLINE_MAX_MEMBERS"] = strconv.Itoa(*wc.InlineMaxMembers)
	}
	if wc.NotifyURL != "" {
		env["NOTIFY_URL"] = wc.NotifyURL
	}
	if wc.NotifyLog {
		env["NOTIFY_LOG"] = "true"
	}
	if wc.NotifyPreview != nil {
		env["NOTIFY_PREVIEW"] = strconv.FormatBool(*wc.NotifyPreview)
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
//
// With Instances above 1 it builds that many independent instances, as many Lambda
// instances run at once on AWS: each has its own service (its own message id generator
// and rate limiter) and a clock off by up to ClockSkew, spread evenly from -ClockSkew to
// +ClockSkew; every invocation goes to one of them at random.
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
	n := max(wc.Instances, 1)
	var apps []*app.App
	closeAll := func() {
		for _, a := range apps {
			a.Close()
		}
	}
	for i := range n {
		so := wc.Service
		if skew := instanceSkew(i, n, wc.ClockSkew); skew != 0 {
			clock := so.Now
			if clock == nil {
				clock = time.Now
			}
			so.Now = func() time.Time { return clock().Add(skew) }
		}
		a, err := app.New(ctx, cfg, app.Options{AWS: &awsCfg, Logger: wc.Logger, Service: so})
		if err != nil {
			closeAll()
			return Handlers{}, fmt.Errorf("wire app: %w", err)
		}
		apps = append(apps, a)
	}
	v, err := app.Verifier(ctx, cfg, &awsCfg)
	if err != nil {
		closeAll()
		return Handlers{}, fmt.Errorf("wire verifier: %w", err)
	}
	pick := func() *app.App { return apps[rand.IntN(len(apps))] }
	return Handlers{
		Authorize: awslambda.NewAuthorizer(v, wc.Logger).Handle,
		Route: func(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			return pick().Handler.Handle(ctx, req)
		},
		Stream: func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			return pick().Stream.Handle(ctx, ev)
		},
		Close: closeAll,
	}, nil
}

// instanceSkew is the clock offset of instance i of n: evenly from -skew to +skew.
func instanceSkew(i, n int, skew time.Duration) time.Duration {
	if n < 2 || skew == 0 {
		return 0
	}
	return -skew + time.Duration(i)*2*skew/time.Duration(n-1)
}

// withDeadlines gives every invocation the timeout the topology declares for its
// function, as Lambda ends an invocation at its timeout: a handler's calls (DynamoDB, the
// Management API) are cancelled then.
func withDeadlines(h Handlers) Handlers {
	routes := topology.Routes()
	route, stream := h.Route, h.Stream
	if route != nil {
		h.Route = func(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			if fn, ok := topology.Lookup(routes[req.RequestContext.RouteKey]); ok {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, fn.Timeout)
				defer cancel()
			}
			return route(ctx, req)
		}
	}
	if stream != nil {
		fanout, _ := topology.Lookup("fanout")
		h.Stream = func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			ctx, cancel := context.WithTimeout(ctx, fanout.Timeout)
			defer cancel()
			return stream(ctx, ev)
		}
	}
	return h
}
