package chat

import "time"

// Path is the way a message frame reached a connection.
type Path string

// Delivery paths.
const (
	// PathInline is the send function's own push, right after the message is stored.
	PathInline Path = "inline"
	// PathStream is the fan-out function's push, from the store's stream (the durable
	// path, which delivers whatever the inline path did not finish).
	PathStream Path = "stream"
)

// Outcome is how one post of a message frame to one connection ended.
type Outcome string

// Post outcomes.
const (
	OutcomeDelivered Outcome = "delivered" // the Management API accepted the frame
	OutcomeGone      Outcome = "gone"      // 410: the connection no longer exists
	OutcomeRejected  Outcome = "rejected"  // refused for good (4xx other than 410 and 429)
	OutcomeFailed    Outcome = "failed"    // still failing after every retry
)

// Metrics receives what delivery measures. On AWS, internal/metrics writes it as
// CloudWatch embedded-metric-format documents, one per invocation, so an operator sees the
// delivery lag that parley local can only model. Implementations must be safe for
// concurrent use; calls must be cheap (they sit on the delivery path).
type Metrics interface {
	// Posted records one post of a message frame to one connection on path: its outcome,
	// the attempts it took (1 without retries), and, when delivered, the lag from the
	// message's createdAt to the post's success.
	Posted(path Path, outcome Outcome, attempts int, lag time.Duration)
	// FannedOut records the stream fan-out of one message record: whether it was skipped
	// because the inline path had finished it, and how long the record took.
	FannedOut(skipped bool, took time.Duration)
}

// noMetrics drops everything: the default of Options.Metrics.
type noMetrics struct{}

func (noMetrics) Posted(Path, Outcome, int, time.Duration) {}
func (noMetrics) FannedOut(bool, time.Duration)            {}
