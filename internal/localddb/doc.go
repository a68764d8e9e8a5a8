// Package localddb is a DynamoDB endpoint for the local runtime that adds to an upstream
// DynamoDB (dynalite, or another endpoint such as LocalStack's) what dynalite lacks:
//
//   - Streams: a Proxy records change records for the tables created (or updated) with a
//     StreamSpecification, honouring the view type. It keeps StreamSpecification from the
//     upstream and answers DescribeTable with StreamSpecification, LatestStreamArn and
//     LatestStreamLabel. PutItem, UpdateItem, DeleteItem and BatchWriteItem on such a
//     table read the item before and after the write (consistent GetItem) under a
//     per-table lock, so images are exact; a write that changes nothing (a failed
//     condition, deleting a missing item, putting an identical item) records nothing.
//   - TTL: UpdateTimeToLive and DescribeTimeToLive are answered by the proxy, and a sweeper
//     deletes expired items, recording REMOVE records whose userIdentity is the DynamoDB
//     service, as DynamoDB's TTL does.
//   - Event source mappings (Mapping): a stream's records delivered to a function in
//     batches, in order, with BatchItemFailures, retries and bisection as on Lambda.
//
// TransactWriteItems and ExecuteTransaction are refused with a ValidationException saying
// they are not supported locally.
//
// Durability: by default the proxy's configuration (streams, TTL), the stream records and
// the mappings' positions live in memory, and a restarted proxy needs UpdateTable and
// UpdateTimeToLive again for existing tables. With Options.Dir they are kept on disk
// (state.go): each table's stream is an append-only log whose record is synced before the
// write's response is returned, trimmed to 24 hours; each mapping checkpoints after each
// batch and resumes after its checkpoint (at least once); and a write that a crash
// interrupted after the upstream applied it gets its record when the proxy opens again
// (recover.go).
//
// Limits: writes that reach the upstream directly, not through the proxy, are not
// captured. Each table's stream is one shard.
package localddb
