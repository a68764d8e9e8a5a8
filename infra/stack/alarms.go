package stack

import (
	"fmt"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/metrics"
)

// Alarm thresholds.
const (
	// IteratorAgeAlarmMillis: fan-out is this far behind the message stream.
	IteratorAgeAlarmMillis = 60_000
	// APIErrorAlarmCount: API Gateway execution and integration errors in 5 minutes.
	APIErrorAlarmCount = 5
	// StreamLagAlarmMillis: the stream path's delivery lag p99 (DeliveryLag, Path
	// stream, internal/metrics) in a minute. Normally that path takes a stream poll
	// (Lambda polls a shard four times a second: up to 250 ms), a batch, the members'
	// and connections' reads and a post of ~15 ms: a few hundred ms at p99
	// (docs/benchmarks.md: up to 350 ms under the AWS timing model). 2 s is several
	// times that, the point where chat stops feeling live, and it fires long before
	// the iterator-age alarm (60 s): fan-out is falling behind (throttled, slow
	// Management API, retried batches) while nothing is lost yet.
	StreamLagAlarmMillis = 2000
	// StreamLagAlarmPeriods and StreamLagAlarmDatapoints: the lag alarm fires when 3
	// of the last 5 one-minute periods breach. CloudWatch recommends "M out of N"
	// alarms on embedded-metric-format metrics from Lambda (their log delivery can put
	// a datapoint late or split it), and one slow minute (a cold start, one retried
	// batch) is not an incident.
	StreamLagAlarmPeriods    = 5
	StreamLagAlarmDatapoints = 3
)

// newAlarms creates the alarm topic (with the e-mail subscription, if configured) and the
// alarms: fan-out errors, iterator age, on-failure queue depth, throttles of any
// function, errors of the route functions, the API's execution/integration errors, and
// the stream path's delivery lag. It returns the alarms, the lag alarm first.
func newAlarms(s awscdk.Stack, p *Props, st *Stack, dlq awssqs.Queue) []awscloudwatch.Alarm {
	topic := awssns.NewTopic(s, jsii.String("AlarmTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("Parley " + p.Stage + " alarms"),
		EnforceSSL:  jsii.Bool(true),
	})
	if p.AlarmEmail != "" {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(p.AlarmEmail), nil))
	}
	action := awscloudwatchactions.NewSnsAction(topic)
	five := awscdk.Duration_Minutes(jsii.Number(5))
	one := awscdk.Duration_Minutes(jsii.Number(1))
	var alarms []awscloudwatch.Alarm
	// alarmOf's alarm fires when datapoints of the last periods breach (0: all of them).
	alarmOf := func(id, desc string, m awscloudwatch.IMetric, threshold float64, periods, datapoints int) {
		props := &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(desc),
			Metric:             m,
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(float64(periods)),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		}
		if datapoints > 0 {
			props.DatapointsToAlarm = jsii.Number(float64(datapoints))
		}
		a := awscloudwatch.NewAlarm(s, jsii.String(id), props)
		a.AddAlarmAction(action)
		a.AddOkAction(action)
		alarms = append(alarms, a)
	}
	alarm := func(id, desc string, m awscloudwatch.IMetric, threshold float64, periods int) {
		alarmOf(id, desc, m, threshold, periods, 0)
	}

	// No traffic means no datapoints, which is not lag: missing data does not breach.
	alarmOf("StreamDeliveryLagAlarm",
		fmt.Sprintf("Stream-path delivery lag p99 at or above %d ms in %d of %d minutes: messages reach recipients late (docs/deploy.md, Metrics and dashboard)",
			StreamLagAlarmMillis, StreamLagAlarmDatapoints, StreamLagAlarmPeriods),
		deliveryMetric(p, metrics.DeliveryLag, chat.PathStream, "p99", ""), StreamLagAlarmMillis, StreamLagAlarmPeriods, StreamLagAlarmDatapoints)

	fanout := st.Functions["fanout"]
	alarm("FanoutErrorsAlarm", "The fan-out function failed (messages may be delayed until retried)",
		fanout.MetricErrors(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")}), 1, 1)
	alarm("FanoutIteratorAgeAlarm", fmt.Sprintf("Fan-out is more than %d s behind the stream", IteratorAgeAlarmMillis/1000),
		fanout.Metric(jsii.String("IteratorAge"), &awscloudwatch.MetricOptions{Period: one, Statistic: jsii.String("Maximum")}), IteratorAgeAlarmMillis, 3)
	alarm("FanoutFailuresAlarm", "Stream records gave up on (see the on-failure queue): pushes were lost, clients recover them with sync",
		dlq.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Maximum")}), 1, 1)

	names := make([]string, 0, len(st.Functions))
	for n := range st.Functions {
		names = append(names, n)
	}
	sort.Strings(names)
	throttles := map[string]awscloudwatch.IMetric{}
	errs := map[string]awscloudwatch.IMetric{}
	for i, n := range names {
		key := fmt.Sprintf("t%d", i)
		throttles[key] = st.Functions[n].MetricThrottles(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")})
		if n != "fanout" {
			errs[fmt.Sprintf("e%d", i)] = st.Functions[n].MetricErrors(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")})
		}
	}
	alarm("ThrottlesAlarm", "A Parley function was throttled (account concurrency limit reached)",
		awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String("SUM(METRICS())"), UsingMetrics: &throttles, Period: five, Label: jsii.String("Throttles"),
		}), 1, 1)
	if len(errs) > 0 {
		alarm("RouteErrorsAlarm", "A route function failed: the client got an internal error (5xx)",
			awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
				Expression: jsii.String("SUM(METRICS())"), UsingMetrics: &errs, Period: five, Label: jsii.String("Route function errors"),
			}), 1, 1)
	}
	if st.API != nil {
		apiMetric := func(name string) awscloudwatch.IMetric {
			return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace:  jsii.String("AWS/ApiGateway"),
				MetricName: jsii.String(name),
				DimensionsMap: &map[string]*string{
					"ApiId": st.API.ApiId(),
					"Stage": jsii.String(p.Stage),
				},
				Period:    five,
				Statistic: jsii.String("Sum"),
			})
		}
		alarm("ApiErrorsAlarm", fmt.Sprintf("API Gateway execution or integration errors (5xx to clients): at least %d in 5 minutes", APIErrorAlarmCount),
			awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
				Expression: jsii.String("execution + integration"),
				UsingMetrics: &map[string]awscloudwatch.IMetric{
					"execution":   apiMetric("ExecutionError"),
					"integration": apiMetric("IntegrationError"),
				},
				Period: five, Label: jsii.String("5xx"),
			}), APIErrorAlarmCount, 1)
	}
	awscdk.NewCfnOutput(s, jsii.String("AlarmTopicArn"), &awscdk.CfnOutputProps{
		Value: topic.TopicArn(), Description: jsii.String("SNS topic of every alarm: subscribe pagers or chat hooks here"),
	})
	return alarms
}

