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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/parleychat/parley/internal/app"
	"github.com/parleychat/parley/internal/auth"
	"github.com/parleychat/parley/internal/awslambda"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/dynalite"
	"github.com/parleychat/parley/internal/dynamo"
	"github.com/parleychat/parley/internal/keyspaces"
	"github.com/parleychat/parley/internal/localddb"
	"github.com/parleychat/parley/internal/localgw"
	"github.com/parleychat/parley/internal/schema"
)

// Config configures a Main. JWTSecret is required; every other zero field selects the
// documented default.
type Config struct {
	// Addr is the HTTP listen address. Default "127.0.0.1:8080"; "127.0.0.1:0" picks a
	// free port (see Main.Addr).
	Addr string
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
	// Wire builds the handlers. Default WireApp.
	Wire WireFunc
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
}

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
	// MessageStore is config.StoreDynamoDB ("" means the same) or config.StoreKeyspaces.
	MessageStore string
	// CassandraHosts (without ports), CassandraPort and Keyspace locate the message tables
	// when MessageStore is config.StoreKeyspaces.
	CassandraHosts []string
	CassandraPort  int
	Keyspace       string
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

// WireApp builds the handlers with internal/app, as the deployed functions do.
func WireApp(ctx context.Context, wc WireConfig) (Handlers, error) {
	cfg := config.Config{
		TableMessages:      wc.Tables[schema.MessagesID],
		TableConversations: wc.Tables[schema.ConversationsID],
		TableConnections:   wc.Tables[schema.ConnectionsID],
		TableOutbox:        wc.Tables[schema.OutboxID],
		MessageStore:       config.StoreDynamoDB,
		ManagementEndpoint: wc.ManagementEndpoint,
		DynamoDBEndpoint:   wc.DynamoDBEndpoint,
		AuthMode:           config.AuthHS256,
		JWTSecret:          string(wc.JWTSecret),
		PushConcurrency:    64,
		RateLimit:          100,
		RateBurst:          200,
		LogLevel:           slog.LevelInfo,
	}
	switch wc.MessageStore {
	case "", config.StoreDynamoDB:
	case config.StoreKeyspaces:
		cfg.MessageStore = config.StoreKeyspaces
		cfg.KeyspacesHosts = wc.CassandraHosts
		cfg.KeyspacesPort = wc.CassandraPort
		cfg.KeyspacesKeyspace = wc.Keyspace
		cfg.KeyspacesSigV4 = false // a plain connection to a local Apache Cassandra
		cfg.KeyspacesTLS = false
	default:
		return Handlers{}, fmt.Errorf("wire app: unknown message store %q (want %s or %s)", wc.MessageStore, config.StoreDynamoDB, config.StoreKeyspaces)
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
}

// New returns a Main for cfg.
func New(cfg Config) *Main {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8080"
	}
	if cfg.TablePrefix == "" {
		cfg.TablePrefix = "parley-"
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
	if err := m.createKeyspace(ctx); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	ln, err := net.Listen("tcp", m.cfg.Addr)
	if err != nil {
		return fmt.Errorf("local: listen on %s: %w", m.cfg.Addr, err)
	}
	m.addClose(func() error { _ = ln.Close(); return nil })
	m.addr = ln.Addr().String()

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
	proxy, err := localddb.New(localddb.Options{Upstream: upstream, TTLInterval: ttlInterval, Logger: m.log})
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	m.addClose(proxy.Close)
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("local: listen for the DynamoDB proxy: %w", err)
	}
	psrv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
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
	})
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	if h.Close != nil {
		m.addClose(func() error { h.Close(); return nil })
	}

	if h.Stream != nil && !m.cfg.ExternalFanout {
		for _, mp := range m.mappings(tables, h.Stream) {
			if err := proxy.StartMapping(mp); err != nil {
				return fmt.Errorf("local: mapping %s: %w", mp.Table, err)
			}
		}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /local/token", m.serveToken)
	mux.Handle("/", m.cfg.Web)
	m.gw = localgw.New(localgw.Options{
		Authorize:   h.Authorize,
		Route:       h.Route,
		RouteKeys:   awslambda.Actions,
		IdleTimeout: m.cfg.IdleTimeout,
		MaxLifetime: m.cfg.MaxLifetime,
		Fallback:    mux,
		Logger:      m.log,
	})
	m.srv = &http.Server{Handler: m.gw, ReadHeaderTimeout: 10 * time.Second}
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
	return nil
}

