package stack

import (
	"github.com/parleychat/parley/internal/topology"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/schema"

	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
)

// Auth modes (env AUTH_MODE).
const (
	AuthHS256 = "hs256"
	AuthOIDC  = "oidc"
)

// Message stores (env MESSAGE_STORE), as internal/topology names them.
const (
	StoreDynamoDB  = topology.StoreDynamoDB
	StoreKeyspaces = topology.StoreKeyspaces
)

// Targets: where the stack is deployed.
const (
	// TargetAWS is a real AWS account: the full stack.
	TargetAWS = "aws"
	// TargetLocalStack is LocalStack with the WebSocket API (LocalStack's paid plans):
	// the full stack, every resource destroyable, no account-wide API Gateway logging role.
	TargetLocalStack = "localstack"
	// TargetLocalStackHybrid is LocalStack's free services only: the tables (named
	// parley-<ID>, as `parley local` names them), their streams, the fan-out Lambda and its
	// mappings. `parley local --dynamodb-endpoint` serves the gateway and Management API
	// that the fan-out Lambda posts to (ManagementEndpoint).
	TargetLocalStackHybrid = "localstack-hybrid"
)

// Offline notification buses (NotifyBus; context notifyBus).
const (
	// NotifyBusStack: an event bus the stack creates, parley-<stage>-notifications (the
	// default).
	NotifyBusStack = "stack"
	// NotifyBusDefault: the account's default event bus.
	NotifyBusDefault = "default"
	// NotifyBusNone: no offline notifications.
	NotifyBusNone = "none"
)

// Functions lists every Lambda function that internal/topology declares, by the name of
// its directory under functions/ and of its prebuilt bin/<name>/bootstrap.
var Functions = topology.Names()

// Props configures the Parley stack. The zero value of every optional field means the
// documented default; Validate fills in defaults and rejects bad values.
type Props struct {
	awscdk.StackProps

	// Stage names the API Gateway stage and is part of the stack name. 1 to 32 characters
	// of [A-Za-z0-9_-]. Default "prod".
	Stage string
	// Target is TargetAWS (default), TargetLocalStack or TargetLocalStackHybrid.
	Target string
	// FunctionsDir holds <name>/bootstrap for every entry of Functions (linux/arm64, built
	// by `make build`). Default "../bin" (relative to infra/).
	FunctionsDir string

	// AuthMode is AuthHS256 (default: a generated secret in Secrets Manager, or
	// JWTSecretARN) or AuthOIDC (OIDCIssuer and OIDCAudience required).
	AuthMode string
	// JWTSecretARN names an existing Secrets Manager secret holding the HS256 secret; empty
	// means the stack generates one.
	JWTSecretARN string
	// OIDCIssuer is the issuer URL (https://...) whose JWKS verifies tokens, for example
	// https://cognito-idp.<region>.amazonaws.com/<userPoolId>.
	OIDCIssuer string
	// OIDCAudience is the expected "aud" claim (a Cognito app client id).
	OIDCAudience string

	// MessageStore is StoreDynamoDB (default) or StoreKeyspaces.
	MessageStore string
	// KeyspaceName is the Keyspaces keyspace (StoreKeyspaces only). Default "parley_<stage>"
	// with '-' turned into '_'.
	KeyspaceName string

	// LogRetentionDays is the retention of every log group, one of CloudWatch's allowed
	// values. Default 30.
	LogRetentionDays int
	// LogLevel is the functions' LOG_LEVEL (debug, info, warn, error). Default "info".
	LogLevel string
	// AlarmEmail, when set, subscribes this address to the alarm topic.
	AlarmEmail string
	// DestroyData deletes the data tables (and the keyspace) with the stack. Default false:
	// they are retained. LocalStack targets always destroy.
	DestroyData bool
	// APIGatewayAccountRole creates the account-wide (per region) role API Gateway uses to
	// write access logs (AWS::ApiGateway::Account). Default true on TargetAWS; set
	// SkipAPIGatewayAccountRole when the account already has one.
	SkipAPIGatewayAccountRole bool

	// Throttle is the stage's default throttling. Default 500 requests/s, burst 1000.
	Throttle Throttle
	// ManagementEndpoint is MANAGEMENT_ENDPOINT for TargetLocalStackHybrid: the URL of
	// `parley local`'s Management API as the Lambda containers reach it. Default
	// "http://host.docker.internal:8080". Ignored elsewhere (the stage's callback URL is used).
	ManagementEndpoint string
	// InlineMaxMembers is the functions' INLINE_MAX_MEMBERS: the largest conversation
	// whose messages send pushes itself right after storing them (the inline path); 0
	// turns the inline path off. 0 to chat.MaxGroupMembers; nil means
	// chat.DefaultInlineMaxMembers (a pointer, since 0 is a setting, not the default).
	InlineMaxMembers *int
	// NotifyBus says where the delivering functions (send and fanout) put offline
	// notifications (NOTIFY_BUS): NotifyBusStack (default: a bus of the stack's own,
	// parley-<stage>-notifications), NotifyBusDefault (the account's default bus) or
	// NotifyBusNone (off).
	NotifyBus string
	// NotifyPreview is NOTIFY_PREVIEW: false leaves the body's preview out of
	// notifications. Nil means true (a pointer, since false is a setting).
	NotifyPreview *bool
}

