package stack

import (
	"github.com/parleychat/parley/internal/topology"

	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Routes maps every route key of PROTOCOL.md (and $default) to the function serving it,
// as internal/topology declares.
var Routes = topology.Routes()

// RouteThrottles are per-route limits below the stage default, for the routes that cost
// the most per call: $connect runs the authorizer and writes, sync replays up to 1000
// messages, group changes write one item per member.
var RouteThrottles = map[string]Throttle{
	"$connect":           {Rate: 100, Burst: 200},
	"sync":               {Rate: 50, Burst: 100},
	"history":            {Rate: 200, Burst: 400},
	"createConversation": {Rate: 50, Burst: 100},
	"addMembers":         {Rate: 50, Burst: 100},
}

// accessLogFormat is one JSON object per request, with the WebSocket context variables.
const accessLogFormat = `{"requestId":"$context.requestId","extendedRequestId":"$context.extendedRequestId",` +
	`"connectionId":"$context.connectionId","eventType":"$context.eventType","routeKey":"$context.routeKey",` +
	`"status":"$context.status","principalId":"$context.authorizer.principalId","ip":"$context.identity.sourceIp",` +
	`"requestTime":"$context.requestTimeEpoch","integrationLatency":"$context.integrationLatency",` +
	`"error":"$context.error.message","integrationError":"$context.integration.error",` +
	`"authorizerError":"$context.authorizer.error"}`

// newAPI creates the WebSocket API and its stage: default throttling, access logs as JSON
// to a log group with the configured retention, auto deploy. Routes come in wireRoutes,
// once the functions exist (they need the stage's callback URL).
func newAPI(s awscdk.Stack, p *Props) (awsapigatewayv2.WebSocketApi, awsapigatewayv2.WebSocketStage) {
	api := awsapigatewayv2.NewWebSocketApi(s, jsii.String("WebSocketApi"), &awsapigatewayv2.WebSocketApiProps{
		ApiName:                  jsii.String("parley-" + p.Stage),
		Description:              jsii.String("Parley chat WebSocket API (PROTOCOL.md), stage " + p.Stage),
		RouteSelectionExpression: jsii.String("$request.body.action"),
	})
	stage := awsapigatewayv2.NewWebSocketStage(s, jsii.String("Stage"), &awsapigatewayv2.WebSocketStageProps{
		WebSocketApi: api,
		StageName:    jsii.String(p.Stage),
		AutoDeploy:   jsii.Bool(true),
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  jsii.Number(p.Throttle.Rate),
			BurstLimit: jsii.Number(p.Throttle.Burst),
		},
	})
	logs := awslogs.NewLogGroup(s, jsii.String("AccessLogs"), &awslogs.LogGroupProps{
		Retention:     retentions[p.LogRetentionDays],
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	cfnStage := stage.Node().DefaultChild().(awsapigatewayv2.CfnStage)
	cfnStage.SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: logs.LogGroupArn(),
		Format:         jsii.String(accessLogFormat),
	})
	settings := map[string]interface{}{}
	for key, t := range RouteThrottles {
		settings[key] = map[string]interface{}{"ThrottlingRateLimit": t.Rate, "ThrottlingBurstLimit": t.Burst}
	}
	cfnStage.SetRouteSettings(settings)

	if p.Target == TargetAWS && !p.SkipAPIGatewayAccountRole {
		// API Gateway writes access logs through one role per account and region. This
		// sets it; an account that already has one can skip it (skipApiGatewayAccountRole).
		role := awsiam.NewRole(s, jsii.String("ApiGatewayLogsRole"), &awsiam.RoleProps{
			AssumedBy: awsiam.NewServicePrincipal(jsii.String("apigateway.amazonaws.com"), nil),
			ManagedPolicies: &[]awsiam.IManagedPolicy{
				awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("service-role/AmazonAPIGatewayPushToCloudWatchLogs")),
			},
			Description: jsii.String("API Gateway (account-wide) writes access logs to CloudWatch Logs"),
		})
		account := awsapigateway.NewCfnAccount(s, jsii.String("ApiGatewayAccount"), &awsapigateway.CfnAccountProps{
			CloudWatchRoleArn: role.RoleArn(),
		})
		cfnStage.Node().AddDependency(account)
	}
	return api, stage
}

// wireRoutes adds every route with its Lambda integration. $connect carries the REQUEST
// authorizer; every route but $connect and $disconnect has a route response, so the body
// a handler returns reaches the caller as a frame.
func wireRoutes(s awscdk.Stack, p *Props, api awsapigatewayv2.WebSocketApi, stage awsapigatewayv2.WebSocketStage, fns map[string]awslambda.Function) {
	// The authorizer has NO identity source on purpose. PROTOCOL.md §1 accepts the token
	// in the query parameter `token` (browsers cannot set headers on a WebSocket) or in
	// `Authorization: Bearer`. API Gateway rejects a request with 401, before calling the
	// authorizer, when any listed identity source is missing, so listing either one would
	// make that form mandatory and break the other. Without an identity source API
	// Gateway always calls the authorizer (and cannot cache its result, which is fine: it
	// runs once per connection); the authorizer itself answers 401 for a missing token.
	authorizer := awsapigatewayv2authorizers.NewWebSocketLambdaAuthorizer(jsii.String("Authorizer"), fns["authorizer"],
		&awsapigatewayv2authorizers.WebSocketLambdaAuthorizerProps{
			AuthorizerName: jsii.String("parley-" + p.Stage + "-jwt"),
			IdentitySource: &[]*string{},
		})

	integrations := map[string]awsapigatewayv2integrations.WebSocketLambdaIntegration{}
	keys := make([]string, 0, len(Routes))
	for k := range Routes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	cfnStage := stage.Node().DefaultChild().(awsapigatewayv2.CfnStage)
	for _, key := range keys {
		name := Routes[key]
		in, ok := integrations[name]
		if !ok {
			in = awsapigatewayv2integrations.NewWebSocketLambdaIntegration(jsii.String(pascal(name)+"Integration"), fns[name], nil)
			integrations[name] = in
		}
		opts := &awsapigatewayv2.WebSocketRouteOptions{Integration: in}
		switch key {
		case "$connect":
			opts.Authorizer = authorizer
		case "$disconnect":
		default:
			opts.ReturnResponse = jsii.Bool(true)
		}
		route := api.AddRoute(jsii.String(key), opts)
		// RouteSettings name route keys, which must exist before the stage.
		cfnStage.Node().AddDependency(route)
	}
	// Routes that API Gateway answers itself (internal/topology.MockRoutes): a MOCK
	// integration, no function, no route response (keepalive is one-way), so such a frame
	// costs one API Gateway message and nothing else.
	for _, m := range topology.MockRoutes {
		mock := awsapigatewayv2integrations.NewWebSocketMockIntegration(jsii.String(pascal(m.Key)+"MockIntegration"),
			&awsapigatewayv2integrations.WebSocketMockIntegrationProps{
				RequestTemplates:            &map[string]*string{"$default": jsii.String(`{"statusCode": 200}`)},
				TemplateSelectionExpression: jsii.String(`\$default`),
			})
		route := api.AddRoute(jsii.String(m.Key), &awsapigatewayv2.WebSocketRouteOptions{Integration: mock})
		cfnStage.Node().AddDependency(route)
	}
	// Drop the empty IdentitySource list the L2 construct renders (see above).
	for _, c := range *s.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		if r, ok := c.(awscdk.CfnResource); ok && *r.CfnResourceType() == "AWS::ApiGatewayV2::Authorizer" {
			r.AddPropertyDeletionOverride(jsii.String("IdentitySource"))
		}
	}
}
