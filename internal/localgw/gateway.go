package localgw

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// AuthorizeFunc is a REQUEST authorizer: the Lambda API Gateway runs before $connect.
//
// An error whose text is exactly "Unauthorized" fails the handshake with HTTP 401; any
// other error, or a policy without an Allow statement (or with a Deny), with 403.
type AuthorizeFunc func(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error)

// RouteFunc is the integration of a route: the Lambda API Gateway invokes for $connect,
// $disconnect, $default and every custom route key.
//
// For $connect a response status outside 200-299 rejects the connection with that status
// (403 when it is not a valid HTTP error status) and an error rejects it with 500. For the
// other routes a non-empty Body is sent to the caller as one text frame; errors are logged
// and, as on API Gateway, the client gets an "Internal server error" frame.
type RouteFunc func(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)

// Options configures a Gateway. The zero value of every field selects the documented
// default; only Route is required.
type Options struct {
	// Route is invoked for every route key. Required.
	Route RouteFunc
	// Authorize is the $connect authorizer. Nil means no authorizer: every handshake is
	// allowed and events carry no requestContext.authorizer.
	Authorize AuthorizeFunc
	// RouteKeys are the custom route keys (without $connect, $disconnect, $default). A
	// frame whose JSON "action" is one of them is routed to it, every other frame to
	// $default.
	RouteKeys []string
	// Path is the WebSocket endpoint's path. Default "/ws".
	Path string
	// Stage is the stage name used in events and accepted as a prefix of the Management API
	// path (/{Stage}/@connections/{id}). Default "local".
	Stage string
	// APIID is requestContext.apiId. Default "local".
	APIID string
	// AccountID is the account in the authorizer's method ARN. Default "000000000000".
	AccountID string
	// Region is the region in the authorizer's method ARN. Default "us-east-1".
	Region string
	// DomainName is requestContext.domainName. Default: the Host of the handshake request.
	DomainName string
	// IdleTimeout closes a connection that received no frame for this long (status 1001).
	// Default 10 minutes, API Gateway's limit.
	IdleTimeout time.Duration
	// MaxLifetime closes a connection this long after it opened (status 1001). Default
	// 2 hours, API Gateway's limit.
	MaxLifetime time.Duration
	// MaxFrameBytes is the largest client frame; larger ones close the connection with
	// status 1009. Default 32768 (32 KiB).
	MaxFrameBytes int64
	// MaxPostBytes is the largest Management API payload; larger ones get 413
	// PayloadTooLargeException. Default 131072 (128 KiB).
	MaxPostBytes int64
	// InvokeTimeout bounds each route or authorizer invocation. Default 29 seconds, API
	// Gateway's integration timeout.
	InvokeTimeout time.Duration
	// Concurrency is how many route invocations of one connection may run at once (frames
	// beyond it wait to be read). Route responses are always sent in the order of the
	// frames they answer. Default 4.
	Concurrency int
	// WriteTimeout bounds sending one frame to a client. Default 10 seconds.
	WriteTimeout time.Duration
	// Fallback serves every request that is neither the WebSocket endpoint nor the
	// Management API. Default http.NotFoundHandler().
	Fallback http.Handler
	// AllowedHosts, when not empty, are the Host header values the gateway answers to, each
	// "HOST:PORT" ("HOST" alone means port 80), compared case-insensitively; a request
	// under any other Host, on every path (WebSocket, Management API, Fallback), gets 421
	// Misdirected Request with a JSON message. This defeats DNS rebinding: a page from
	// evil.example whose name now resolves to 127.0.0.1 still sends "Host:
	// evil.example:PORT". Default: every Host is answered, as API Gateway does under its
	// own domain. New panics on a malformed entry (see CanonicalHost).
	AllowedHosts []string
	// AllowedOrigins, when not nil, are the origins ("SCHEME://HOST[:PORT]", or AnyOrigin
	// "*" for any) whose browser pages may open a WebSocket: a handshake with another
	// Origin header gets 403 before the authorizer runs. A handshake without Origin (a
	// client that is not a browser) is always allowed. Default nil: no check, like API
	// Gateway, which checks no Origin. New panics on a malformed entry (see
	// CanonicalOrigin).
	AllowedOrigins []string
	// Logger receives the gateway's logs. Default slog.Default().
	Logger *slog.Logger
}

// Default limits, matching API Gateway's.
const (
	DefaultIdleTimeout   = 10 * time.Minute
	DefaultMaxLifetime   = 2 * time.Hour
	DefaultMaxFrameBytes = 32 << 10
	DefaultMaxPostBytes  = 128 << 10
	DefaultInvokeTimeout = 29 * time.Second
)

