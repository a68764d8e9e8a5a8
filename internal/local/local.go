// Package local is the runtime behind `parley local`: the whole system in one process,
// without Docker or an AWS account.
//
// A Main starts dynalite (internal/dynalite; or uses another DynamoDB endpoint), the
// DynamoDB proxy that adds streams and TTL (internal/localddb), the tables from
// internal/schema, the chat handlers (wired by a WireFunc, internal/app by default), the
// event source mappings feeding the stream handler, and one HTTP server with the
// WebSocket gateway and Management API (internal/localgw), the token endpoint
// GET /local/token?user=NAME and the web client at /.
//
// Messages live in the DynamoDB Messages table by default. With Config.MessageStore
// "keyspaces" they live in an Apache Cassandra (Config.CassandraHosts) instead, as they
// would in Amazon Keyspaces: Start creates the keyspace and tables, and fan-out runs from
// the Outbox table's stream.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/dynalite"
	"github.com/parleychat/parley/internal/dynamo"
	"github.com/parleychat/parley/internal/faults"
	"github.com/parleychat/parley/internal/localddb"
	"github.com/parleychat/parley/internal/localgw"
	"github.com/parleychat/parley/internal/schema"
	"github.com/parleychat/parley/internal/timing"
	"github.com/parleychat/parley/internal/topology"
)