// newOutputs exports what a deployer needs: the WebSocket URL, the Management API
// endpoint, the table names, the secret, the on-failure queue.
func newOutputs(s awscdk.Stack, p *Props, st *Stack, secret awssecretsmanager.ISecret, dlq awssqs.Queue) {
	out := func(id string, v *string, desc string) {
		awscdk.NewCfnOutput(s, jsii.String(id), &awscdk.CfnOutputProps{Value: v, Description: jsii.String(desc)})
	}
	if st.Stage != nil {
		out("WebSocketUrl", st.Stage.Url(), "Clients connect here (wss://, token in ?token= or Authorization: Bearer)")
		out("ManagementEndpoint", st.Stage.CallbackUrl(), "API Gateway Management API (@connections) of this stage")
	} else {
		out("ManagementEndpoint", jsii.String(p.ManagementEndpoint), "Management API the fan-out Lambda posts to (parley local)")
	}
	ids := make([]string, 0, len(st.Tables))
	for id := range st.Tables {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		out(id+"TableName", st.Tables[id].TableName(), "DynamoDB table "+id)
	}
	if p.MessageStore == StoreKeyspaces {
		out("KeyspacesKeyspace", jsii.String(p.KeyspaceName), "Amazon Keyspaces keyspace of the message store")
	}
	if secret != nil {
		out("JwtSecretArn", secret.SecretArn(), "Secrets Manager secret holding the HS256 token key")
	}
	out("FanoutFailuresQueueUrl", dlq.QueueUrl(), "Stream records fan-out gave up on")
	if st.NotifyBus != nil {
		out("NotificationsBusName", st.NotifyBus.EventBusName(), "EventBridge bus of offline notifications (source parley, detail type Parley Offline Message)")
		out("NotificationsBusArn", st.NotifyBus.EventBusArn(), "ARN of the EventBridge bus of offline notifications: rules for mobile push go on it")
	}
}
