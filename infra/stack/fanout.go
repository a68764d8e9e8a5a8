package stack

import (
	"github.com/parleychat/parley/internal/topology"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// newFanout creates the on-failure queue and fanout's stream mappings as internal/topology
// declares them for the message store: INSERTs of the message stream (Messages, or Outbox
// with Keyspaces), and REMOVEs of presence items by DynamoDB's TTL (userIdentity is the
// DynamoDB service) from the Connections stream. It returns the queue.
func newFanout(s awscdk.Stack, p *Props, tables tableSet, fanout awslambda.Function) awssqs.Queue {
	dlq := awssqs.NewQueue(s, jsii.String("FanoutFailures"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	onFailure := awslambdaeventsources.NewSqsDlq(dlq)

	for _, m := range topology.MappingsFor(p.MessageStore) {
		fanout.AddEventSource(awslambdaeventsources.NewDynamoEventSource(tables[m.Table], mappingProps(m, onFailure)))
	}
	return dlq
}

func mappingProps(m topology.Mapping, onFailure awslambda.IEventSourceDlq) *awslambdaeventsources.DynamoEventSourceProps {
	pattern := m.Filter.Pattern()
	return &awslambdaeventsources.DynamoEventSourceProps{
		StartingPosition:        awslambda.StartingPosition_LATEST,
		BatchSize:               jsii.Number(float64(m.BatchSize)),
		MaxBatchingWindow:       awscdk.Duration_Seconds(jsii.Number(m.BatchWindow.Seconds())),
		ParallelizationFactor:   jsii.Number(float64(m.Parallelization)),
		RetryAttempts:           jsii.Number(float64(m.RetryAttempts)),
		MaxRecordAge:            awscdk.Duration_Seconds(jsii.Number(m.MaxRecordAge.Seconds())),
		BisectBatchOnError:      jsii.Bool(m.Bisect),
		ReportBatchItemFailures: jsii.Bool(m.ReportItemFailures),
		OnFailure:               onFailure,
		Filters:                 &[]*map[string]interface{}{awslambda.FilterCriteria_Filter(&pattern)},
	}
}
