// Package config reads the functions' configuration from environment variables, once, at
// start-up. A missing or malformed value is an error that names the variable.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/topology"
)

// Message stores (declared in internal/topology).
const (
	StoreDynamoDB  = topology.StoreDynamoDB
	StoreKeyspaces = topology.StoreKeyspaces
)

// Auth modes.
const (
	AuthHS256 = "hs256"
	AuthOIDC  = "oidc"
)

// Config is everything a function may need. Each function asks for the parts it uses.
type Config struct {
	// Tables are the physical table names (TABLE_MESSAGES, TABLE_CONVERSATIONS,
	// TABLE_CONNECTIONS, TABLE_OUTBOX).
	TableMessages, TableConversations, TableConnections, TableOutbox string
	// MessageStore is "dynamodb" (default) or "keyspaces" (MESSAGE_STORE).
	MessageStore string
	// ManagementEndpoint is the API Gateway Management API endpoint (MANAGEMENT_ENDPOINT).
	ManagementEndpoint string
	// DynamoDBEndpoint overrides the DynamoDB endpoint (DYNAMODB_ENDPOINT; local use).
	DynamoDBEndpoint string

	// AuthMode is "hs256" (default) or "oidc" (AUTH_MODE).
	AuthMode string
	// JWTSecret is the HS256 secret given directly (JWT_SECRET; local use), or
	// JWTSecretARN names a Secrets Manager secret holding it (JWT_SECRET_ARN).
	JWTSecret    string
	JWTSecretARN string
	// OIDCIssuer and OIDCAudience configure "oidc" (OIDC_ISSUER, OIDC_AUDIENCE).
	OIDCIssuer, OIDCAudience string

	// Keyspaces settings (MESSAGE_STORE=keyspaces): KEYSPACES_HOSTS (comma-separated;
	// default cassandra.<region>.amazonaws.com), KEYSPACES_PORT (default 9142),
	// KEYSPACES_KEYSPACE (default "parley"), KEYSPACES_TLS and KEYSPACES_SIGV4 (default
	// true: Amazon Keyspaces; false for a local Cassandra).
	KeyspacesHosts    []string
	KeyspacesPort     int
	KeyspacesKeyspace string
	KeyspacesTLS      bool
	KeyspacesSigV4    bool

	// PushConcurrency bounds parallel pushes (PUSH_CONCURRENCY, default
	// chat.DefaultPushConcurrency, 64).
	PushConcurrency int
	// RateLimit and RateBurst bound one user's frames per second per instance
	// (RATE_LIMIT default chat.DefaultRateLimit, 100, negative disables; RATE_BURST
	// default chat.DefaultRateBurst, 200).
	RateLimit float64
	RateBurst int
	// InlineMaxMembers is the largest conversation whose messages send pushes itself
	// (INLINE_MAX_MEMBERS, default chat.DefaultInlineMaxMembers, 0 turns the inline path
	// off, at most chat.MaxGroupMembers).
	InlineMaxMembers int
	// LogLevel is debug, info (default), warn or error (LOG_LEVEL).
	LogLevel slog.Level

	// Offline notifications (chat.Notification; docs/deploy.md, "Offline notifications"):
	// at most one of NotifyBus, NotifyURL and NotifyLog is set; none means no
	// notifications are made.
	//
	// NotifyBus is the Amazon EventBridge event bus they are put on, a name or an ARN;
	// "default" is the account's default bus (NOTIFY_BUS).
	NotifyBus string
	// NotifyURL is a webhook each one is POSTed to as JSON (NOTIFY_URL; the local
	// runtime's --notify-url).
	NotifyURL string
	// NotifyLog logs each one at info level (NOTIFY_LOG, default false; the local
	// runtime's default).
	NotifyLog bool
	// NotifyPreview puts the start of the message's body in them (NOTIFY_PREVIEW, default
	// true; false sets chat.Options.NoNotifyPreview).
	NotifyPreview bool
	// EventBridgeEndpoint overrides the EventBridge endpoint (EVENTBRIDGE_ENDPOINT; tests
	// and local use).
	EventBridgeEndpoint string
}

