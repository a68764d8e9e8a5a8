package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"

	"github.com/parleychat/parley/internal/schema"
	"github.com/parleychat/parley/internal/topology"
)

// TestTablesMatchSchema compares every DynamoDB table in the template with its
// internal/schema definition, field by field, both ways: a table, key, index, TTL or
// stream that differs, is missing or is extra fails.
func TestTablesMatchSchema(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store string
	}{{"default", StoreDynamoDB}, {"keyspaces", StoreKeyspaces}} {
		t.Run(tc.name, func(t *testing.T) {
			v := variantFor(t, tc.name)
			want := map[string]schema.Table{}
			for _, d := range tableDefs(tc.store) {
				want[v.tableID(d.ID)] = d
			}
			got := v.resources("AWS::DynamoDB::Table")
			if len(got) != len(want) {
				t.Fatalf("template has %d tables, schema (%s store) wants %d", len(got), tc.store, len(want))
			}
			for id, r := range got {
				def, ok := want[id]
				if !ok {
					t.Fatalf("table %s is not in internal/schema", id)
				}
				p := props(r)
				if diff := compareTable(def, p); diff != "" {
					t.Errorf("table %s (%s) differs from internal/schema: %s", def.ID, id, diff)
				}
			}
		})
	}
}

func variantFor(t *testing.T, name string) *synthesized {
	switch name {
	case "keyspaces":
		return keyspacesVariant(t)
	default:
		return defaultVariant(t)
	}
}

func keyspacesVariant(t *testing.T) *synthesized {
	return variant(t, "keyspaces", func(p *Props) { p.MessageStore = StoreKeyspaces })
}

// compareTable returns "" when the CloudFormation table properties express def exactly.
func compareTable(def schema.Table, p map[string]any) string {
	var diffs []string
	d := func(format string, a ...any) { diffs = append(diffs, fmt.Sprintf(format, a...)) }

	keySchema := func(pk, sk schema.Attribute) []any {
		ks := []any{map[string]any{"AttributeName": pk.Name, "KeyType": "HASH"}}
		if sk.Name != "" {
			ks = append(ks, map[string]any{"AttributeName": sk.Name, "KeyType": "RANGE"})
		}
		return ks
	}
	if got, want := p["KeySchema"], keySchema(def.PartitionKey, def.SortKey); !reflect.DeepEqual(got, want) {
		d("KeySchema %v, want %v", got, want)
	}
	wantAttrs := map[string]string{def.PartitionKey.Name: string(def.PartitionKey.Type)}
	if def.SortKey.Name != "" {
		wantAttrs[def.SortKey.Name] = string(def.SortKey.Type)
	}
	for _, ix := range def.Indexes {
		wantAttrs[ix.PartitionKey.Name] = string(ix.PartitionKey.Type)
		if ix.SortKey.Name != "" {
			wantAttrs[ix.SortKey.Name] = string(ix.SortKey.Type)
		}
	}
	gotAttrs := map[string]string{}
	for _, a := range p["AttributeDefinitions"].([]any) {
		m := a.(map[string]any)
		gotAttrs[m["AttributeName"].(string)] = m["AttributeType"].(string)
	}
	if !reflect.DeepEqual(gotAttrs, wantAttrs) {
		d("AttributeDefinitions %v, want %v", gotAttrs, wantAttrs)
	}
	wantGSI := map[string]any{}
	for _, ix := range def.Indexes {
		wantGSI[ix.Name] = map[string]any{
			"IndexName":  ix.Name,
			"KeySchema":  keySchema(ix.PartitionKey, ix.SortKey),
			"Projection": map[string]any{"ProjectionType": "ALL"},
		}
	}
	gotGSI := map[string]any{}
	if l, ok := p["GlobalSecondaryIndexes"].([]any); ok {
		for _, g := range l {
			m := g.(map[string]any)
			gotGSI[m["IndexName"].(string)] = m
		}
	}
	if !reflect.DeepEqual(gotGSI, wantGSI) {
		d("GlobalSecondaryIndexes %v, want %v", gotGSI, wantGSI)
	}
	var gotTTL string
	if ttl, ok := p["TimeToLiveSpecification"].(map[string]any); ok && ttl["Enabled"] == true {
		gotTTL = ttl["AttributeName"].(string)
	}
	if gotTTL != def.TTLAttribute {
		d("TTL attribute %q, want %q", gotTTL, def.TTLAttribute)
	}
	var gotStream string
	if st, ok := p["StreamSpecification"].(map[string]any); ok {
		gotStream = st["StreamViewType"].(string)
	}
	if gotStream != string(def.Stream) {
		d("stream %q, want %q", gotStream, def.Stream)
	}
	if p["BillingMode"] != "PAY_PER_REQUEST" {
		d("BillingMode %v, want PAY_PER_REQUEST", p["BillingMode"])
	}
	pitr := false
	if s, ok := p["PointInTimeRecoverySpecification"].(map[string]any); ok {
		pitr = s["PointInTimeRecoveryEnabled"] == true
	}
	if pitr != def.Data {
		d("point-in-time recovery %v, want %v (Data)", pitr, def.Data)
	}
	return strings.Join(diffs, "; ")
}

