package stack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/metrics"
)

// dashMetric is one metric line of a dashboard graph: namespace, name, dimensions and
// statistic.
type dashMetric struct {
	namespace, name, stat string
	dims                  map[string]string
}

func (m dashMetric) String() string {
	return fmt.Sprintf("%s %s %v %s", m.namespace, m.name, m.dims, m.stat)
}

// dashboard returns the variant's dashboard body, parsed, and every metric its graphs
// plot.
func (v *synthesized) dashboard(t *testing.T) (map[string]any, []dashMetric) {
	t.Helper()
	dashes := v.resources("AWS::CloudWatch::Dashboard")
	if len(dashes) != 1 {
		t.Fatalf("%d dashboards, want 1", len(dashes))
	}
	var body map[string]any
	for _, d := range dashes {
		if err := json.Unmarshal([]byte(render(props(d)["DashboardBody"])), &body); err != nil {
			t.Fatalf("dashboard body is not JSON: %v", err)
		}
	}
	var out []dashMetric
	for _, w := range body["widgets"].([]any) {
		p := w.(map[string]any)["properties"].(map[string]any)
		for _, line := range list(p["metrics"]) {
			l, ok := line.([]any)
			if !ok {
				continue
			}
			m := dashMetric{namespace: l[0].(string), name: l[1].(string), dims: map[string]string{}}
			rest := l[2:]
			if opts, ok := rest[len(rest)-1].(map[string]any); ok {
				m.stat, _ = opts["stat"].(string)
				rest = rest[:len(rest)-1]
			}
			for i := 0; i+1 < len(rest); i += 2 {
				m.dims[rest[i].(string)] = rest[i+1].(string)
			}
			out = append(out, m)
		}
	}
	return body, out
}