func (o *Options) setDefaults() {
	if o.Path == "" {
		o.Path = "/ws"
	}
	if o.Stage == "" {
		o.Stage = "local"
	}
	if o.APIID == "" {
		o.APIID = "local"
	}
	if o.AccountID == "" {
		o.AccountID = "000000000000"
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxLifetime <= 0 {
		o.MaxLifetime = DefaultMaxLifetime
	}
	if o.MaxFrameBytes <= 0 {
		o.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if o.MaxPostBytes <= 0 {
		o.MaxPostBytes = DefaultMaxPostBytes
	}
	if o.InvokeTimeout <= 0 {
		o.InvokeTimeout = DefaultInvokeTimeout
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.Fallback == nil {
		o.Fallback = http.NotFoundHandler()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Gateway is a local API Gateway WebSocket API. Create it with New; it is safe for
// concurrent use.
type Gateway struct {
	opts   Options
	routes map[string]bool
	mux    *http.ServeMux
	log    *slog.Logger
	access access

	mu       sync.Mutex
	conns    map[string]*conn
	shutdown bool
	// active counts connection goroutines (handshake to $disconnect) for Shutdown.
	active sync.WaitGroup
}

// New returns a Gateway. It panics when opts.Route is nil or an entry of
// opts.AllowedHosts or opts.AllowedOrigins is malformed, programming errors.
func New(opts Options) *Gateway {
	if opts.Route == nil {
		panic("localgw: Options.Route is required")
	}
	acc, err := newAccess(opts.AllowedHosts, opts.AllowedOrigins)
	if err != nil {
		panic(err.Error())
	}
	opts.setDefaults()
	g := &Gateway{
		opts:   opts,
		routes: make(map[string]bool, len(opts.RouteKeys)),
		mux:    http.NewServeMux(),
		log:    opts.Logger.With("component", "localgw"),
		conns:  make(map[string]*conn),
		access: acc,
	}
	for _, k := range opts.RouteKeys {
		if !strings.HasPrefix(k, "$") {
			g.routes[k] = true
		}
	}
	g.mux.HandleFunc("GET "+opts.Path, g.serveWebSocket)
	for _, prefix := range []string{"", "/" + opts.Stage} {
		p := prefix + "/@connections/{id}"
		g.mux.HandleFunc("POST "+p, g.postToConnection)
		g.mux.HandleFunc("GET "+p, g.getConnection)
		g.mux.HandleFunc("DELETE "+p, g.deleteConnection)
	}
	g.mux.Handle("/", opts.Fallback)
	return g
}

// ServeHTTP serves the WebSocket endpoint, the Management API and, for every other path,
// Options.Fallback; requests under a Host outside Options.AllowedHosts get 421.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !g.checkHost(w, r) {
		return
	}
	g.mux.ServeHTTP(w, r)
}

// Stage returns the stage name (Options.Stage).
func (g *Gateway) Stage() string { return g.opts.Stage }

// Connections returns the ids of the open connections, in no particular order.
func (g *Gateway) Connections() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	ids := make([]string, 0, len(g.conns))
	for id := range g.conns {
		ids = append(ids, id)
	}
	return ids
}

// Shutdown refuses new connections, closes every open one with status 1001 ("Going
// away"), and waits until each has run $disconnect, or ctx ends.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	g.shutdown = true
	open := make([]*conn, 0, len(g.conns))
	for _, c := range g.conns {
		open = append(open, c)
	}
	g.mu.Unlock()
	for _, c := range open {
		c.closeBy(closeShutdown)
	}
	done := make(chan struct{})
	go func() { g.active.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("localgw: shutdown: %w", ctx.Err())
	}
}

// register adds c unless the gateway is shutting down, and reports whether it did.
func (g *Gateway) register(c *conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shutdown {
		return false
	}
	g.conns[c.id] = c
	return true
}

func (g *Gateway) unregister(c *conn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.conns[c.id] == c {
		delete(g.conns, c.id)
	}
}

func (g *Gateway) lookup(id string) *conn {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.conns[id]
}

// newConnectionID returns an id unused by any open connection.
func (g *Gateway) newConnectionID() string {
	for {
		id := newID()
		g.mu.Lock()
		_, taken := g.conns[id]
		g.mu.Unlock()
		if !taken {
			return id
		}
	}
}

// newID returns an id in API Gateway's format: 11 random bytes in URL-safe base64, 16
// characters ending in '=' (like "L0SM9cOFvHcCIhw="). Connection, message and request ids
// all look like this.
func newID() string {
	var b [11]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.URLEncoding.EncodeToString(b[:])
}

// requestTime formats t like requestContext.requestTime ("09/Feb/2019:18:47:28 +0000").
func requestTime(t time.Time) string { return t.UTC().Format("02/Jan/2006:15:04:05 -0700") }