func TestTablesRetention(t *testing.T) {
	check := func(t *testing.T, v *synthesized, wantData string) {
		for _, def := range tableDefs(v.stack.Props.MessageStore) {
			r := v.resources("AWS::DynamoDB::Table")[v.tableID(def.ID)]
			want := "Delete"
			if def.Data {
				want = wantData
			}
			if r["DeletionPolicy"] != want || r["UpdateReplacePolicy"] != want {
				t.Errorf("%s: DeletionPolicy %v UpdateReplacePolicy %v, want %s", def.ID, r["DeletionPolicy"], r["UpdateReplacePolicy"], want)
			}
		}
	}
	t.Run("retained by default", func(t *testing.T) {
		v := defaultVariant(t)
		check(t, v, "Retain")
		v.has(t, "AWS::DynamoDB::Table", map[string]any{
			"KeySchema":                        assertions.Match_ArrayWith(&[]any{map[string]any{"AttributeName": "conversationId", "KeyType": "HASH"}}),
			"DeletionProtectionEnabled":        true,
			"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
			"StreamSpecification":              map[string]any{"StreamViewType": "NEW_IMAGE"},
		})
	})
	t.Run("destroyData", func(t *testing.T) { check(t, altVariant(t), "Delete") })
}

// altVariant: OIDC auth, an alarm e-mail, destroyData, no account-wide logging role, the
// inline path off.
func altVariant(t *testing.T) *synthesized {
	return variant(t, "alt", func(p *Props) {
		off := 0
		p.InlineMaxMembers = &off
		p.Stage = "dev"
		p.AuthMode = AuthOIDC
		p.OIDCIssuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example"
		p.OIDCAudience = "client123"
		p.AlarmEmail = "ops@example.com"
		p.DestroyData = true
		p.SkipAPIGatewayAccountRole = true
		p.LogRetentionDays = 14
		p.LogLevel = "debug"
	})
}

func TestFunctions(t *testing.T) {
	v := defaultVariant(t)
	fns := v.resources("AWS::Lambda::Function")
	if len(fns) != len(Functions) {
		t.Fatalf("%d functions, want %d", len(fns), len(Functions))
	}
	for _, name := range Functions {
		t.Run(name, func(t *testing.T) {
			p := props(fns[v.functionID(t, name)])
			size, _ := topology.Lookup(name)
			want := map[string]any{
				"Runtime":       "provided.al2023",
				"Architectures": []any{"arm64"},
				"Handler":       "bootstrap",
				"MemorySize":    float64(size.MemoryMB),
				"Timeout":       size.Timeout.Seconds(),
			}
			for k, w := range want {
				if !reflect.DeepEqual(p[k], w) {
					t.Errorf("%s = %v, want %v", k, p[k], w)
				}
			}
			lc := p["LoggingConfig"].(map[string]any)
			if lc["LogFormat"] != "JSON" {
				t.Errorf("LogFormat %v, want JSON", lc["LogFormat"])
			}
			lgID := lc["LogGroup"].(map[string]any)["Ref"].(string)
			lg := v.resources("AWS::Logs::LogGroup")[lgID]
			if props(lg)["RetentionInDays"] != float64(30) {
				t.Errorf("log group retention %v, want 30", props(lg)["RetentionInDays"])
			}
			env := p["Environment"].(map[string]any)["Variables"].(map[string]any)
			for _, k := range []string{"TABLE_MESSAGES", "TABLE_CONVERSATIONS", "TABLE_CONNECTIONS", "MESSAGE_STORE", "MANAGEMENT_ENDPOINT", "AUTH_MODE", "JWT_SECRET_ARN", "LOG_LEVEL"} {
				if _, ok := env[k]; !ok {
					t.Errorf("environment lacks %s", k)
				}
			}
			if env["MESSAGE_STORE"] != "dynamodb" || env["AUTH_MODE"] != "hs256" || env["LOG_LEVEL"] != "info" {
				t.Errorf("environment %v", env)
			}
			if _, ok := env["TABLE_OUTBOX"]; ok {
				t.Errorf("TABLE_OUTBOX set with the DynamoDB store")
			}
			if got := render(env["TABLE_MESSAGES"]); got != "${"+v.tableID(schema.MessagesID)+"}" {
				t.Errorf("TABLE_MESSAGES = %s", got)
			}
			me := render(env["MANAGEMENT_ENDPOINT"])
			if !regexp.MustCompile(`^https://\$\{WebSocketApi[0-9A-F]+\}\.execute-api\.\$\{AWS::Region\}\.\$\{AWS::URLSuffix\}/prod$`).MatchString(me) {
				t.Errorf("MANAGEMENT_ENDPOINT = %s", me)
			}
		})
	}
	v.has(t, "AWS::Lambda::Function", map[string]any{
		"Runtime": "provided.al2023", "Architectures": []any{"arm64"}, "MemorySize": 1024, "Timeout": 60,
		"LoggingConfig": assertions.Match_ObjectLike(&map[string]any{"LogFormat": "JSON"}),
	})
}