// ensureTables creates the tables through the proxy, and re-enables the streams of
// tables that existed already (a data dir from an earlier run), since the proxy keeps
// its stream configuration in memory.
func (m *Main) ensureTables(ctx context.Context, tables map[string]string) error {
	db := dynalite.NewClient(m.ddbURL)
	if err := dynamo.CreateTables(ctx, db, tables, schema.All()); err != nil {
		return fmt.Errorf("local: create tables: %w", err)
	}
	for _, t := range schema.All() {
		if t.Stream == schema.NoStream {
			continue
		}
		name := tables[t.ID]
		out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			return fmt.Errorf("local: describe %s: %w", name, err)
		}
		if out.Table.StreamSpecification != nil {
			continue
		}
		if _, err := db.UpdateTable(ctx, &dynamodb.UpdateTableInput{
			TableName: aws.String(name),
			StreamSpecification: &types.StreamSpecification{
				StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewType(t.Stream),
			},
		}); err != nil {
			return fmt.Errorf("local: enable stream of %s: %w", name, err)
		}
	}
	return nil
}

// mappings are the event source mappings of the deployed stack: Messages and Outbox
// INSERTs, and Connections REMOVEs by TTL, to the stream handler.
func (m *Main) mappings(tables map[string]string, h func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)) []localddb.Mapping {
	inserts := func(r events.DynamoDBEventRecord) bool { return r.EventName == "INSERT" }
	ttlRemoves := func(r events.DynamoDBEventRecord) bool {
		return r.EventName == "REMOVE" && r.UserIdentity != nil && r.UserIdentity.PrincipalID == awslambda.ServiceIdentity
	}
	onFailure := func(table string) func([]events.DynamoDBEventRecord) {
		return func(recs []events.DynamoDBEventRecord) {
			m.log.Error("local: stream records dropped (on-failure destination)", "table", table, "records", len(recs))
		}
	}
	var out []localddb.Mapping
	for _, x := range []struct {
		id     string
		filter func(events.DynamoDBEventRecord) bool
	}{{schema.MessagesID, inserts}, {schema.OutboxID, inserts}, {schema.ConnectionsID, ttlRemoves}} {
		out = append(out, localddb.Mapping{
			Table: tables[x.id], BatchSize: 100, MaxRetryAttempts: 3, Bisect: true,
			Filter: x.filter, Handler: h, OnFailure: onFailure(tables[x.id]),
		})
	}
	return out
}

// DefaultKeyspace is the keyspace of the message tables when Config.Keyspace is empty.
const DefaultKeyspace = "parley"

// checkMessageStore validates the message store settings and parses CassandraHosts.
func (m *Main) checkMessageStore() error {
	switch m.cfg.MessageStore {
	case config.StoreDynamoDB:
		if len(m.cfg.CassandraHosts) > 0 {
			return fmt.Errorf("hosts of a Cassandra (%q) are given but the message store is %s (want %s)",
				m.cfg.CassandraHosts, config.StoreDynamoDB, config.StoreKeyspaces)
		}
		return nil
	case config.StoreKeyspaces:
	default:
		return fmt.Errorf("unknown message store %q (want %s or %s)", m.cfg.MessageStore, config.StoreDynamoDB, config.StoreKeyspaces)
	}
	if !keyspaces.ValidKeyspace(m.cfg.Keyspace) {
		return fmt.Errorf("bad keyspace %q: letters, digits and _, at most 48, starting with a letter", m.cfg.Keyspace)
	}
	hosts, port, err := ParseCassandraHosts(m.cfg.CassandraHosts)
	if err != nil {
		return err
	}
	m.cassandraHosts, m.cassandraPort = hosts, port
	return nil
}

