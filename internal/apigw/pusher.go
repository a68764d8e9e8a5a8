// Package apigw pushes frames to WebSocket connections through API Gateway's Management
// API (PostToConnection), mapping its errors onto the chat package's.
package apigw

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/aws/smithy-go"

	"github.com/parleychat/parley/internal/chat"
)

// Poster is the one Management API call the Pusher needs.
type Poster interface {
	PostToConnection(ctx context.Context, in *apigatewaymanagementapi.PostToConnectionInput, optFns ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error)
}

// Pusher implements chat.Pusher over the Management API.
type Pusher struct {
	client Poster
}

var _ chat.Pusher = (*Pusher)(nil)

// New returns a Pusher over client.
func New(client Poster) *Pusher { return &Pusher{client: client} }

// Push posts data to the connection. GoneException becomes chat.ErrGone; ForbiddenException,
// PayloadTooLargeException and other 4xx (but 429) become chat.ErrRejected; throttling,
// 5xx and transport errors are returned as they are: transient.
func (p *Pusher) Push(ctx context.Context, connectionID string, data []byte) error {
	_, err := p.client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(connectionID),
		Data:         data,
	})
	if err == nil {
		return nil
	}
	var gone *types.GoneException
	if errors.As(err, &gone) {
		return fmt.Errorf("post to %s: %w", connectionID, chat.ErrGone)
	}
	var forbidden *types.ForbiddenException
	var tooLarge *types.PayloadTooLargeException
	if errors.As(err, &forbidden) || errors.As(err, &tooLarge) {
		return fmt.Errorf("post to %s: %w: %v", connectionID, chat.ErrRejected, err)
	}
	var limit *types.LimitExceededException
	if errors.As(err, &limit) {
		return fmt.Errorf("post to %s: throttled: %w", connectionID, err)
	}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		if s := respErr.HTTPStatusCode(); s >= 400 && s < 500 && s != http.StatusTooManyRequests && s != http.StatusRequestTimeout {
			return fmt.Errorf("post to %s: %w: %v", connectionID, chat.ErrRejected, err)
		}
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorFault() == smithy.FaultClient && respErr == nil {
		return fmt.Errorf("post to %s: %w: %v", connectionID, chat.ErrRejected, err)
	}
	return fmt.Errorf("post to %s: %w", connectionID, err)
}

// ClientOptions configures NewClient.
type ClientOptions struct {
	// Endpoint is the Management API endpoint: https://{apiId}.execute-api.{region}.amazonaws.com/{stage}
	// when deployed, the local gateway's URL locally. Required.
	Endpoint string
	// MaxConns sizes the HTTP connection pool; set it to the push concurrency. Default 64.
	MaxConns int
	// Timeout bounds one post. Default 5s.
	Timeout time.Duration
}

// NewClient returns a Management API client whose HTTP pool is sized for MaxConns
// concurrent posts (the SDK's default keeps far fewer idle connections, so a fan-out
// would keep opening TLS connections) and whose own retries are off: the chat service
// retries with jitter and knows which failures are worth it.
func NewClient(cfg aws.Config, opts ClientOptions) (*apigatewaymanagementapi.Client, error) {
	if opts.Endpoint == "" {
		return nil, errors.New("apigw: management endpoint is required")
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 64
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	httpClient := awshttp.NewBuildableClient().WithTimeout(opts.Timeout).WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = opts.MaxConns * 2
		t.MaxIdleConnsPerHost = opts.MaxConns
		t.IdleConnTimeout = 90 * time.Second
	})
	return apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(opts.Endpoint)
		o.HTTPClient = httpClient
		o.RetryMaxAttempts = 1
	}), nil
}
