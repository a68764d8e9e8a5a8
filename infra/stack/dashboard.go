package stack

import (
	"fmt"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/jsii-runtime-go"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/metrics"
	"github.com/parleychat/parley/internal/topology"
)

// PathFunctions names the function that posts on each delivery path, the value of the
// Function dimension of its metrics: the inline path is the send route's function, the
// stream path the stream consumer.
func PathFunctions() map[chat.Path]string {
	out := map[chat.Path]string{chat.PathInline: topology.Routes()["send"]}
	for _, f := range topology.Functions {
		if f.Kind == topology.KindStream {
			out[chat.PathStream] = f.Name
		}
	}
	return out
}

// deliveryPaths are the paths in the order the dashboard shows them.
var deliveryPaths = []chat.Path{chat.PathInline, chat.PathStream}

var oneMinute = awscdk.Duration_Minutes(jsii.Number(1))

// parleyMetric is one of internal/metrics' metrics of one function in this stage's
// namespace, per minute. An empty label keeps CloudWatch's (an alarm's metric then
// renders as a plain metric, not a metric math query).
func parleyMetric(p *Props, name string, dims map[string]*string, stat, label string) awscloudwatch.Metric {
	mp := &awscloudwatch.MetricProps{
		Namespace:     jsii.String(metrics.StageNamespace(p.Stage)),
		MetricName:    jsii.String(name),
		DimensionsMap: &dims,
		Period:        oneMinute,
		Statistic:     jsii.String(stat),
	}
	if label != "" {
		mp.Label = jsii.String(label)
	}
	return awscloudwatch.NewMetric(mp)
}

// deliveryMetric is a delivery metric (dimensions Function and Path) of path.
func deliveryMetric(p *Props, name string, path chat.Path, stat, label string) awscloudwatch.Metric {
	return parleyMetric(p, name, map[string]*string{
		metrics.DimensionFunction: jsii.String(PathFunctions()[path]),
		metrics.DimensionPath:     jsii.String(string(path)),
	}, stat, label)
}

// fanoutMetric is a fan-out metric (dimension Function only).
func fanoutMetric(p *Props, name, stat, label string) awscloudwatch.Metric {
	return parleyMetric(p, name, map[string]*string{
		metrics.DimensionFunction: jsii.String(PathFunctions()[chat.PathStream]),
	}, stat, label)
}

// newDashboard creates the stage's CloudWatch dashboard (target aws only: the LocalStack
// targets have no console to show it): delivery lag by path against the lag alarm's
// threshold, the posts and their outcomes, the fan-out's per-record duration and skips,
// then the functions' and the API's own metrics and every alarm's state.
func newDashboard(s awscdk.Stack, p *Props, st *Stack, dlq awssqs.Queue, alarms []awscloudwatch.Alarm) awscloudwatch.Dashboard {
	ms := func(l ...awscloudwatch.IMetric) *[]awscloudwatch.IMetric { return &l }
	graph := func(title string, width float64, left *[]awscloudwatch.IMetric, unit string) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Width: jsii.Number(width), Height: jsii.Number(6), Left: left,
			LeftYAxis: &awscloudwatch.YAxisProps{Min: jsii.Number(0), Label: jsii.String(unit), ShowUnits: jsii.Bool(false)},
		})
	}

	var lag, posts, notDelivered, retries []awscloudwatch.IMetric
	for _, path := range deliveryPaths {
		for _, stat := range []string{"p50", "p99"} {
			lag = append(lag, deliveryMetric(p, metrics.DeliveryLag, path, stat, fmt.Sprintf("%s %s", path, stat)))
		}
		posts = append(posts, deliveryMetric(p, metrics.Posts, path, "Sum", string(path)))
		notDelivered = append(notDelivered,
			deliveryMetric(p, metrics.PostsGone, path, "Sum", string(path)+" 410 gone"),
			deliveryMetric(p, metrics.PostsFailed, path, "Sum", string(path)+" failed"),
			deliveryMetric(p, metrics.PostsRejected, path, "Sum", string(path)+" rejected"))
		retries = append(retries, deliveryMetric(p, metrics.PostRetries, path, "Sum", string(path)))
	}
	lagWidget := awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
		Title: jsii.String("Delivery lag: createdAt to post accepted (ms)"), Width: jsii.Number(12), Height: jsii.Number(6), Left: &lag,
		LeftYAxis: &awscloudwatch.YAxisProps{Min: jsii.Number(0), Label: jsii.String("ms"), ShowUnits: jsii.Bool(false)},
		LeftAnnotations: &[]*awscloudwatch.HorizontalAnnotation{{
			Value: jsii.Number(StreamLagAlarmMillis), Label: jsii.String("stream p99 alarm"), Color: jsii.String("#d62728"),
		}},
	})
	alarmRefs := make([]interfacesawscloudwatch.IAlarmRef, 0, len(alarms))
	for _, a := range alarms {
		alarmRefs = append(alarmRefs, a)
	}
	rows := [][]awscloudwatch.IWidget{
		{awscloudwatch.NewTextWidget(&awscloudwatch.TextWidgetProps{
			Width: jsii.Number(24), Height: jsii.Number(2),
			Markdown: jsii.String("# Parley " + p.Stage + "\nDelivery metrics are written by the functions (embedded metric format, namespace `" +
				metrics.StageNamespace(p.Stage) + "`). What each one means and what to do when an alarm fires: docs/deploy.md, \"Metrics and dashboard\"."),
		})},
		{lagWidget, awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
			Title: jsii.String("Alarms"), Width: jsii.Number(12), Height: jsii.Number(6), Alarms: &alarmRefs,
		})},
		{
			graph("Posts by path (per minute)", 8, &posts, "posts"),
			graph("Posts not delivered: 410 gone, failed, rejected", 8, &notDelivered, "posts"),
			graph("Post retries", 8, &retries, "retries"),
		},
		{
			graph("Fan-out duration per message record (ms)", 8, ms(
				fanoutMetric(p, metrics.FanoutDuration, "p50", "p50"),
				fanoutMetric(p, metrics.FanoutDuration, "p99", "p99"),
				fanoutMetric(p, metrics.FanoutDuration, "Maximum", "max")), "ms"),
			graph("Fan-out records, and skipped (inline path delivered them)", 8, ms(
				fanoutMetric(p, metrics.FanoutRecords, "Sum", "records"),
				fanoutMetric(p, metrics.FanoutSkipped, "Sum", "skipped")), "records"),
			graph("Fan-out iterator age (ms) and failed records", 8, ms(
				st.Functions[PathFunctions()[chat.PathStream]].Metric(jsii.String("IteratorAge"), &awscloudwatch.MetricOptions{
					Period: oneMinute, Statistic: jsii.String("Maximum"), Label: jsii.String("iterator age max")}),
				dlq.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
					Period: oneMinute, Statistic: jsii.String("Maximum"), Label: jsii.String("on-failure queue")})), "ms / records"),
		},
		functionWidgets(st, graph),
	}
	if st.API != nil {
		rows = append(rows, apiWidgets(p, st, graph))
	}
	widgets := make([]*[]awscloudwatch.IWidget, 0, len(rows))
	for _, r := range rows {
		widgets = append(widgets, &r)
	}
	return awscloudwatch.NewDashboard(s, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		// Dashboard names are per account, across regions.
		DashboardName:   awscdk.Fn_Join(jsii.String("-"), &[]*string{jsii.String("Parley"), jsii.String(p.Stage), awscdk.Aws_REGION()}),
		DefaultInterval: awscdk.Duration_Hours(jsii.Number(3)),
		Widgets:         &widgets,
	})
}

