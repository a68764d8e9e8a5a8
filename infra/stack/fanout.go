package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/parleychat/parley/internal/schema"
)

// Mapping is the settings of one stream event source mapping.
type Mapping struct {
	BatchSize         int
	BatchWindowSecs   int
	Parallelization   int
	RetryAttempts     int
	MaxRecordAgeSecs  int
	BisectOnError     bool
	ReportItemFailure bool
}

// MessagesMapping feeds new messages (Messages, or Outbox with Keyspaces) to fanout: no
// batching window (latency first), four concurrent batches per shard (a conversation's
// records stay in order: they share a partition key), bounded retries and age (a push
// older than 10 minutes is worth less than the client's own sync), bisection on error and
// partial batch failures, then the on-failure queue.
var MessagesMapping = Mapping{BatchSize: 100, BatchWindowSecs: 0, Parallelization: 4, RetryAttempts: 5, MaxRecordAgeSecs: 600, BisectOnError: true, ReportItemFailure: true}

// PresenceMapping feeds TTL deletions of presence items to fanout, which announces the
// user offline; a few seconds of batching are fine for an event that is already late.
var PresenceMapping = Mapping{BatchSize: 100, BatchWindowSecs: 5, Parallelization: 1, RetryAttempts: 3, MaxRecordAgeSecs: 3600, BisectOnError: true, ReportItemFailure: true}

// newFanout creates the on-failure queue and fanout's two stream mappings: INSERTs of the
// message stream, and REMOVEs of presence items by DynamoDB's TTL (userIdentity is the
// DynamoDB service) from the Connections stream. It returns the queue.
func newFanout(s awscdk.Stack, p *Props, tables tableSet, fanout awslambda.Function) awssqs.Queue {
	dlq := awssqs.NewQueue(s, jsii.String("FanoutFailures"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	onFailure := awslambdaeventsources.NewSqsDlq(dlq)

	source := tables[schema.MessagesID]
	if p.MessageStore == StoreKeyspaces {
		source = tables[schema.OutboxID]
	}
	fanout.AddEventSource(awslambdaeventsources.NewDynamoEventSource(source, mappingProps(MessagesMapping, onFailure,
		map[string]interface{}{"eventName": []string{"INSERT"}})))

	fanout.AddEventSource(awslambdaeventsources.NewDynamoEventSource(tables[schema.ConnectionsID], mappingProps(PresenceMapping, onFailure,
		map[string]interface{}{
			"eventName": []string{"REMOVE"},
			"userIdentity": map[string]interface{}{
				"type":        []string{"Service"},
				"principalId": []string{"dynamodb.amazonaws.com"},
			},
			"dynamodb": map[string]interface{}{
				"Keys": map[string]interface{}{schema.AttrSK: map[string]interface{}{"S": []string{schema.PresenceSK}}},
			},
		})))
	return dlq
}

func mappingProps(m Mapping, onFailure awslambda.IEventSourceDlq, pattern map[string]interface{}) *awslambdaeventsources.DynamoEventSourceProps {
	return &awslambdaeventsources.DynamoEventSourceProps{
		StartingPosition:        awslambda.StartingPosition_LATEST,
		BatchSize:               jsii.Number(float64(m.BatchSize)),
		MaxBatchingWindow:       awscdk.Duration_Seconds(jsii.Number(float64(m.BatchWindowSecs))),
		ParallelizationFactor:   jsii.Number(float64(m.Parallelization)),
		RetryAttempts:           jsii.Number(float64(m.RetryAttempts)),
		MaxRecordAge:            awscdk.Duration_Seconds(jsii.Number(float64(m.MaxRecordAgeSecs))),
		BisectBatchOnError:      jsii.Bool(m.BisectOnError),
		ReportBatchItemFailures: jsii.Bool(m.ReportItemFailure),
		OnFailure:               onFailure,
		Filters:                 &[]*map[string]interface{}{awslambda.FilterCriteria_Filter(&pattern)},
	}
}