// Config configures a Main. JWTSecret is required; every other zero field selects the
// documented default.
type Config struct {
	// Addr is the HTTP listen address. Default "127.0.0.1:8080"; "127.0.0.1:0" picks a
	// free port (see Main.Addr). It must be a loopback address (localhost, 127.0.0.0/8,
	// [::1]) unless AllowRemote.
	Addr string
	// AllowRemote lets Addr be an address that is not a loopback one (0.0.0.0, a LAN
	// address, a host name other than localhost). Without it Start refuses such an
	// address, because the token endpoint and the Management API authenticate nobody. With
	// it Start logs a warning, and the server also answers to Addr's host (to every
	// interface's address when that host is a wildcard such as 0.0.0.0). Default false.
	AllowRemote bool
	// AllowedHosts adds names the server answers to, each "HOST" (on the listen port) or
	// "HOST:PORT", such as "host.docker.internal" for LocalStack's Lambda containers.
	// Every request whose Host header is not the listen address, 127.0.0.1, localhost or
	// [::1] on the listen port, one of these, or (with AllowRemote) Addr's host, gets 421
	// Misdirected Request: a page of another name that resolves to this machine (DNS
	// rebinding) cannot get tokens or use the Management API. Default: none.
	AllowedHosts []string
	// AllowedOrigins adds origins ("SCHEME://HOST[:PORT]", or "*" for any) whose browser
	// pages may open a WebSocket at /ws. By default only the web client's own origin may:
	// http:// and each name the server answers to (http://127.0.0.1:PORT,
	// http://localhost:PORT, ...). A handshake from another origin gets 403 before the
	// authorizer runs; one without an Origin header (not a browser) is always allowed.
	// API Gateway checks no Origin: this is a local-runtime protection only.
	AllowedOrigins []string
	// DataDir keeps dynalite's data on disk. Default "": in memory.
	DataDir string
	// DynamoDBEndpoint uses another DynamoDB (e.g. LocalStack's) instead of starting
	// dynalite; the proxy still sits in front of it.
	DynamoDBEndpoint string
	// IdleTimeout and MaxLifetime limit WebSocket connections. Defaults 10 min and 2 h.
	IdleTimeout, MaxLifetime time.Duration
	// TTLInterval is the TTL sweeper's period. Default 2 s.
	TTLInterval time.Duration
	// ExternalFanout leaves the streams to the upstream DynamoDB (LocalStack in the
	// hybrid setup, whose own stream mappings invoke the deployed fanout Lambda): no
	// in-process event source mappings and no TTL sweeper run, so no message is pushed
	// twice. Only with DynamoDBEndpoint.
	ExternalFanout bool
	// JWTSecret is the HS256 secret of tokens. Required.
	JWTSecret []byte
	// TablePrefix prefixes the table IDs. Default "parley-".
	TablePrefix string
	// Web serves the browser client at "/". Default: 404 for every other path.
	Web http.Handler
	// Wire builds the handlers. Default WireApp, or WireRIE with LambdaRIE.
	Wire WireFunc
	// LambdaRIE runs the functions' built bootstraps, each a process of its own under the
	// AWS Lambda Runtime Interface Emulator, in place of the in-process handlers
	// (`--lambda-rie`; see RIEConfig). Default nil: in process. Ignored when Wire is set.
	LambdaRIE *RIEConfig
	// Logger receives the runtime's logs. Default slog.Default().
	Logger *slog.Logger
	// DynaliteStderr receives dynalite's output. Default: discarded.
	DynaliteStderr io.Writer
	// Service overrides options of the chat service that WireApp builds: its clock, rate
	// limit, push settings. Zero fields keep the defaults (a rate limit of 100 frames per
	// second with a burst of 200 per user). Tests use it for a low rate limit or a clock
	// that makes presence lapse sooner.
	Service chat.Options
	// MessageStore says where messages live: config.StoreDynamoDB ("dynamodb", the
	// default: the Messages table, whose stream drives fan-out) or config.StoreKeyspaces
	// ("keyspaces": a Cassandra at CassandraHosts, reached as the functions reach Amazon
	// Keyspaces, with the Outbox table's stream driving fan-out).
	MessageStore string
	// CassandraHosts are the Cassandra contact points with MessageStore "keyspaces", each
	// "HOST" or "HOST:PORT" (default port 9042; entries that name a port must name the
	// same one). Required in that mode and rejected in the other.
	CassandraHosts []string
	// Keyspace holds the message tables with MessageStore "keyspaces"; Start creates it and
	// its tables unless they exist. Default "parley".
	Keyspace string
	// Faults injects the failures AWS produces (internal/faults; docs/reliability.md):
	// Management API errors and timeouts, DynamoDB throttling, errors and latency,
	// crashing invocations, dropped clients. Counted at GET /local/faults. Default none.
	Faults faults.Spec
	// Instances runs that many independent instances of the handlers, as many Lambda
	// instances run at once on AWS, each with its own id generator and rate limiter and a
	// clock off by up to ClockSkew (evenly from -ClockSkew to +ClockSkew); every invocation
	// goes to one at random. Default 1.
	Instances int
	// ClockSkew is the largest clock offset of an instance (with Instances above 1).
	ClockSkew time.Duration
	// InlineMaxMembers sets the functions' INLINE_MAX_MEMBERS: the largest conversation
	// whose messages send pushes itself; 0 turns the inline path off (stream only). Nil
	// keeps the functions' default (chat.DefaultInlineMaxMembers).
	InlineMaxMembers *int
	// NotifyURL is the functions' NOTIFY_URL: every offline notification (chat.Notification)
	// is POSTed there as JSON, the document the deployed stack puts on EventBridge
	// (internal/notify; `--notify-url`). Default "": none, or the log with NotifyLog.
	NotifyURL string
	// NotifyLog is the functions' NOTIFY_LOG: every offline notification is logged at info
	// level (what `parley local` does without --notify-url). Not with NotifyURL.
	NotifyLog bool
	// NotifyPreview sets the functions' NOTIFY_PREVIEW: false leaves the body's preview out
	// of notifications. Nil keeps the functions' default (previews on).
	NotifyPreview *bool
	// Timings models the deployed path's latencies (internal/timing; `--aws-timings`):
	// the stream mappings' 250 ms poll and a latency on every DynamoDB request, post,
	// API Gateway hop and invocation. Default nil: no added latency.
	Timings *timing.Model
}

// Main is a running local system. Create it with New, then Start (or Run), then Close.
type Main struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	closers  []func() error // run in reverse order by Close
	addr     string
	ddbURL   string
	gw       *localgw.Gateway
	srv      *http.Server
	serveErr chan error
	closed   bool

	// cassandraHosts and cassandraPort are Config.CassandraHosts, parsed by Start.
	cassandraHosts []string
	cassandraPort  int
	// faults injects Config.Faults (nil without).
	faults *faults.Injector
}