func TestRoutes(t *testing.T) {
	v := defaultVariant(t)
	routes := v.resources("AWS::ApiGatewayV2::Route")
	integrations := v.resources("AWS::ApiGatewayV2::Integration")
	responses := v.resources("AWS::ApiGatewayV2::RouteResponse")
	byKey := map[string]string{}
	for id, r := range routes {
		byKey[props(r)["RouteKey"].(string)] = id
	}
	var wantKeys, gotKeys []string
	for k := range Routes {
		wantKeys = append(wantKeys, k)
	}
	wantKeys = append(wantKeys, topology.MockActions()...)
	for k := range byKey {
		gotKeys = append(gotKeys, k)
	}
	sort.Strings(wantKeys)
	sort.Strings(gotKeys)
	if !reflect.DeepEqual(gotKeys, wantKeys) {
		t.Fatalf("route keys %v, want %v", gotKeys, wantKeys)
	}
	api := props(v.resources("AWS::ApiGatewayV2::Api")[*v.stack.GetLogicalId(v.stack.API.Node().DefaultChild().(awscdk.CfnElement))])
	if api["ProtocolType"] != "WEBSOCKET" || api["RouteSelectionExpression"] != "$request.body.action" {
		t.Errorf("API %v", api)
	}
	for key, fn := range Routes {
		p := props(routes[byKey[key]])
		// Target is integrations/<integration id>; the integration must invoke fn.
		target := render(p["Target"])
		m := regexp.MustCompile(`^integrations/\$\{(\w+)\}$`).FindStringSubmatch(target)
		if m == nil {
			t.Errorf("%s: target %s", key, target)
			continue
		}
		uri := render(props(integrations[m[1]])["IntegrationUri"])
		if !strings.Contains(uri, "${"+v.functionID(t, fn)+".Arn}") {
			t.Errorf("%s: integration %s, want function %s", key, uri, fn)
		}
		hasResponse := false
		for _, r := range responses {
			rp := props(r)
			if render(rp["RouteId"]) == "${"+byKey[key]+"}" && rp["RouteResponseKey"] == "$default" {
				hasResponse = true
			}
		}
		wantResponse := key != "$connect" && key != "$disconnect"
		if hasResponse != wantResponse {
			t.Errorf("%s: route response %v, want %v", key, hasResponse, wantResponse)
		}
		if wantResponse && p["RouteResponseSelectionExpression"] != "$default" {
			t.Errorf("%s: RouteResponseSelectionExpression %v", key, p["RouteResponseSelectionExpression"])
		}
		if key == "$connect" {
			if p["AuthorizationType"] != "CUSTOM" || p["AuthorizerId"] == nil {
				t.Errorf("$connect: authorization %v %v, want CUSTOM with an authorizer", p["AuthorizationType"], p["AuthorizerId"])
			}
		} else if p["AuthorizationType"] != "NONE" {
			t.Errorf("%s: AuthorizationType %v, want NONE (WebSocket APIs authorize on $connect)", key, p["AuthorizationType"])
		}
	}
	v.has(t, "AWS::ApiGatewayV2::Route", map[string]any{
		"RouteKey": "send", "RouteResponseSelectionExpression": "$default",
	})
	// Mock routes: a MOCK integration, no function, no route response.
	for _, key := range topology.MockActions() {
		p := props(routes[byKey[key]])
		m := regexp.MustCompile(`^integrations/\$\{(\w+)\}$`).FindStringSubmatch(render(p["Target"]))
		if m == nil {
			t.Fatalf("%s: target %v", key, p["Target"])
		}
		in := props(integrations[m[1]])
		if in["IntegrationType"] != "MOCK" || (in["IntegrationUri"] != nil && in["IntegrationUri"] != "") {
			t.Errorf("%s: integration %v, want MOCK without a URI", key, in)
		}
		for _, r := range responses {
			if render(props(r)["RouteId"]) == "${"+byKey[key]+"}" {
				t.Errorf("%s: has a route response, want none (one-way)", key)
			}
		}
		if p["RouteResponseSelectionExpression"] != nil {
			t.Errorf("%s: RouteResponseSelectionExpression %v, want none", key, p["RouteResponseSelectionExpression"])
		}
	}
}

