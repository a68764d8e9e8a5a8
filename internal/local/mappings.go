package local

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/parleychat/parley/internal/localddb"
	"github.com/parleychat/parley/internal/schema"
	"github.com/parleychat/parley/internal/topology"
)

// startMappings starts the event source mappings that internal/topology declares for the
// message store in use, with the deployed settings (batch size and window, retries,
// record age, bisection, the filter), each invoking the stream handler. Lambda's
// ParallelizationFactor is not modelled: the local stream has one shard, read one batch
// at a time, which keeps every partition key in order as Lambda does.
func (m *Main) startMappings(proxy *localddb.Proxy, tables map[string]string, h func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)) error {
	for _, tm := range topology.MappingsFor(m.cfg.MessageStore) {
		if fn, ok := topology.Lookup(tm.Function); !ok || fn.Kind != topology.KindStream {
			return fmt.Errorf("local: mapping %s invokes %q, which is not a stream function", tm.Name, tm.Function)
		}
		table := tables[tm.Table]
		err := proxy.StartMapping(localddb.Mapping{
			Table:             table,
			BatchSize:         tm.BatchSize,
			MaxBatchingWindow: tm.BatchWindow,
			MaxRetryAttempts:  retries(tm.RetryAttempts),
			MaxRecordAge:      tm.MaxRecordAge,
			PollInterval:      m.cfg.Timings.Poll(),
			Bisect:            tm.Bisect,
			Filter:            matcher(tm.Filter),
			Handler:           h,
			OnFailure: func(recs []events.DynamoDBEventRecord) {
				m.log.Error("local: stream records dropped (on-failure destination)", "mapping", tm.Name, "table", table, "records", len(recs))
			},
		})
		if err != nil {
			return fmt.Errorf("local: mapping %s: %w", tm.Name, err)
		}
	}
	return nil
}

// retries turns Lambda's retry count into localddb's, where 0 means the default and a
// negative count none.
func retries(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// matcher evaluates a topology filter on a stream record, as Lambda's event filtering
// evaluates the pattern the stack renders from it.
func matcher(f topology.Filter) func(events.DynamoDBEventRecord) bool {
	return func(r events.DynamoDBEventRecord) bool {
		rec := topology.Record{EventName: r.EventName}
		if r.UserIdentity != nil {
			rec.IdentityType, rec.PrincipalID = r.UserIdentity.Type, r.UserIdentity.PrincipalID
		}
		if v, ok := r.Change.Keys[schema.AttrSK]; ok && v.DataType() == events.DataTypeString {
			rec.SortKey = v.String()
		}
		return f.Match(rec)
	}
}