// New returns a Main for cfg.
func New(cfg Config) *Main {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8080"
	}
	if cfg.TablePrefix == "" {
		cfg.TablePrefix = "parley-"
	}
	if cfg.Wire == nil && cfg.LambdaRIE != nil {
		cfg.Wire = WireRIE(*cfg.LambdaRIE)
	}
	if cfg.Wire == nil {
		cfg.Wire = WireApp
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Web == nil {
		cfg.Web = http.NotFoundHandler()
	}
	if cfg.MessageStore == "" {
		cfg.MessageStore = config.StoreDynamoDB
	}
	if cfg.Keyspace == "" {
		cfg.Keyspace = DefaultKeyspace
	}
	return &Main{cfg: cfg, log: cfg.Logger, serveErr: make(chan error, 1)}
}

// Addr is the HTTP server's address (host:port) once Start has returned.
func (m *Main) Addr() string { return m.addr }

// WebSocketURL is the gateway's WebSocket URL once Start has returned.
func (m *Main) WebSocketURL() string { return "ws://" + m.addr + "/ws" }

// ManagementEndpoint is the Management API's URL once Start has returned.
func (m *Main) ManagementEndpoint() string { return "http://" + m.addr }

// DynamoDBEndpoint is the DynamoDB proxy's URL once Start has returned.
func (m *Main) DynamoDBEndpoint() string { return m.ddbURL }

// Tables maps table IDs to the physical names the runtime uses.
func (m *Main) Tables() map[string]string {
	return dynamo.PrefixedNames(m.cfg.TablePrefix, schema.All())
}

// MessageStore is where messages live: config.StoreDynamoDB or config.StoreKeyspaces.
func (m *Main) MessageStore() string { return m.cfg.MessageStore }

// Keyspace is the Cassandra keyspace of the message tables with the "keyspaces" store.
func (m *Main) Keyspace() string { return m.cfg.Keyspace }

// Run starts the system, serves until ctx ends, then closes everything.
func (m *Main) Run(ctx context.Context) error {
	if err := m.Start(ctx); err != nil {
		m.Close()
		return err
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-m.serveErr:
	}
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	return err
}

