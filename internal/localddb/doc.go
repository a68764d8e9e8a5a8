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
// Limits: the proxy's configuration (streams, TTL) and the stream records live in memory;
// a restarted proxy needs UpdateTable/UpdateTimeToLive again for existing tables (with
// Options.Upstream kept on disk). Writes that reach the upstream directly, not through the
// proxy, are not captured. Each table's stream is one shard.
package localddb