type graphFunc func(title string, width float64, left *[]awscloudwatch.IMetric, unit string) awscloudwatch.IWidget

// functionWidgets are the functions' invocations, errors, throttles and duration p99,
// one line per function.
func functionWidgets(st *Stack, graph graphFunc) []awscloudwatch.IWidget {
	names := make([]string, 0, len(st.Functions))
	for n := range st.Functions {
		names = append(names, n)
	}
	sort.Strings(names)
	var inv, errs, thr, dur []awscloudwatch.IMetric
	for _, n := range names {
		fn := st.Functions[n]
		o := func(stat string) *awscloudwatch.MetricOptions {
			return &awscloudwatch.MetricOptions{Period: oneMinute, Statistic: jsii.String(stat), Label: jsii.String(n)}
		}
		inv = append(inv, fn.MetricInvocations(o("Sum")))
		errs = append(errs, fn.MetricErrors(o("Sum")))
		thr = append(thr, fn.MetricThrottles(o("Sum")))
		dur = append(dur, fn.MetricDuration(o("p99")))
	}
	return []awscloudwatch.IWidget{
		graph("Lambda invocations", 6, &inv, "invocations"),
		graph("Lambda errors", 6, &errs, "errors"),
		graph("Lambda throttles", 6, &thr, "throttles"),
		graph("Lambda duration p99 (ms)", 6, &dur, "ms"),
	}
}

// apiWidgets are the WebSocket API's connections, messages, errors and integration
// latency.
func apiWidgets(p *Props, st *Stack, graph graphFunc) []awscloudwatch.IWidget {
	m := func(name, stat, label string) awscloudwatch.IMetric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:     jsii.String("AWS/ApiGateway"),
			MetricName:    jsii.String(name),
			DimensionsMap: &map[string]*string{"ApiId": st.API.ApiId(), "Stage": jsii.String(p.Stage)},
			Period:        oneMinute,
			Statistic:     jsii.String(stat),
			Label:         jsii.String(label),
		})
	}
	return []awscloudwatch.IWidget{
		graph("WebSocket connects and messages", 8, &[]awscloudwatch.IMetric{
			m("ConnectCount", "Sum", "connects"), m("MessageCount", "Sum", "messages")}, "count"),
		graph("WebSocket errors", 8, &[]awscloudwatch.IMetric{
			m("ClientError", "Sum", "client (4xx)"), m("ExecutionError", "Sum", "execution"), m("IntegrationError", "Sum", "integration")}, "count"),
		graph("Integration latency (ms)", 8, &[]awscloudwatch.IMetric{
			m("IntegrationLatency", "p50", "p50"), m("IntegrationLatency", "p99", "p99")}, "ms"),
	}
}
