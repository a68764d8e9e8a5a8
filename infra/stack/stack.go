// Package stack is Parley's CDK stack: the DynamoDB tables (built from internal/schema),
// the Go Lambdas (prebuilt linux/arm64 bootstraps), the API Gateway WebSocket API with its
// REQUEST authorizer, the stream fan-out mappings, least-privilege roles, alarms, the
// CloudWatch dashboard, the event bus of offline notifications and outputs. Optionally the
// Keyspaces message store, and LocalStack variants.
package stack

import (
	"fmt"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/parleychat/parley/internal/metrics"
	"github.com/parleychat/parley/internal/schema"
)

// Stack is the synthesized Parley stack and the constructs tests and main look at.
type Stack struct {
	awscdk.Stack
	// Props is the validated configuration.
	Props Props
	// Tables by schema ID.
	Tables tableSet
	// Functions by name (see Functions).
	Functions map[string]awslambda.Function
	// API is nil on TargetLocalStackHybrid.
	API   awsapigatewayv2.WebSocketApi
	Stage awsapigatewayv2.WebSocketStage
	// Dashboard is nil on the LocalStack targets.
	Dashboard awscloudwatch.Dashboard
	// NotifyBus is the event bus of offline notifications: the stack's own, the account's
	// default one, or nil (notifyBus none).
	NotifyBus awsevents.IEventBus
}

// New validates props and builds the stack. It fails, naming `make build`, when a
// function's bootstrap is missing.
func New(scope constructs.Construct, id string, props Props) (*Stack, error) {
	if err := props.Validate(); err != nil {
		return nil, fmt.Errorf("parley stack %s: %w", id, err)
	}
	p := &props
	sp := p.StackProps
	if sp.Description == nil {
		sp.Description = jsii.String("Parley real-time chat (stage " + p.Stage + ", " + p.Target + ")")
	}
	s := &Stack{Stack: awscdk.NewStack(scope, jsii.String(id), &sp), Props: props, Functions: map[string]awslambda.Function{}}
	awscdk.Tags_Of(s.Stack).Add(jsii.String("app"), jsii.String("parley"), nil)
	awscdk.Tags_Of(s.Stack).Add(jsii.String("stage"), jsii.String(p.Stage), nil)

	prefix := ""
	if p.Target == TargetLocalStackHybrid {
		prefix = "parley-"
	}
	tables, err := newTables(s.Stack, p, prefix)
	if err != nil {
		return nil, fmt.Errorf("parley stack %s: %w", id, err)
	}
	s.Tables = tables

	env := map[string]*string{
		"MESSAGE_STORE":      jsii.String(p.MessageStore),
		"AUTH_MODE":          jsii.String(p.AuthMode),
		"LOG_LEVEL":          jsii.String(p.LogLevel),
		"INLINE_MAX_MEMBERS": jsii.String(strconv.Itoa(*p.InlineMaxMembers)),
		// The functions' EMF metrics go to this stage's own namespace (internal/metrics).
		metrics.EnvNamespace: jsii.String(metrics.StageNamespace(p.Stage)),
	}
	envNames := map[string]string{
		schema.MessagesID:      "TABLE_MESSAGES",
		schema.ConversationsID: "TABLE_CONVERSATIONS",
		schema.ConnectionsID:   "TABLE_CONNECTIONS",
		schema.OutboxID:        "TABLE_OUTBOX",
	}
	for tid, t := range tables {
		env[envNames[tid]] = t.TableName()
	}
	var ks *keyspace
	if p.MessageStore == StoreKeyspaces {
		ks = newKeyspace(s.Stack, p)
		env["KEYSPACES_KEYSPACE"] = jsii.String(p.KeyspaceName)
		env["KEYSPACES_HOSTS"] = ks.host
		env["KEYSPACES_PORT"] = jsii.String("9142")
	}

	// Authentication configuration: only the authorizer verifies tokens, but every
	// function gets the same AUTH_* variables so one config loader serves all.
	var secret awssecretsmanager.ISecret
	switch p.AuthMode {
	case AuthHS256:
		secret = jwtSecret(s.Stack, p)
		env["JWT_SECRET_ARN"] = secret.SecretArn()
	case AuthOIDC:
		env["OIDC_ISSUER"] = jsii.String(p.OIDCIssuer)
		env["OIDC_AUDIENCE"] = jsii.String(p.OIDCAudience)
	}

	if p.Target == TargetLocalStackHybrid {
		env["MANAGEMENT_ENDPOINT"] = jsii.String(p.ManagementEndpoint)
	} else {
		s.API, s.Stage = newAPI(s.Stack, p)
		env["MANAGEMENT_ENDPOINT"] = s.Stage.CallbackUrl()
	}

	s.NotifyBus = newNotifyBus(s.Stack, p)
	for _, name := range p.functions() {
		a := Access[name]
		fnEnv := env
		if a.Notify {
			fnEnv = notifyEnv(env, p, s.NotifyBus)
		}
		fn := newFunction(s.Stack, p, name, fnEnv)
		if a.Notify {
			grantNotify(fn, s.NotifyBus)
		}
		grantTables(fn, a, tables, p.MessageStore)
		if ks != nil && name != "authorizer" {
			// Every function but the authorizer opens the Keyspaces session at init.
			ks.grant(fn, a.Keyspaces)
		}
		if ks != nil && a.Outbox {
			grantTable(fn, schema.OutboxID, tables[schema.OutboxID], []string{"dynamodb:PutItem"})
		}
		if a.Secret && secret != nil {
			secret.GrantRead(fn, nil)
		}
		if a.Push && s.Stage != nil {
			grantPush(s.Stack, fn, s.API.ApiId(), p.Stage)
		}
		s.Functions[name] = fn
	}
	for _, fn := range s.Functions {
		dependOnPolicyOnly(s.Stack, fn)
	}

	dlq := newFanout(s.Stack, p, tables, s.Functions["fanout"])
	if s.API != nil {
		wireRoutes(s.Stack, p, s.API, s.Stage, s.Functions)
	}
	alarms := newAlarms(s.Stack, p, s, dlq)
	if p.Target == TargetAWS {
		s.Dashboard = newDashboard(s.Stack, p, s, dlq, alarms)
		awscdk.NewCfnOutput(s.Stack, jsii.String("DashboardName"), &awscdk.CfnOutputProps{
			Value: s.Dashboard.DashboardName(), Description: jsii.String("CloudWatch dashboard of this stage: delivery lag, posts, fan-out, functions, API"),
		})
	}
	newOutputs(s.Stack, p, s, secret, dlq)
	suppress(s)
	return s, nil
}