// ParseCassandraHosts splits contact points given as "HOST" or "HOST:PORT" ("[IPv6]:PORT")
// into hosts and the one port they share (the driver uses one port per cluster):
// keyspaces.DefaultPort when no entry names one. At least one entry is required.
func ParseCassandraHosts(entries []string) (hosts []string, port int, err error) {
	if len(entries) == 0 {
		return nil, 0, errors.New("the keyspaces message store needs Cassandra hosts (HOST:PORT)")
	}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		host, p := e, ""
		if h, pp, err := net.SplitHostPort(e); err == nil {
			host, p = h, pp
		} else if strings.Contains(e, ":") && net.ParseIP(e) == nil {
			return nil, 0, fmt.Errorf("bad Cassandra host %q: want HOST or HOST:PORT", e)
		}
		if host == "" {
			return nil, 0, fmt.Errorf("bad Cassandra host %q: empty host", e)
		}
		if p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return nil, 0, fmt.Errorf("bad Cassandra host %q: port must be 1 to 65535", e)
			}
			if port != 0 && port != n {
				return nil, 0, fmt.Errorf("bad Cassandra hosts %q: ports differ (%d and %d); the driver uses one port for all", entries, port, n)
			}
			port = n
		}
		hosts = append(hosts, host)
	}
	if port == 0 {
		port = keyspaces.DefaultPort
	}
	return hosts, port, nil
}

// createKeyspace creates the keyspace and the message tables (single-node replication)
// unless they exist, so that keyspaces mode needs no separate `parley migrate keyspaces`,
// and logs which message store is in use.
func (m *Main) createKeyspace(ctx context.Context) error {
	if m.cfg.MessageStore != config.StoreKeyspaces {
		m.log.Info("local: messages are stored in DynamoDB", "table", m.Tables()[schema.MessagesID])
		return nil
	}
	start := time.Now()
	session, err := keyspaces.Connect(keyspaces.Config{
		Hosts:    m.cassandraHosts,
		Port:     m.cassandraPort,
		Keyspace: m.cfg.Keyspace,
		Timeout:  30 * time.Second, // schema changes are slower than queries
		Logger:   m.log,
	}, false)
	if err != nil {
		return fmt.Errorf("keyspaces message store: %w", err)
	}
	defer session.Close()
	if err := keyspaces.CreateSchema(ctx, session, m.cfg.Keyspace, keyspaces.LocalReplication, false); err != nil {
		return fmt.Errorf("keyspaces message store: %w", err)
	}
	m.log.Info("local: messages are stored in Cassandra; fan-out runs from the Outbox stream",
		"hosts", m.cassandraHosts, "port", m.cassandraPort, "keyspace", m.cfg.Keyspace,
		"outbox", m.Tables()[schema.OutboxID], "schemaReady", time.Since(start).Round(time.Millisecond))
	return nil
}

var userIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,64}$`)

// serveToken answers GET /local/token?user=NAME with {"token": "...", "user": "NAME"}, a
// token valid for 24 hours.
func (m *Main) serveToken(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user")
	w.Header().Set("Content-Type", "application/json")
	if !userIDPattern.MatchString(user) {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "user must be 1 to 64 characters of A-Z a-z 0-9 _ . @ -"})
		return
	}
	tok, err := auth.Sign(m.cfg.JWTSecret, user, 24*time.Hour)
	if err != nil {
		m.log.Error("local: sign token", "userId", user, "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "could not sign a token"})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"token": tok, "user": user})
}

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