// NotifyBusName is the name of the event bus notifications go to ("" with
// NotifyBusNone). Call it after Validate.
func (p *Props) NotifyBusName() string {
	switch p.NotifyBus {
	case NotifyBusStack:
		return "parley-" + p.Stage + "-notifications"
	case NotifyBusDefault:
		return "default"
	}
	return ""
}

// Throttle is a steady-state rate (requests per second) and a burst.
type Throttle struct {
	Rate  float64
	Burst float64
}

var (
	stageRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
	emailRE   = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	secretARN = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$`)
)

// retentions are CloudWatch Logs' allowed retention periods, in days.
var retentions = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS,
	731: awslogs.RetentionDays_TWO_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 3653: awslogs.RetentionDays_TEN_YEARS,
}

// Validate fills in defaults and checks every field, returning all problems at once.
func (p *Props) Validate() error {
	if p.Stage == "" {
		p.Stage = "prod"
	}
	if p.Target == "" {
		p.Target = TargetAWS
	}
	if p.FunctionsDir == "" {
		p.FunctionsDir = filepath.Join("..", "bin")
	}
	if p.AuthMode == "" {
		p.AuthMode = AuthHS256
	}
	if p.MessageStore == "" {
		p.MessageStore = StoreDynamoDB
	}
	if p.KeyspaceName == "" {
		p.KeyspaceName = "parley_" + strings.ReplaceAll(p.Stage, "-", "_")
	}
	if p.LogRetentionDays == 0 {
		p.LogRetentionDays = 30
	}
	if p.LogLevel == "" {
		p.LogLevel = "info"
	}
	if p.Throttle == (Throttle{}) {
		p.Throttle = Throttle{Rate: 500, Burst: 1000}
	}
	if p.ManagementEndpoint == "" {
		p.ManagementEndpoint = "http://host.docker.internal:8080"
	}
	if p.Target != TargetAWS {
		p.DestroyData = true
	}
	if p.InlineMaxMembers == nil {
		n := chat.DefaultInlineMaxMembers
		p.InlineMaxMembers = &n
	}
	if p.NotifyBus == "" {
		p.NotifyBus = NotifyBusStack
	}
	if p.NotifyPreview == nil {
		on := true
		p.NotifyPreview = &on
	}

	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !stageRE.MatchString(p.Stage) {
		bad("stage %q: want 1 to 32 characters of A-Z a-z 0-9 _ -", p.Stage)
	}
	switch p.Target {
	case TargetAWS, TargetLocalStack, TargetLocalStackHybrid:
	default:
		bad("target %q: want %s, %s or %s", p.Target, TargetAWS, TargetLocalStack, TargetLocalStackHybrid)
	}
	switch p.AuthMode {
	case AuthHS256:
		if p.JWTSecretARN != "" && !secretARN.MatchString(p.JWTSecretARN) {
			bad("jwtSecretArn %q is not a Secrets Manager secret ARN", p.JWTSecretARN)
		}
	case AuthOIDC:
		if !strings.HasPrefix(p.OIDCIssuer, "https://") {
			bad("authMode oidc needs oidcIssuer, an https:// URL (got %q)", p.OIDCIssuer)
		}
		if p.OIDCAudience == "" {
			bad("authMode oidc needs oidcAudience (for Cognito: the app client id)")
		}
	default:
		bad("authMode %q: want %s or %s", p.AuthMode, AuthHS256, AuthOIDC)
	}
	if err := topology.CheckMessageStore(p.MessageStore); err != nil {
		bad("messageStore: %v", err)
	}
	if p.MessageStore == StoreKeyspaces && p.Target == TargetLocalStackHybrid {
		bad("messageStore keyspaces is not available on target %s (LocalStack's free services have no Keyspaces)", p.Target)
	}
	if err := schema.CheckKeyspace(p.KeyspaceName); err != nil {
		bad("keyspaceName: %v", err)
	}
	if _, ok := retentions[p.LogRetentionDays]; !ok {
		bad("logRetentionDays %d is not a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)", p.LogRetentionDays)
	}
	switch p.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("logLevel %q: want debug, info, warn or error", p.LogLevel)
	}
	if p.AlarmEmail != "" && !emailRE.MatchString(p.AlarmEmail) {
		bad("alarmEmail %q is not an e-mail address", p.AlarmEmail)
	}
	if p.Throttle.Rate <= 0 || p.Throttle.Burst <= 0 {
		bad("throttle rate and burst must be positive (got %v, %v)", p.Throttle.Rate, p.Throttle.Burst)
	}
	if !strings.HasPrefix(p.ManagementEndpoint, "http://") && !strings.HasPrefix(p.ManagementEndpoint, "https://") {
		bad("managementEndpoint %q: want an http:// or https:// URL", p.ManagementEndpoint)
	}
	if n := *p.InlineMaxMembers; n < 0 || n > chat.MaxGroupMembers {
		bad("inlineMaxMembers %d: want 0 (inline path off) to %d (the largest group)", n, chat.MaxGroupMembers)
	}
	switch p.NotifyBus {
	case NotifyBusStack, NotifyBusDefault, NotifyBusNone:
	default:
		bad("notifyBus %q: want %s (a bus the stack creates, the default), %s (the account's default bus) or %s (no notifications)",
			p.NotifyBus, NotifyBusStack, NotifyBusDefault, NotifyBusNone)
	}
	if err := checkBootstraps(p.FunctionsDir, p.functions()); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// functions lists the functions this target deploys.
func (p *Props) functions() []string {
	if p.Target == TargetLocalStackHybrid {
		// The route handlers run inside `parley local`; LocalStack runs the stream consumer.
		return []string{"fanout"}
	}
	return Functions
}

// checkBootstraps reports every missing or empty bootstrap, with the command that builds them.
func checkBootstraps(dir string, names []string) error {
	var missing []string
	for _, n := range names {
		p := filepath.Join(dir, n, "bootstrap")
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() || fi.Size() == 0 {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("the Lambda bootstraps are not built (missing %s): run `make build` at the repository root first", strings.Join(missing, ", "))
}

// PropsFromContext reads the stack's configuration from CDK context (cdk.json or
// `cdk synth -c key=value`): stage, target, functionsDir, authMode, jwtSecretArn,
// oidcIssuer, oidcAudience, messageStore, keyspaceName, logRetentionDays, logLevel,
// alarmEmail, destroyData, skipApiGatewayAccountRole, throttleRate, throttleBurst,
// managementEndpoint, inlineMaxMembers, notifyBus, notifyPreview.
func PropsFromContext(node interface{ TryGetContext(*string) interface{} }) (Props, error) {
	var errs []error
	str := func(k string) string {
		v := node.TryGetContext(&k)
		if v == nil {
			return ""
		}
		return strings.TrimSpace(fmt.Sprint(v))
	}
	boolean := func(k string) bool {
		s := str(k)
		if s == "" {
			return false
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("context %s=%q: want true or false", k, s))
		}
		return b
	}
	number := func(k string) float64 {
		s := str(k)
		if s == "" {
			return 0
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("context %s=%q: want a number", k, s))
		}
		return f
	}
	// integer is nil when k is not set.
	integer := func(k string) *int {
		s := str(k)
		if s == "" {
			return nil
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("context %s=%q: want a whole number", k, s))
			return nil
		}
		return &n
	}
	// optBoolean is nil when k is not set.
	optBoolean := func(k string) *bool {
		if str(k) == "" {
			return nil
		}
		b := boolean(k)
		return &b
	}
	p := Props{
		Stage:                     str("stage"),
		Target:                    str("target"),
		FunctionsDir:              str("functionsDir"),
		AuthMode:                  str("authMode"),
		JWTSecretARN:              str("jwtSecretArn"),
		OIDCIssuer:                str("oidcIssuer"),
		OIDCAudience:              str("oidcAudience"),
		MessageStore:              str("messageStore"),
		KeyspaceName:              str("keyspaceName"),
		LogRetentionDays:          int(number("logRetentionDays")),
		LogLevel:                  str("logLevel"),
		AlarmEmail:                str("alarmEmail"),
		DestroyData:               boolean("destroyData"),
		SkipAPIGatewayAccountRole: boolean("skipApiGatewayAccountRole"),
		Throttle:                  Throttle{Rate: number("throttleRate"), Burst: number("throttleBurst")},
		ManagementEndpoint:        str("managementEndpoint"),
		InlineMaxMembers:          integer("inlineMaxMembers"),
		NotifyBus:                 strings.ToLower(str("notifyBus")),
		NotifyPreview:             optBoolean("notifyPreview"),
	}
	return p, errors.Join(errs...)
}