// Start starts every part and returns once the system serves. On error, Close releases
// what was started.
func (m *Main) Start(ctx context.Context) error {
	if len(m.cfg.JWTSecret) == 0 {
		return errors.New("local: a JWT secret is required")
	}
	if err := m.checkMessageStore(); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	if m.cfg.ExternalFanout && m.cfg.DynamoDBEndpoint == "" {
		return errors.New("local: external fan-out needs a DynamoDB endpoint whose streams feed it (--dynamodb-endpoint)")
	}
	if err := checkAddr(m.cfg.Addr, m.cfg.AllowRemote); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	if err := checkAccessLists(m.cfg.AllowedHosts, m.cfg.AllowedOrigins); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	if err := m.createKeyspace(ctx); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	ln, err := net.Listen("tcp", m.cfg.Addr)
	if err != nil {
		return fmt.Errorf("local: listen on %s: %w", m.cfg.Addr, err)
	}
	m.addClose(func() error { _ = ln.Close(); return nil })
	m.addr = ln.Addr().String()
	if len(m.cfg.Faults) > 0 {
		m.faults = faults.New(m.cfg.Faults) // enabled once everything runs
		m.log.Warn("local: injecting faults", "faults", m.cfg.Faults.String())
	}
	ln = faults.Listener(m.faults, ln, "/ws")
	hosts, err := allowedHosts(m.cfg.Addr, m.addr, m.cfg.AllowRemote, m.cfg.AllowedHosts)
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	if m.Remote() {
		m.log.Warn("local: listening on an address that is not a loopback one: anyone who reaches it can get a "+
			"token for any user (/local/token) and post to or close any connection (the Management API)",
			"addr", m.addr, "hosts", hosts)
	}

	upstream := m.cfg.DynamoDBEndpoint
	if upstream == "" {
		d, err := dynalite.Start(ctx, dynalite.Options{Dir: m.cfg.DataDir, Stderr: m.cfg.DynaliteStderr})
		if err != nil {
			return fmt.Errorf("local: start dynalite: %w", err)
		}
		m.addClose(d.Close)
		upstream = d.Endpoint()
	}
	ttlInterval := m.cfg.TTLInterval
	if m.cfg.ExternalFanout {
		ttlInterval = -1 // the upstream's own TTL deletes, and its stream reports them
	}
	// With a data dir the proxy keeps its stream logs, mapping checkpoints and table
	// settings in DataDir/localddb/, beside dynalite's LevelDB files, so that a restart
	// (after a crash too) delivers the stream records that had not been delivered. New
	// reads back, and settles the writes a crash interrupted, from the dynalite above.
	var proxyDir string
	if m.cfg.DynamoDBEndpoint == "" {
		proxyDir = m.cfg.DataDir
	}
	proxy, err := localddb.New(localddb.Options{Upstream: upstream, TTLInterval: ttlInterval, Dir: proxyDir, Logger: m.log})
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	m.addClose(proxy.Close)
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("local: listen for the DynamoDB proxy: %w", err)
	}
	psrv := &http.Server{Handler: faults.DynamoDB(m.faults, timing.DynamoDB(m.cfg.Timings, proxy)), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = psrv.Serve(pln) }()
	m.addClose(psrv.Close)
	m.ddbURL = "http://" + pln.Addr().String()

	tables := m.Tables()
	if err := m.ensureTables(ctx, tables); err != nil {
		return err
	}

	h, err := m.cfg.Wire(ctx, WireConfig{
		DynamoDBEndpoint:   m.ddbURL,
		ManagementEndpoint: m.ManagementEndpoint(),
		Tables:             tables,
		JWTSecret:          m.cfg.JWTSecret,
		Logger:             m.log,
		Service:            m.cfg.Service,
		MessageStore:       m.cfg.MessageStore,
		CassandraHosts:     m.cassandraHosts,
		CassandraPort:      m.cassandraPort,
		Keyspace:           m.cfg.Keyspace,
		Instances:          m.cfg.Instances,
		ClockSkew:          m.cfg.ClockSkew,
		InlineMaxMembers:   m.cfg.InlineMaxMembers,
		NotifyURL:          m.cfg.NotifyURL,
		NotifyLog:          m.cfg.NotifyLog,
		NotifyPreview:      m.cfg.NotifyPreview,
	})
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	if h.Route != nil {
		h.Route = timing.Route(m.cfg.Timings, faults.Route(m.faults, h.Route))
	}
	if h.Stream != nil {
		h.Stream = timing.Stream(m.cfg.Timings, faults.Stream(m.faults, h.Stream))
	}
	if h.Authorize != nil {
		h.Authorize = timing.Authorize(m.cfg.Timings, h.Authorize)
	}
	h = withDeadlines(h)
	if h.Route != nil {
		h.Route = withMocks(h.Route)
	}
	if h.Close != nil {
		m.addClose(func() error { h.Close(); return nil })
	}

	if h.Stream != nil && !m.cfg.ExternalFanout {
		if err := m.startMappings(proxy, tables, h.Stream); err != nil {
			return err
		}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /local/token", m.serveToken)
	mux.Handle("GET /local/faults", m.faults)
	mux.Handle("/", m.cfg.Web)
	m.gw = localgw.New(localgw.Options{
		Authorize:   h.Authorize,
		Route:       h.Route,
		RouteKeys:   append(topology.Actions(), topology.MockActions()...),
		IdleTimeout: m.cfg.IdleTimeout,
		MaxLifetime: m.cfg.MaxLifetime,
		Fallback:    mux,
		Logger:      m.log,
		// The local runtime's own doors: see access.go.
		AllowedHosts:   hosts,
		AllowedOrigins: allowedOrigins(hosts, m.cfg.AllowedOrigins),
	})
	m.srv = &http.Server{Handler: faults.Management(m.faults, timing.Management(m.cfg.Timings, m.gw)), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.serveErr <- fmt.Errorf("local: serve: %w", err)
		}
	}()
	m.addClose(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		gerr := m.gw.Shutdown(ctx) // every connection gets its $disconnect
		serr := m.srv.Shutdown(ctx)
		return errors.Join(gerr, serr)
	})
	m.faults.Enable()
	return nil
}

// Faults counts the faults injected so far, by kind (all zero without Config.Faults).
func (m *Main) Faults() map[faults.Kind]int64 { return m.faults.Counts() }

func (m *Main) addClose(f func() error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closers = append(m.closers, f)
}

// Close stops everything Start started, in reverse order: the HTTP server (with a
// $disconnect for each connection), the handlers, the proxy and its mappings, dynalite.
func (m *Main) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	closers := m.closers
	m.mu.Unlock()
	var errs []error
	for i := len(closers) - 1; i >= 0; i-- {
		if err := closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