func TestDashboard(t *testing.T) {
	v := defaultVariant(t)
	body, got := v.dashboard(t)
	has := func(m dashMetric) {
		t.Helper()
		if !slices.ContainsFunc(got, func(g dashMetric) bool { return reflect.DeepEqual(g, m) }) {
			t.Errorf("dashboard does not plot %s", m)
		}
	}
	ns := metrics.StageNamespace("prod")
	funcs := PathFunctions()
	if funcs[chat.PathInline] != "send" || funcs[chat.PathStream] != "fanout" {
		t.Fatalf("PathFunctions() = %v", funcs)
	}
	for _, path := range []chat.Path{chat.PathInline, chat.PathStream} {
		dims := map[string]string{metrics.DimensionFunction: funcs[path], metrics.DimensionPath: string(path)}
		for _, stat := range []string{"p50", "p99"} {
			has(dashMetric{ns, metrics.DeliveryLag, stat, dims})
		}
		for _, name := range []string{metrics.Posts, metrics.PostsGone, metrics.PostsFailed, metrics.PostsRejected, metrics.PostRetries} {
			has(dashMetric{ns, name, "Sum", dims})
		}
	}
	fan := map[string]string{metrics.DimensionFunction: "fanout"}
	for _, stat := range []string{"p50", "p99", "Maximum"} {
		has(dashMetric{ns, metrics.FanoutDuration, stat, fan})
	}
	has(dashMetric{ns, metrics.FanoutRecords, "Sum", fan})
	has(dashMetric{ns, metrics.FanoutSkipped, "Sum", fan})
	// The functions' and the API's own metrics.
	for _, name := range Functions {
		fn := map[string]string{"FunctionName": "${" + v.functionID(t, name) + "}"}
		has(dashMetric{"AWS/Lambda", "Invocations", "Sum", fn})
		has(dashMetric{"AWS/Lambda", "Errors", "Sum", fn})
		has(dashMetric{"AWS/Lambda", "Throttles", "Sum", fn})
		has(dashMetric{"AWS/Lambda", "Duration", "p99", fn})
	}
	has(dashMetric{"AWS/Lambda", "IteratorAge", "Maximum", map[string]string{"FunctionName": "${" + v.functionID(t, "fanout") + "}"}})
	api := ""
	for id := range v.resources("AWS::ApiGatewayV2::Api") {
		api = "${" + id + "}"
	}
	for _, name := range []string{"ConnectCount", "MessageCount", "ClientError", "ExecutionError", "IntegrationError"} {
		has(dashMetric{"AWS/ApiGateway", name, "Sum", map[string]string{"ApiId": api, "Stage": "prod"}})
	}
	// Every Parley metric on the dashboard is one the sink emits: no name or dimension
	// the functions never write.
	emitted := map[string]bool{}
	for _, n := range []string{metrics.DeliveryLag, metrics.Posts, metrics.PostsGone, metrics.PostsFailed, metrics.PostsRejected,
		metrics.PostRetries, metrics.FanoutRecords, metrics.FanoutSkipped, metrics.FanoutDuration} {
		emitted[n] = true
	}
	for _, m := range got {
		if m.namespace != ns {
			continue
		}
		if !emitted[m.name] {
			t.Errorf("dashboard plots %s, which internal/metrics does not emit", m)
		}
		for k := range m.dims {
			if k != metrics.DimensionFunction && k != metrics.DimensionPath {
				t.Errorf("dashboard metric %s has dimension %s", m, k)
			}
		}
	}
	// The alarm widget shows every alarm, and the lag graph the alarm's threshold.
	var alarmWidget []any
	var threshold float64
	for _, w := range body["widgets"].([]any) {
		p := w.(map[string]any)["properties"].(map[string]any)
		if w.(map[string]any)["type"] == "alarm" {
			alarmWidget = p["alarms"].([]any)
		}
		if a, ok := p["annotations"].(map[string]any); ok {
			threshold = a["horizontal"].([]any)[0].(map[string]any)["value"].(float64)
		}
	}
	if n := len(v.resources("AWS::CloudWatch::Alarm")); len(alarmWidget) != n {
		t.Errorf("alarm widget shows %d alarms, the stack has %d", len(alarmWidget), n)
	}
	if threshold != StreamLagAlarmMillis {
		t.Errorf("lag graph annotation at %v, want the alarm threshold %d", threshold, StreamLagAlarmMillis)
	}
	for _, d := range v.resources("AWS::CloudWatch::Dashboard") {
		if name := render(props(d)["DashboardName"]); name != "Parley-prod-${AWS::Region}" {
			t.Errorf("DashboardName %s, want Parley-<stage>-<region> (names are per account)", name)
		}
	}
	v.hasOutput(t, "DashboardName", map[string]any{"Value": assertions.Match_AnyValue()})

	// The LocalStack targets get no dashboard (nothing shows it), but the lag alarm.
	for _, name := range []string{"localstack", "hybrid"} {
		l := namedVariant(t, name)
		l.count(t, "AWS::CloudWatch::Dashboard", 0)
		l.has(t, "AWS::CloudWatch::Alarm", map[string]any{"MetricName": metrics.DeliveryLag})
	}
}