// jwtSecret returns the HS256 secret: the one named by JWTSecretARN, or a generated
// 64-character secret that the stack owns.
func jwtSecret(s awscdk.Stack, p *Props) awssecretsmanager.ISecret {
	if p.JWTSecretARN != "" {
		return awssecretsmanager.Secret_FromSecretCompleteArn(s, jsii.String("JwtSecret"), jsii.String(p.JWTSecretARN))
	}
	return awssecretsmanager.NewSecret(s, jsii.String("JwtSecret"), &awssecretsmanager.SecretProps{
		Description: jsii.String("Parley " + p.Stage + ": HS256 key that signs and verifies client tokens"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(64),
			ExcludePunctuation: jsii.Bool(true),
		},
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
}

// dependOnPolicyOnly leaves a function's DependsOn with its role's policy only: the role
// itself is already a dependency through Role's GetAtt (cfn-lint W3005).
func dependOnPolicyOnly(s awscdk.Stack, fn awslambda.Function) {
	policy := fn.Role().Node().TryFindChild(jsii.String("DefaultPolicy"))
	if policy == nil {
		return
	}
	cfnPolicy := policy.Node().DefaultChild().(awscdk.CfnElement)
	fn.Node().DefaultChild().(awscdk.CfnResource).AddOverride(jsii.String("DependsOn"), []string{*s.GetLogicalId(cfnPolicy)})
}
