// Package app wires configuration to adapters to the chat service: the one place where
// the functions under functions/ and the local runtime build their handlers, so that
// both run exactly the same code.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/parleychat/parley/internal/apigw"
	"github.com/parleychat/parley/internal/auth"
	"github.com/parleychat/parley/internal/awslambda"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/dynamo"
)

// App holds what a function (or the local runtime) serves.
type App struct {
	Service *chat.Service
	Handler *awslambda.Handler
	Stream  *awslambda.StreamHandler
	// Close releases what the app holds (a Cassandra session).
	Close func()
}

// Options adds what the environment cannot say.
type Options struct {
	// AWS is the SDK configuration; nil loads the default chain (the Lambda role).
	AWS *aws.Config
	// Routes restricts the handler to some route keys; nil serves all.
	Routes []string
	// Logger; nil means a JSON logger on stderr at the configured level.
	Logger *slog.Logger
	// Service overrides service options (tests, the local runtime). Zero fields keep the
	// configuration's values.
	Service chat.Options
}

// Logger returns the JSON logger that functions use, at cfg's level.
func Logger(cfg config.Config) *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
}

// AWSConfig loads the SDK configuration. Locally (a DynamoDB endpoint override) it uses
// static dummy credentials when none are set, so no AWS account is needed.
func AWSConfig(ctx context.Context, cfg config.Config) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.DynamoDBEndpoint != "" {
		if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
			opts = append(opts, awsconfig.WithRegion("us-east-1"))
		}
		if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
			opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
		}
	}
	c, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("app: load AWS config: %w", err)
	}
	return c, nil
}

// DynamoDB returns a DynamoDB client for cfg, with the endpoint override when set. Its
// HTTP pool keeps as many idle connections as one call reads in parallel (fan-out and the
// inline path read up to 64 members' connections at once; the SDK's default keeps 10, so
// most of those requests would open a new TLS connection and close it afterwards).
func DynamoDB(awsCfg aws.Config, cfg config.Config) *dynamodb.Client {
	conns := max(cfg.PushConcurrency, 64)
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = 2 * conns
		t.MaxIdleConnsPerHost = conns
	})
	return dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if cfg.DynamoDBEndpoint != "" {
			o.BaseEndpoint = aws.String(cfg.DynamoDBEndpoint)
		}
		// Unless the caller brought its own client: the SDK's default is a BuildableClient.
		if _, dflt := awsCfg.HTTPClient.(*awshttp.BuildableClient); dflt || awsCfg.HTTPClient == nil {
			o.HTTPClient = httpClient
		}
	})
}

// New builds the service and its handlers from cfg.
func New(ctx context.Context, cfg config.Config, opts Options) (*App, error) {
	log := opts.Logger
	if log == nil {
		log = Logger(cfg)
	}
	awsCfg := opts.AWS
	if awsCfg == nil {
		c, err := AWSConfig(ctx, cfg)
		if err != nil {
			return nil, err
		}
		awsCfg = &c
	}
	db := DynamoDB(*awsCfg, cfg)
	conversations, err := dynamo.NewConversationStore(db, cfg.TableConversations)
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	connections, err := dynamo.NewConnectionStore(db, cfg.TableConnections)
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	messages, closeFn, err := messageStore(db, *awsCfg, cfg, log)
	if err != nil {
		return nil, err
	}

	var pusher chat.Pusher = noPusher{}
	if cfg.ManagementEndpoint != "" {
		client, err := apigw.NewClient(*awsCfg, apigw.ClientOptions{Endpoint: cfg.ManagementEndpoint, MaxConns: cfg.PushConcurrency})
		if err != nil {
			closeFn()
			return nil, fmt.Errorf("app: %w", err)
		}
		pusher = apigw.New(client)
	}
	so := opts.Service
	if so.Logger == nil {
		so.Logger = log
	}
	if so.PushConcurrency == 0 {
		so.PushConcurrency = cfg.PushConcurrency
	}
	if so.RateLimit == 0 {
		so.RateLimit = cfg.RateLimit
	}
	if so.RateBurst == 0 {
		so.RateBurst = cfg.RateBurst
	}
	if so.InlineMaxMembers == 0 {
		so.InlineMaxMembers = cfg.InlineMaxMembers
	}
	if so.Notifier == nil {
		n, err := Notifier(*awsCfg, cfg, log)
		if err != nil {
			closeFn()
			return nil, err
		}
		so.Notifier = n
	}
	if !cfg.NotifyPreview {
		so.NoNotifyPreview = true
	}
	svc := chat.NewService(messages, conversations, connections, pusher, so)
	return &App{
		Service: svc,
		Handler: awslambda.NewHandler(svc, awslambda.HandlerOptions{Routes: opts.Routes, Logger: log}),
		Stream:  awslambda.NewStreamHandler(svc, log),
		Close:   closeFn,
	}, nil
}

// messageStore opens the message store that cfg names: the Messages table, or Keyspaces
// with the Outbox table whose stream drives fan-out. close releases it.
func messageStore(db dynamo.API, awsCfg aws.Config, cfg config.Config, log *slog.Logger) (_ chat.MessageStore, close func(), _ error) {
	if cfg.MessageStore != config.StoreKeyspaces {
		m, err := dynamo.NewMessageStore(db, cfg.TableMessages, cfg.TableConversations)
		if err != nil {
			return nil, nil, fmt.Errorf("app: %w", err)
		}
		return m, func() {}, nil
	}
	ks, err := openKeyspaces(awsCfg, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	outbox, err := dynamo.NewOutbox(db, cfg.TableOutbox)
	if err != nil {
		ks.Close()
		return nil, nil, fmt.Errorf("app: %w", err)
	}
	return dynamo.OutboxStore{MessageStore: ks, Outbox: outbox}, ks.Close, nil
}

// noPusher stands in when a function has no Management endpoint configured (connect and
// disconnect without presence events); every push reports the misconfiguration.
type noPusher struct{}

func (noPusher) Push(context.Context, string, []byte) error {
	return fmt.Errorf("app: MANAGEMENT_ENDPOINT is not configured: %w", chat.ErrRejected)
}

// Verifier returns the token verifier that cfg names: HS256 with JWT_SECRET or the secret
// in Secrets Manager (JWT_SECRET_ARN), or an OIDC issuer's JWKS.
func Verifier(ctx context.Context, cfg config.Config, awsCfg *aws.Config) (auth.Verifier, error) {
	switch cfg.AuthMode {
	case config.AuthOIDC:
		// The JWKS refresh runs in the background for the life of the process.
		v, err := auth.NewOIDC(context.Background(), cfg.OIDCIssuer, cfg.OIDCAudience, &http.Client{Timeout: 10 * time.Second})
		if err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
		return v, nil
	default:
		secret := cfg.JWTSecret
		if secret == "" {
			if awsCfg == nil {
				c, err := AWSConfig(ctx, cfg)
				if err != nil {
					return nil, err
				}
				awsCfg = &c
			}
			out, err := secretsmanager.NewFromConfig(*awsCfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(cfg.JWTSecretARN)})
			if err != nil {
				return nil, fmt.Errorf("app: read JWT secret %s: %w", cfg.JWTSecretARN, err)
			}
			secret = aws.ToString(out.SecretString)
		}
		if len(secret) < auth.RecommendedSecretBytes {
			slog.WarnContext(ctx, "the HS256 secret is shorter than recommended", "bytes", len(secret), "recommended", auth.RecommendedSecretBytes)
		}
		v, err := auth.NewHS256([]byte(secret))
		if err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
		return v, nil
	}
}