func TestAuthorizer(t *testing.T) {
	v := defaultVariant(t)
	v.count(t, "AWS::ApiGatewayV2::Authorizer", 1)
	// No IdentitySource: both token forms (query `token`, Authorization header) must reach
	// the authorizer; an identity source would make its form mandatory.
	v.has(t, "AWS::ApiGatewayV2::Authorizer", map[string]any{
		"AuthorizerType": "REQUEST",
		"IdentitySource": assertions.Match_Absent(),
		"AuthorizerUri": assertions.Match_ObjectLike(&map[string]any{
			"Fn::Join": assertions.Match_ArrayWith(&[]any{assertions.Match_ArrayWith(&[]any{
				map[string]any{"Fn::GetAtt": []any{v.functionID(t, "authorizer"), "Arn"}},
			})}),
		}),
	})
	v.has(t, "AWS::Lambda::Permission", map[string]any{
		"Action":       "lambda:InvokeFunction",
		"FunctionName": map[string]any{"Fn::GetAtt": []any{v.functionID(t, "authorizer"), "Arn"}},
		"Principal":    "apigateway.amazonaws.com",
	})
}

func TestStage(t *testing.T) {
	v := defaultVariant(t)
	routeSettings := map[string]any{}
	for k, th := range RouteThrottles {
		routeSettings[k] = map[string]any{"ThrottlingRateLimit": th.Rate, "ThrottlingBurstLimit": th.Burst}
	}
	v.has(t, "AWS::ApiGatewayV2::Stage", map[string]any{
		"StageName":            "prod",
		"AutoDeploy":           true,
		"DefaultRouteSettings": map[string]any{"ThrottlingRateLimit": 500, "ThrottlingBurstLimit": 1000},
		"RouteSettings":        routeSettings,
		"AccessLogSettings": map[string]any{
			"DestinationArn": map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^AccessLogs")), "Arn"}},
			"Format":         assertions.Match_StringLikeRegexp(jsii.String(`"requestId":"\$context.requestId"`)),
		},
	})
	var format map[string]any
	if err := json.Unmarshal([]byte(accessLogFormat), &format); err != nil {
		t.Fatalf("access log format is not JSON: %v", err)
	}
	// Route settings name routes: the stage must be created after every route.
	for id, r := range v.resources("AWS::ApiGatewayV2::Stage") {
		deps := map[string]bool{}
		for _, d := range list(r["DependsOn"]) {
			deps[fmt.Sprint(d)] = true
		}
		for rid := range v.resources("AWS::ApiGatewayV2::Route") {
			if !deps[rid] {
				t.Errorf("stage %s does not depend on route %s", id, rid)
			}
		}
	}
	v.has(t, "AWS::ApiGateway::Account", map[string]any{
		"CloudWatchRoleArn": assertions.Match_AnyValue(),
	})
	altVariant(t).count(t, "AWS::ApiGateway::Account", 0)
}

func TestMappings(t *testing.T) {
	v := defaultVariant(t)
	fanout := v.functionID(t, "fanout")
	queue := *v.stack.GetLogicalId(v.stack.Node().FindChild(jsii.String("FanoutFailures")).Node().DefaultChild().(awscdk.CfnElement))
	check := func(t *testing.T, m topology.Mapping, pattern map[string]any) {
		v.has(t, "AWS::Lambda::EventSourceMapping", map[string]any{
			"FunctionName":                   map[string]any{"Ref": fanout},
			"EventSourceArn":                 map[string]any{"Fn::GetAtt": []any{v.tableID(m.Table), "StreamArn"}},
			"StartingPosition":               "LATEST",
			"BatchSize":                      m.BatchSize,
			"MaximumBatchingWindowInSeconds": m.BatchWindow.Seconds(),
			"ParallelizationFactor":          m.Parallelization,
			"BisectBatchOnFunctionError":     true,
			"MaximumRetryAttempts":           m.RetryAttempts,
			"MaximumRecordAgeInSeconds":      m.MaxRecordAge.Seconds(),
			"FunctionResponseTypes":          []any{"ReportBatchItemFailures"},
			"DestinationConfig": map[string]any{"OnFailure": map[string]any{
				"Destination": map[string]any{"Fn::GetAtt": []any{queue, "Arn"}},
			}},
			"FilterCriteria": map[string]any{"Filters": []any{map[string]any{"Pattern": assertions.Match_SerializedJson(pattern)}}},
		})
	}
	t.Run("messages", func(t *testing.T) {
		check(t, mapping(t, "messages"), map[string]any{"eventName": []any{"INSERT"}})
	})
	t.Run("presence expiry", func(t *testing.T) {
		check(t, mapping(t, "presence-expiry"), map[string]any{
			"eventName":    []any{"REMOVE"},
			"userIdentity": map[string]any{"type": []any{"Service"}, "principalId": []any{"dynamodb.amazonaws.com"}},
			"dynamodb":     map[string]any{"Keys": map[string]any{"sk": map[string]any{"S": []any{"#presence"}}}},
		})
	})
	v.count(t, "AWS::Lambda::EventSourceMapping", 2)
	v.has(t, "AWS::SQS::Queue", map[string]any{
		"MessageRetentionPeriod": 14 * 24 * 3600, "SqsManagedSseEnabled": true,
	})
	// The pattern in the template is what Lambda matches: check that it parses as JSON.
	for _, r := range v.resources("AWS::Lambda::EventSourceMapping") {
		for _, f := range props(r)["FilterCriteria"].(map[string]any)["Filters"].([]any) {
			var x map[string]any
			if err := json.Unmarshal([]byte(f.(map[string]any)["Pattern"].(string)), &x); err != nil {
				t.Errorf("filter pattern is not JSON: %v", err)
			}
		}
	}
}

