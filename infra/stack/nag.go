package stack

import (
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Reasons for every cdk-nag AwsSolutions finding the stack accepts. Each is attached to
// the resources it concerns (never stack-wide), so a new resource with the same finding
// still fails.
const (
	reasonEphemeralTable = "Holds only short-lived state that TTL deletes (open connections and presence, " +
		"or the Keyspaces outbox): nothing to recover, and a restore would resurrect dead connections. " +
		"The data tables (Messages, Conversations) have point-in-time recovery."
	reasonSecretRotation = "HS256 token key: rotating it invalidates every issued token at once, so it is " +
		"rotated by the operator (docs/deploy.md, 'Rotating the token key'), not on a schedule."
	reasonAPIGWLogsPolicy = "AmazonAPIGatewayPushToCloudWatchLogs is AWS's purpose-made policy for API " +
		"Gateway's account-level logging role; it is required for stage access logs."
	reasonTerminalQueue = "This queue is the on-failure destination of the stream mappings: the end of the " +
		"line. Its messages are records to inspect; a DLQ of a DLQ would add nothing."
	reasonWebSocketAuth = "WebSocket APIs authorize once, on $connect (the REQUEST authorizer verifies the " +
		"JWT); API Gateway allows authorizers on $connect only. Every later route runs on that " +
		"authenticated connection and the handlers read the caller from the authorizer context."
	reasonConnections = "PostToConnection targets connection ids that exist only at run time; the resource " +
		"is limited to this API, this stage and the POST method."
	reasonListStreams = "dynamodb:ListStreams (granted by the stream event source) has no resource-level " +
		"permissions; the stream reads themselves are limited to the table streams."
	reasonKeyspaceTables = "Limited to the tables of this stack's keyspace; the table names are fixed by the " +
		"message store's schema."
	reasonKeyspaceSystem = "The Cassandra driver reads cluster metadata from the system keyspaces " +
		"(system, system_schema, system_schema_mcs...) on connect; read-only."
)

func suppression(id, reason string, appliesTo ...string) *cdknag.NagPackSuppression {
	s := &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		at := make([]interface{}, 0, len(appliesTo))
		for _, a := range appliesTo {
			at = append(at, &cdknag.RegexAppliesTo{Regex: jsii.String(a)})
		}
		s.AppliesTo = &at
	}
	return s
}

// suppress records, next to the resources, why each remaining cdk-nag AwsSolutions
// finding is accepted.
func suppress(s *Stack) {
	add := func(construct interface{}, children bool, sup ...*cdknag.NagPackSuppression) {
		cdknag.NagSuppressions_AddResourceSuppressions(construct, &sup, jsii.Bool(children))
	}
	for _, def := range tableDefs(s.Props.MessageStore) {
		if !def.Data {
			add(s.Tables[def.ID], true, suppression("AwsSolutions-DDB3", reasonEphemeralTable))
		}
	}
	if c := s.Node().TryFindChild(jsii.String("JwtSecret")); c != nil && s.Props.JWTSecretARN == "" {
		add(c, true, suppression("AwsSolutions-SMG4", reasonSecretRotation))
	}
	if c := s.Node().TryFindChild(jsii.String("ApiGatewayLogsRole")); c != nil {
		add(c, true, suppression("AwsSolutions-IAM4", reasonAPIGWLogsPolicy, `/AmazonAPIGatewayPushToCloudWatchLogs$/`))
	}
	if c := s.Node().TryFindChild(jsii.String("FanoutFailures")); c != nil {
		add(c, true, suppression("AwsSolutions-SQS3", reasonTerminalQueue))
	}
	if s.API != nil {
		add(s.API, true, suppression("AwsSolutions-APIG4", reasonWebSocketAuth))
	}
	for name, fn := range s.Functions {
		a := Access[name]
		var sup []*cdknag.NagPackSuppression
		if a.Push && s.API != nil {
			sup = append(sup, suppression("AwsSolutions-IAM5", reasonConnections, `/:execute-api:.*\/POST\/@connections\/\*$/`))
		}
		if name == "fanout" {
			sup = append(sup, suppression("AwsSolutions-IAM5", reasonListStreams, `/^Resource::\*$/`))
		}
		if s.Props.MessageStore == StoreKeyspaces && name != "authorizer" {
			sup = append(sup, suppression("AwsSolutions-IAM5", reasonKeyspaceSystem, `/:\/keyspace\/system\*$/`))
			if a.Keyspaces != "" {
				sup = append(sup, suppression("AwsSolutions-IAM5", reasonKeyspaceTables, `/:\/keyspace\/`+s.Props.KeyspaceName+`\/table\/\*$/`))
			}
		}
		if len(sup) > 0 {
			add(fn.Role(), true, sup...)
		}
	}
}