var (
	// eventBusName is EventBridge's rule for an event bus name (partner buses have "/").
	eventBusName = regexp.MustCompile(`^[A-Za-z0-9._/-]{1,256}$`)
	// eventBusARN is an event bus's ARN.
	eventBusARN = regexp.MustCompile(`^arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/[A-Za-z0-9._/-]{1,256}$`)
)

// Need says which parts of the configuration a function requires.
type Need uint

// Parts a function can require.
const (
	NeedTables Need = 1 << iota
	NeedManagement
	NeedAuth
)

// Load reads the configuration through getenv (os.Getenv in main) and checks the parts
// in need. All problems are reported together.
func Load(getenv func(string) string, need Need) (Config, error) {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	integer := func(name string, def int) int {
		v := get(name, "")
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			bad(name, "want a positive integer, got %q", v)
			return def
		}
		return n
	}
	boolean := func(name string, def bool) bool {
		v := get(name, "")
		if v == "" {
			return def
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad(name, "want true or false, got %q", v)
			return def
		}
		return b
	}
	c := Config{
		TableMessages:      get("TABLE_MESSAGES", ""),
		TableConversations: get("TABLE_CONVERSATIONS", ""),
		TableConnections:   get("TABLE_CONNECTIONS", ""),
		TableOutbox:        get("TABLE_OUTBOX", ""),
		MessageStore:       strings.ToLower(get("MESSAGE_STORE", StoreDynamoDB)),
		ManagementEndpoint: get("MANAGEMENT_ENDPOINT", ""),
		DynamoDBEndpoint:   get("DYNAMODB_ENDPOINT", ""),
		AuthMode:           strings.ToLower(get("AUTH_MODE", AuthHS256)),
		JWTSecret:          get("JWT_SECRET", ""),
		JWTSecretARN:       get("JWT_SECRET_ARN", ""),
		OIDCIssuer:         get("OIDC_ISSUER", ""),
		OIDCAudience:       get("OIDC_AUDIENCE", ""),
		KeyspacesPort:      integer("KEYSPACES_PORT", 9142),
		KeyspacesKeyspace:  get("KEYSPACES_KEYSPACE", "parley"),
		KeyspacesTLS:       boolean("KEYSPACES_TLS", true),
		KeyspacesSigV4:     boolean("KEYSPACES_SIGV4", true),
		PushConcurrency:    integer("PUSH_CONCURRENCY", chat.DefaultPushConcurrency),
		RateBurst:          integer("RATE_BURST", chat.DefaultRateBurst),
		NotifyBus:          get("NOTIFY_BUS", ""),
		NotifyURL:          get("NOTIFY_URL", ""),
		NotifyLog:          boolean("NOTIFY_LOG", false),
		NotifyPreview:      boolean("NOTIFY_PREVIEW", true),

		EventBridgeEndpoint: get("EVENTBRIDGE_ENDPOINT", ""),
	}
	if h := get("KEYSPACES_HOSTS", ""); h != "" {
		for _, s := range strings.Split(h, ",") {
			if s = strings.TrimSpace(s); s != "" {
				c.KeyspacesHosts = append(c.KeyspacesHosts, s)
			}
		}
	}
	c.RateLimit = chat.DefaultRateLimit
	if v := get("RATE_LIMIT", ""); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f == 0 {
			bad("RATE_LIMIT", "want a non-zero number (negative disables), got %q", v)
		} else {
			c.RateLimit = f
		}
	}
	c.InlineMaxMembers = chat.DefaultInlineMaxMembers
	if v := get("INLINE_MAX_MEMBERS", ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > chat.MaxGroupMembers {
			bad("INLINE_MAX_MEMBERS", "want 0 (off) to %d members, got %q", chat.MaxGroupMembers, v)
		} else {
			c.InlineMaxMembers = n
		}
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("LOG_LEVEL", "info"))); err != nil {
		bad("LOG_LEVEL", "want debug, info, warn or error, got %q", get("LOG_LEVEL", ""))
	}
	if c.DynamoDBEndpoint != "" {
		if u, err := url.Parse(c.DynamoDBEndpoint); err != nil || u.Scheme == "" || u.Host == "" {
			bad("DYNAMODB_ENDPOINT", "want a URL such as http://127.0.0.1:8000, got %q", c.DynamoDBEndpoint)
		}
	}
	if c.NotifyBus != "" && !eventBusName.MatchString(c.NotifyBus) && !eventBusARN.MatchString(c.NotifyBus) {
		bad("NOTIFY_BUS", "want an EventBridge event bus name (1 to 256 of A-Z a-z 0-9 . _ - /; default for the account's default bus) or its ARN, got %q", c.NotifyBus)
	}
	if c.NotifyURL != "" {
		if u, err := url.Parse(c.NotifyURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("NOTIFY_URL", "want an http:// or https:// URL such as http://127.0.0.1:9000/notify, got %q", c.NotifyURL)
		}
	}
	if set := notifyTargets(c); len(set) > 1 {
		bad(strings.Join(set, ", "), "notifications go to one place: set only one of NOTIFY_BUS, NOTIFY_URL and NOTIFY_LOG")
	}
	if c.EventBridgeEndpoint != "" {
		if u, err := url.Parse(c.EventBridgeEndpoint); err != nil || u.Scheme == "" || u.Host == "" {
			bad("EVENTBRIDGE_ENDPOINT", "want a URL such as http://127.0.0.1:4566, got %q", c.EventBridgeEndpoint)
		}
	}

	if need&NeedTables != 0 {
		if c.TableMessages == "" && c.MessageStore != StoreKeyspaces {
			bad("TABLE_MESSAGES", "required")
		}
		if c.TableConversations == "" {
			bad("TABLE_CONVERSATIONS", "required")
		}
		if c.TableConnections == "" {
			bad("TABLE_CONNECTIONS", "required")
		}
		if err := topology.CheckMessageStore(c.MessageStore); err != nil {
			bad("MESSAGE_STORE", "%v", err)
		} else if c.MessageStore == StoreKeyspaces && c.TableOutbox == "" {
			bad("TABLE_OUTBOX", "required with MESSAGE_STORE=keyspaces")
		}
	}
	if need&NeedManagement != 0 {
		if u, err := url.Parse(c.ManagementEndpoint); c.ManagementEndpoint == "" || err != nil || u.Scheme == "" || u.Host == "" {
			bad("MANAGEMENT_ENDPOINT", "want the Management API URL, such as https://abc123.execute-api.eu-west-1.amazonaws.com/prod, got %q", c.ManagementEndpoint)
		}
	}
	if need&NeedAuth != 0 {
		switch c.AuthMode {
		case AuthHS256:
			if c.JWTSecret == "" && c.JWTSecretARN == "" {
				bad("JWT_SECRET_ARN", "required with AUTH_MODE=hs256 (or JWT_SECRET for local use)")
			}
		case AuthOIDC:
			if c.OIDCIssuer == "" {
				bad("OIDC_ISSUER", "required with AUTH_MODE=oidc")
			}
		default:
			bad("AUTH_MODE", "want hs256 or oidc, got %q", c.AuthMode)
		}
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("config: %w", errors.Join(errs...))
	}
	return c, nil
}

// notifyTargets lists the notification settings that are set (NOTIFY_BUS, NOTIFY_URL,
// NOTIFY_LOG).
func notifyTargets(c Config) []string {
	var set []string
	if c.NotifyBus != "" {
		set = append(set, "NOTIFY_BUS")
	}
	if c.NotifyURL != "" {
		set = append(set, "NOTIFY_URL")
	}
	if c.NotifyLog {
		set = append(set, "NOTIFY_LOG")
	}
	return set
}