// TestLeastPrivilege checks every function's complete set of actions per resource.
func TestLeastPrivilege(t *testing.T) {
	v := defaultVariant(t)
	conv, conn, msgs := v.tableID(schema.ConversationsID), v.tableID(schema.ConnectionsID), v.tableID(schema.MessagesID)
	read := []string{"dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Query"}
	rw := []string{"dynamodb:BatchGetItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"}
	stream := []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}
	want := map[string]map[string][]string{
		"authorizer":    {},
		"connect":       {conn: rw, conv: read},
		"disconnect":    {conn: rw, conv: read},
		"presence":      {conn: rw, conv: read},
		"send":          {conn: rw, conv: {"dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"}, msgs: {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}},
		"receipts":      {conn: rw, conv: {"dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"}, msgs: {"dynamodb:GetItem"}},
		"history":       {conn: rw, conv: read, msgs: {"dynamodb:Query"}},
		"conversations": {conn: rw, conv: rw, msgs: {"dynamodb:Query"}},
		"fanout":        {conn: append(append([]string{}, rw...), stream...), conv: read, msgs: stream},
	}
	for name, tables := range want {
		t.Run(name, func(t *testing.T) {
			ss := v.statements(t, name)
			for _, id := range []string{conv, conn, msgs} {
				got := actionsOn(ss, "${"+id+".")
				w := append([]string{}, tables[id]...)
				sort.Strings(w)
				if len(w) == 0 {
					w = []string{}
				}
				if !reflect.DeepEqual(got, w) {
					t.Errorf("actions on %s: %v, want %v", id, got, w)
				}
			}
			push := actionsOn(ss, "execute-api")
			if name == "authorizer" {
				if len(push) != 0 {
					t.Errorf("authorizer may push: %v", push)
				}
			} else if !reflect.DeepEqual(push, []string{"execute-api:ManageConnections"}) {
				t.Errorf("execute-api actions %v", push)
			}
			for _, s := range ss {
				switch {
				case s.Action == "execute-api:ManageConnections":
					re := `^arn:\$\{AWS::Partition\}:execute-api:\$\{AWS::Region\}:\$\{AWS::AccountId\}:\$\{WebSocketApi[0-9A-F]+\}/prod/POST/@connections/\*$`
					if !regexp.MustCompile(re).MatchString(s.Resource) {
						t.Errorf("ManageConnections on %s: want this API's prod stage connections only", s.Resource)
					}
				case strings.HasPrefix(s.Action, "secretsmanager:"):
					if name != "authorizer" {
						t.Errorf("%s may read the JWT secret", name)
					}
				case s.Resource == "*" && s.Action != "dynamodb:ListStreams":
					t.Errorf("%s on *", s.Action)
				case strings.HasSuffix(s.Action, ":*"):
					t.Errorf("wildcard action %s", s.Action)
				}
				if strings.Contains(s.Resource, "/index/") && !strings.HasSuffix(s.Resource, "/index/"+schema.IndexByUser) {
					t.Errorf("index resource %s: want the named index only", s.Resource)
				}
			}
			logs := actionsOn(ss, "Logs")
			if !reflect.DeepEqual(logs, []string{"logs:CreateLogStream", "logs:PutLogEvents"}) {
				t.Errorf("log actions %v", logs)
			}
		})
	}
	secret := actionsOn(v.statements(t, "authorizer"), "JwtSecret")
	if !reflect.DeepEqual(secret, []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"}) {
		t.Errorf("authorizer secret actions %v", secret)
	}
	// No managed policies on function roles.
	for _, name := range Functions {
		role := *v.stack.GetLogicalId(v.stack.Functions[name].Role().Node().DefaultChild().(awscdk.CfnElement))
		if mp := props(v.resources("AWS::IAM::Role")[role])["ManagedPolicyArns"]; mp != nil {
			t.Errorf("%s role has managed policies %v", name, mp)
		}
	}
}