// TestStreamLagAlarm checks the alarm against what the EMF sink actually writes for a
// fan-out post: the same namespace, metric name and dimensions, so the two cannot drift.
func TestStreamLagAlarm(t *testing.T) {
	v := defaultVariant(t)
	var lag map[string]any
	var otherActions []any
	for id, r := range v.resources("AWS::CloudWatch::Alarm") {
		p := props(r)
		if p["MetricName"] == metrics.DeliveryLag {
			if lag != nil {
				t.Fatalf("two alarms on %s", metrics.DeliveryLag)
			}
			lag = p
		}
		if strings.HasPrefix(id, "FanoutErrorsAlarm") {
			otherActions = p["AlarmActions"].([]any)
		}
	}
	if lag == nil {
		t.Fatalf("no alarm on %s", metrics.DeliveryLag)
	}
	want := map[string]any{
		"Namespace":          metrics.StageNamespace("prod"),
		"ExtendedStatistic":  "p99",
		"Period":             float64(60),
		"Threshold":          float64(StreamLagAlarmMillis),
		"EvaluationPeriods":  float64(StreamLagAlarmPeriods),
		"DatapointsToAlarm":  float64(StreamLagAlarmDatapoints),
		"ComparisonOperator": "GreaterThanOrEqualToThreshold",
		"TreatMissingData":   "notBreaching",
	}
	for k, w := range want {
		if !reflect.DeepEqual(lag[k], w) {
			t.Errorf("lag alarm %s = %v, want %v", k, lag[k], w)
		}
	}
	if StreamLagAlarmMillis != 2000 || StreamLagAlarmDatapoints != 3 || StreamLagAlarmPeriods != 5 {
		t.Errorf("lag alarm: %d ms in %d of %d minutes; docs/deploy.md describes 2000 ms in 3 of 5", StreamLagAlarmMillis, StreamLagAlarmDatapoints, StreamLagAlarmPeriods)
	}
	// Wired to the topic every alarm uses, for both transitions.
	if !reflect.DeepEqual(lag["AlarmActions"], otherActions) || !reflect.DeepEqual(lag["OKActions"], otherActions) {
		t.Errorf("lag alarm actions %v / OK %v, want the alarm topic %v", lag["AlarmActions"], lag["OKActions"], otherActions)
	}
	alarmDims := map[string]string{}
	for _, d := range lag["Dimensions"].([]any) {
		m := d.(map[string]any)
		alarmDims[m["Name"].(string)] = m["Value"].(string)
	}

	// What the fan-out function's sink writes for one delivered post.
	var buf bytes.Buffer
	sink, err := metrics.New(metrics.Options{Namespace: metrics.StageNamespace("prod"), Function: PathFunctions()[chat.PathStream], Writer: &buf})
	if err != nil {
		t.Fatal(err)
	}
	sink.Posted(chat.PathStream, chat.OutcomeDelivered, 1, 2500*time.Millisecond)
	if err := sink.Flush(); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("sink wrote %q: %v", buf.String(), err)
	}
	dir := doc["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if dir["Namespace"] != lag["Namespace"] {
		t.Errorf("sink namespace %v, alarm %v", dir["Namespace"], lag["Namespace"])
	}
	sinkDims := map[string]string{}
	for _, k := range dir["Dimensions"].([]any)[0].([]any) {
		sinkDims[k.(string)] = doc[k.(string)].(string)
	}
	if !reflect.DeepEqual(sinkDims, alarmDims) {
		t.Errorf("sink dimensions %v, alarm %v", sinkDims, alarmDims)
	}
	if _, ok := doc[lag["MetricName"].(string)]; !ok {
		t.Errorf("sink document has no %v: %s", lag["MetricName"], buf.String())
	}
}

func TestFunctionEnvironment(t *testing.T) {
	for _, tc := range []struct {
		variant, inline, namespace string
	}{
		{"default", strconv.Itoa(chat.DefaultInlineMaxMembers), "Parley/prod"},
		{"alt", "0", "Parley/dev"}, // inlineMaxMembers=0: the inline path off
	} {
		t.Run(tc.variant, func(t *testing.T) {
			v := namedVariant(t, tc.variant)
			fns := v.resources("AWS::Lambda::Function")
			if len(fns) == 0 {
				t.Fatal("no functions")
			}
			for id, r := range fns {
				env := props(r)["Environment"].(map[string]any)["Variables"].(map[string]any)
				if env["INLINE_MAX_MEMBERS"] != tc.inline {
					t.Errorf("%s: INLINE_MAX_MEMBERS = %v, want %s", id, env["INLINE_MAX_MEMBERS"], tc.inline)
				}
				if env[metrics.EnvNamespace] != tc.namespace {
					t.Errorf("%s: %s = %v, want %s", id, metrics.EnvNamespace, env[metrics.EnvNamespace], tc.namespace)
				}
			}
		})
	}
}