func TestAlarms(t *testing.T) {
	v := defaultVariant(t)
	alarms := v.resources("AWS::CloudWatch::Alarm")
	metrics := map[string]bool{}
	for _, a := range alarms {
		p := props(a)
		if n, ok := p["MetricName"].(string); ok {
			metrics[n] = true
		}
		for _, m := range list(p["Metrics"]) {
			if mm, ok := m.(map[string]any); ok {
				if ms, ok := mm["MetricStat"].(map[string]any); ok {
					metrics[ms["Metric"].(map[string]any)["MetricName"].(string)] = true
				}
			}
		}
		if len(list(p["AlarmActions"])) != 1 {
			t.Errorf("alarm %v has no action", p["AlarmDescription"])
		}
	}
	for _, m := range []string{"Errors", "IteratorAge", "ApproximateNumberOfMessagesVisible", "Throttles", "ExecutionError", "IntegrationError"} {
		if !metrics[m] {
			t.Errorf("no alarm on %s (alarms watch %v)", m, metrics)
		}
	}
	v.has(t, "AWS::CloudWatch::Alarm", map[string]any{
		"MetricName": "IteratorAge", "Namespace": "AWS/Lambda", "Statistic": "Maximum",
		"Threshold": IteratorAgeAlarmMillis, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
		"Dimensions": []any{map[string]any{"Name": "FunctionName", "Value": map[string]any{"Ref": v.functionID(t, "fanout")}}},
	})
	v.count(t, "AWS::SNS::Subscription", 0)
	altVariant(t).has(t, "AWS::SNS::Subscription", map[string]any{
		"Protocol": "email", "Endpoint": "ops@example.com",
	})
}

func TestOutputs(t *testing.T) {
	v := defaultVariant(t)
	outs := v.json["Outputs"].(map[string]any)
	for _, k := range []string{"WebSocketUrl", "ManagementEndpoint", "MessagesTableName", "ConversationsTableName", "ConnectionsTableName", "JwtSecretArn", "FanoutFailuresQueueUrl", "AlarmTopicArn"} {
		if _, ok := outs[k]; !ok {
			t.Errorf("no output %s (have %v)", k, keys(outs))
		}
	}
	url := render(outs["WebSocketUrl"].(map[string]any)["Value"])
	if !regexp.MustCompile(`^wss://\$\{WebSocketApi[0-9A-F]+\}\.execute-api\.\$\{AWS::Region\}\.\$\{AWS::URLSuffix\}/prod$`).MatchString(url) {
		t.Errorf("WebSocketUrl = %s", url)
	}
	v.hasOutput(t, "MessagesTableName", map[string]any{"Value": map[string]any{"Ref": v.tableID(schema.MessagesID)}})
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestOIDC(t *testing.T) {
	v := altVariant(t)
	v.count(t, "AWS::SecretsManager::Secret", 0)
	v.has(t, "AWS::Lambda::Function", map[string]any{
		"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{
			"AUTH_MODE":     "oidc",
			"OIDC_ISSUER":   "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example",
			"OIDC_AUDIENCE": "client123",
			"LOG_LEVEL":     "debug",
		})},
	})
	for _, r := range v.resources("AWS::Lambda::Function") {
		if _, ok := props(r)["Environment"].(map[string]any)["Variables"].(map[string]any)["JWT_SECRET_ARN"]; ok {
			t.Errorf("JWT_SECRET_ARN set in OIDC mode")
		}
	}
	v.all(t, "AWS::Logs::LogGroup", map[string]any{"RetentionInDays": 14})
	v.has(t, "AWS::ApiGatewayV2::Stage", map[string]any{"StageName": "dev"})
}

func TestExistingSecret(t *testing.T) {
	arn := "arn:aws:secretsmanager:eu-west-1:123456789012:secret:parley-jwt-AbCdEf"
	v := variant(t, "secret", func(p *Props) { p.JWTSecretARN = arn })
	v.count(t, "AWS::SecretsManager::Secret", 0)
	got := actionsOn(v.statements(t, "authorizer"), arn)
	if !reflect.DeepEqual(got, []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"}) {
		t.Errorf("authorizer actions on the given secret: %v", got)
	}
}

func TestKeyspaces(t *testing.T) {
	v := keyspacesVariant(t)
	v.has(t, "AWS::Cassandra::Keyspace", map[string]any{"KeyspaceName": "parley_prod"})
	v.count(t, "AWS::Cassandra::Table", len(KeyspacesTables))
	v.has(t, "AWS::Cassandra::Table", map[string]any{
		"TableName":           "messages",
		"PartitionKeyColumns": []any{map[string]any{"ColumnName": "conversation_id", "ColumnType": "text"}},
		"ClusteringKeyColumns": []any{map[string]any{
			"Column": map[string]any{"ColumnName": "message_id", "ColumnType": "text"}, "OrderBy": "DESC",
		}},
		"RegularColumns":             assertions.Match_ArrayWith(&[]any{map[string]any{"ColumnName": "body", "ColumnType": "text"}}),
		"BillingMode":                map[string]any{"Mode": "ON_DEMAND"},
		"PointInTimeRecoveryEnabled": true,
	})
	for _, name := range []string{"reservations", "cursors"} {
		v.has(t, "AWS::Cassandra::Table", map[string]any{"TableName": name})
	}
	v.hasResource(t, "AWS::Cassandra::Keyspace", map[string]any{"DeletionPolicy": "Retain"})
	v.has(t, "AWS::Lambda::Function", map[string]any{
		"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{
			"MESSAGE_STORE":      "keyspaces",
			"KEYSPACES_KEYSPACE": "parley_prod",
			"KEYSPACES_HOSTS":    map[string]any{"Fn::Join": []any{"", []any{"cassandra.", map[string]any{"Ref": "AWS::Region"}, ".", map[string]any{"Ref": "AWS::URLSuffix"}}}},
			"KEYSPACES_PORT":     "9142",
			"TABLE_OUTBOX":       map[string]any{"Ref": v.tableID(schema.OutboxID)},
		})},
	})
	// Fan-out reads the Outbox stream instead of Messages.
	v.has(t, "AWS::Lambda::EventSourceMapping", map[string]any{
		"EventSourceArn":        map[string]any{"Fn::GetAtt": []any{v.tableID(schema.OutboxID), "StreamArn"}},
		"FilterCriteria":        map[string]any{"Filters": []any{map[string]any{"Pattern": assertions.Match_SerializedJson(map[string]any{"eventName": []any{"INSERT"}})}}},
		"FunctionResponseTypes": []any{"ReportBatchItemFailures"},
	})
	ksRes := "arn:${AWS::Partition}:cassandra:${AWS::Region}:${AWS::AccountId}:/keyspace/parley_prod/"
	for name, want := range map[string][]string{
		"send":          {"cassandra:Modify", "cassandra:Select"},
		"receipts":      {"cassandra:Modify", "cassandra:Select"},
		"history":       {"cassandra:Select"},
		"conversations": {"cassandra:Select"},
		"connect":       nil,
		"fanout":        nil,
		"authorizer":    nil,
	} {
		ss := v.statements(t, name)
		got := actionsOn(ss, ksRes)
		if len(want) == 0 {
			want = []string{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: keyspace actions %v, want %v", name, got, want)
		}
		for _, s := range ss {
			if strings.HasPrefix(s.Action, "cassandra:") && !strings.Contains(s.Resource, ":/keyspace/parley_prod/") &&
				!strings.HasSuffix(s.Resource, ":/keyspace/system*") {
				t.Errorf("%s: %s on %s, outside the keyspace", name, s.Action, s.Resource)
			}
		}
		system := actionsOn(ss, ":/keyspace/system*")
		if wantSystem := name != "authorizer"; wantSystem != reflect.DeepEqual(system, []string{"cassandra:Select"}) {
			t.Errorf("%s: system keyspace actions %v (want Select: %v)", name, system, wantSystem)
		}
		outbox := actionsOn(ss, "${"+v.tableID(schema.OutboxID)+".")
		wantOutbox := []string{}
		if name == "send" {
			wantOutbox = []string{"dynamodb:PutItem"}
		}
		if name == "fanout" {
			wantOutbox = []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}
		}
		if !reflect.DeepEqual(outbox, wantOutbox) {
			t.Errorf("%s: Outbox actions %v, want %v", name, outbox, wantOutbox)
		}
	}
}

func TestLocalStack(t *testing.T) {
	t.Run("full", func(t *testing.T) {
		v := variant(t, "localstack", func(p *Props) { p.Target = TargetLocalStack })
		v.count(t, "AWS::Lambda::Function", len(Functions))
		v.count(t, "AWS::ApiGatewayV2::Api", 1)
		v.count(t, "AWS::ApiGateway::Account", 0)
		for _, r := range v.resources("AWS::DynamoDB::Table") {
			if r["DeletionPolicy"] != "Delete" {
				t.Errorf("LocalStack table DeletionPolicy %v, want Delete", r["DeletionPolicy"])
			}
		}
	})
	t.Run("hybrid", func(t *testing.T) {
		v := variant(t, "hybrid", func(p *Props) {
			p.Target = TargetLocalStackHybrid
			p.ManagementEndpoint = "http://172.17.0.1:8080"
		})
		v.count(t, "AWS::Lambda::Function", 1)
		v.count(t, "AWS::ApiGatewayV2::Api", 0)
		v.count(t, "AWS::Lambda::EventSourceMapping", 2)
		for _, def := range tableDefs(StoreDynamoDB) {
			// `parley local` names its tables parley-<ID>.
			v.has(t, "AWS::DynamoDB::Table", map[string]any{"TableName": "parley-" + def.ID})
		}
		v.has(t, "AWS::Lambda::Function", map[string]any{
			"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{
				"MANAGEMENT_ENDPOINT": "http://172.17.0.1:8080",
				"TABLE_MESSAGES":      map[string]any{"Ref": v.tableID(schema.MessagesID)},
			})},
		})
		for _, s := range v.statements(t, "fanout") {
			if strings.Contains(s.Action, "execute-api") {
				t.Errorf("hybrid fanout has %s", s.Action)
			}
		}
	})
}

// TestNag: cdk-nag's AwsSolutions pack finds no unsuppressed error or warning in any
// variant, and every suppression carries a reason.
func TestNag(t *testing.T) {
	for _, name := range []string{"default", "alt", "keyspaces", "localstack", "hybrid", "secret", "notify-default", "notify-none"} {
		v := namedVariant(t, name)
		t.Run(name, func(t *testing.T) {
			ann := assertions.Annotations_FromStack(v.stack.Stack)
			for _, kind := range []string{"error", "warning"} {
				var found *[]*cxapi.SynthesisMessage
				if kind == "error" {
					found = ann.FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
				} else {
					found = ann.FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
				}
				for _, f := range *found {
					t.Errorf("cdk-nag %s: %s %s", kind, *f.Id, truncate(fmt.Sprint(f.Entry.Data), 300))
				}
			}
			n := 0
			for _, r := range v.json["Resources"].(map[string]any) {
				md, _ := r.(map[string]any)["Metadata"].(map[string]any)
				nag, _ := md["cdk_nag"].(map[string]any)
				for _, s := range list(nag["rules_to_suppress"]) {
					if s == nil {
						continue
					}
					n++
					if reason, _ := s.(map[string]any)["reason"].(string); len(reason) < 40 {
						t.Errorf("suppression %v has no real reason", s)
					}
				}
			}
			if name == "default" && n == 0 {
				t.Errorf("no suppressions found: the check is not looking in the right place")
			}
		})
	}
}

func namedVariant(t *testing.T, name string) *synthesized {
	switch name {
	case "default":
		return defaultVariant(t)
	case "alt":
		return altVariant(t)
	case "keyspaces":
		return keyspacesVariant(t)
	case "localstack":
		return variant(t, "localstack", func(p *Props) { p.Target = TargetLocalStack })
	case "hybrid":
		return variant(t, "hybrid", func(p *Props) {
			p.Target = TargetLocalStackHybrid
			p.ManagementEndpoint = "http://172.17.0.1:8080"
		})
	case "notify-default":
		return notifyDefaultVariant(t)
	case "notify-none":
		return notifyNoneVariant(t)
	case "secret":
		return variant(t, "secret", func(p *Props) {
			p.JWTSecretARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:parley-jwt-AbCdEf"
		})
	}
	t.Fatalf("unknown variant %s", name)
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// TestCfnLint runs the pinned cfn-lint (scripts/cfn-lint.sh installs it on first use)
// over the synthesized templates.
func TestCfnLint(t *testing.T) {
	if testing.Short() {
		t.Skip("cfn-lint installs from PyPI on first use; run without -short")
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "cfn-lint.sh"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var files []string
	for _, name := range []string{"default", "alt", "keyspaces", "localstack", "hybrid", "notify-default"} {
		v := namedVariant(t, name)
		b, err := json.MarshalIndent(v.json, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, name+".template.json")
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	// Templates are environment-agnostic: lint them against one region.
	cmd := exec.Command(script, append([]string{"--regions", "us-east-1", "--"}, files...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cfn-lint: %v\n%s", err, out)
	}
	t.Logf("cfn-lint clean on %d templates", len(files))
}

func TestMissingBootstrap(t *testing.T) {
	dir := t.TempDir()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	_, err := New(app, "Missing", Props{FunctionsDir: dir})
	if err == nil {
		t.Fatal("New succeeded without bootstraps")
	}
	for _, want := range []string{"make build", filepath.Join(dir, "fanout", "bootstrap")} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// mapping returns the topology's mapping of that name.
func mapping(t *testing.T, name string) topology.Mapping {
	t.Helper()
	for _, m := range topology.Mappings {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("no mapping %q in internal/topology", name)
	return topology.Mapping{}
}
