package notify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"

	"github.com/parleychat/parley/internal/chat"
)

// EventBridge's PutEvents limits.
const (
	// MaxEntryBytes is the largest event entry, counted as EventBridge counts it
	// (EntrySize): 256 KB.
	MaxEntryBytes = 256 * 1024
	// MaxRequestBytes is the largest sum of the entries of one PutEvents call.
	MaxRequestBytes = 256 * 1024
	// MaxBatchEntries is the most entries one PutEvents call takes.
	MaxBatchEntries = 10
)

// ErrTooLarge: a notification's event is above MaxEntryBytes (it wraps ErrPermanent).
var ErrTooLarge = fmt.Errorf("notify: event above EventBridge's %d-byte entry limit: %w", MaxEntryBytes, ErrPermanent)

// PutEventsAPI is the part of the EventBridge client that EventBridge calls
// (*eventbridge.Client).
type PutEventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// EventBridgeOptions configures an EventBridge notifier.
type EventBridgeOptions struct {
	// Bus is the event bus's name or ARN. Default "default", the account's default bus.
	Bus string
	// Attempts is how often an entry that PutEvents fails (a per-entry ErrorCode) is sent
	// in all. Default 4. A failed call as a whole is retried by the SDK client's own
	// retryer instead (3 attempts by default), and ends Notify with its error.
	Attempts int
	// Backoff is the base of the jittered exponential backoff between attempts. Default
	// 50 ms (then 100 ms, 200 ms).
	Backoff time.Duration
	// After waits out the backoff: it returns a channel that receives once d has passed,
	// as time.After does. Tests pass one that fires at once. Default time.After.
	After func(d time.Duration) <-chan time.Time
}

// EventBridge puts every notification on an event bus as one event: source Source,
// detail type DetailType, detail the notification's Document, time the message's
// createdAt. Entries that PutEvents fails with a retryable error code (throttling, an
// internal failure) are sent again with backoff.
type EventBridge struct {
	client PutEventsAPI
	opts   EventBridgeOptions
}

var _ chat.Notifier = (*EventBridge)(nil)

// NewEventBridge returns an EventBridge notifier that calls client.
func NewEventBridge(client PutEventsAPI, opts EventBridgeOptions) *EventBridge {
	if opts.Bus == "" {
		opts.Bus = "default"
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 4
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 50 * time.Millisecond
	}
	if opts.After == nil {
		opts.After = time.After
	}
	return &EventBridge{client: client, opts: opts}
}

// Bus is the event bus the notifier puts events on.
func (e *EventBridge) Bus() string { return e.opts.Bus }

// Notify puts n's event on the bus. It returns an error wrapping ErrPermanent when the
// event can never be accepted (ErrTooLarge, a non-retryable error code, a client error
// such as AccessDeniedException), and another error when it still failed after every
// attempt or the call failed.
func (e *EventBridge) Notify(ctx context.Context, n chat.Notification) error {
	return e.NotifyAll(ctx, []chat.Notification{n})
}

// NotifyAll puts the events of ns on the bus, MaxBatchEntries (and at most
// MaxRequestBytes) per PutEvents call, each call's failed entries retried as Notify's.
// It returns the errors of every event that was not accepted, joined; the others were.
// An event above MaxEntryBytes fails the whole call before anything is sent.
func (e *EventBridge) NotifyAll(ctx context.Context, ns []chat.Notification) error {
	entries := make([]entry, 0, len(ns))
	for _, n := range ns {
		en, err := e.entry(n)
		if err != nil {
			return err
		}
		entries = append(entries, en)
	}
	var errs []error
	for len(entries) > 0 {
		k, size := 0, 0
		for k < len(entries) && k < MaxBatchEntries && size+entries[k].size <= MaxRequestBytes {
			size += entries[k].size
			k++
		}
		if err := e.put(ctx, entries[:k]); err != nil {
			errs = append(errs, err)
		}
		entries = entries[k:]
	}
	return errors.Join(errs...)
}

// entry is one event to put, with what its errors name.
type entry struct {
	req       types.PutEventsRequestEntry
	size      int
	messageID string
}

// entry builds n's event and checks its size.
func (e *EventBridge) entry(n chat.Notification) (entry, error) {
	detail, err := Marshal(n)
	if err != nil {
		return entry{}, fmt.Errorf("%w: %w", err, ErrPermanent)
	}
	req := types.PutEventsRequestEntry{
		Source:       aws.String(Source),
		DetailType:   aws.String(DetailType),
		Detail:       aws.String(string(detail)),
		EventBusName: aws.String(e.opts.Bus),
	}
	if n.CreatedAt > 0 {
		req.Time = aws.Time(time.UnixMilli(n.CreatedAt).UTC())
	}
	size := EntrySize(req)
	if size > MaxEntryBytes {
		return entry{}, fmt.Errorf("notify: eventbridge: the event of message %s in %s is %d bytes (%d recipients): %w",
			n.MessageID, n.ConversationID, size, len(n.Recipients), ErrTooLarge)
	}
	return entry{req: req, size: size, messageID: n.MessageID}, nil
}

// EntrySize is the size of a PutEvents entry as EventBridge counts it against
// MaxEntryBytes: 14 bytes for a time, plus the UTF-8 bytes of the source, the detail
// type, the detail and each resource.
func EntrySize(en types.PutEventsRequestEntry) int {
	size := 0
	if en.Time != nil {
		size += 14
	}
	size += len(aws.ToString(en.Source)) + len(aws.ToString(en.DetailType)) + len(aws.ToString(en.Detail))
	for _, r := range en.Resources {
		size += len(r)
	}
	return size
}

// put sends one batch (at most MaxBatchEntries entries), and its failed entries again
// with backoff while their error codes are retryable and attempts are left.
func (e *EventBridge) put(ctx context.Context, pending []entry) error {
	var failures []error // for good
	backoff := e.opts.Backoff
	for attempt := 1; ; attempt++ {
		in := &eventbridge.PutEventsInput{Entries: make([]types.PutEventsRequestEntry, len(pending))}
		for i, en := range pending {
			in.Entries[i] = en.req
		}
		out, err := e.client.PutEvents(ctx, in)
		if err != nil {
			err = fmt.Errorf("notify: eventbridge: put %d events on bus %s (messages %s): %w", len(pending), e.opts.Bus, messageIDs(pending), err)
			if permanentCall(err) {
				err = fmt.Errorf("%w (%w)", err, ErrPermanent)
			}
			return errors.Join(append(failures, err)...)
		}
		if out.FailedEntryCount == 0 && len(out.Entries) == len(pending) {
			return errors.Join(failures...)
		}
		if len(out.Entries) != len(pending) {
			// PutEvents answers every entry, in order: without that no entry's fate is known.
			return errors.Join(append(failures, fmt.Errorf("notify: eventbridge: %d results for %d events (messages %s), FailedEntryCount %d",
				len(out.Entries), len(pending), messageIDs(pending), out.FailedEntryCount))...)
		}
		var retry []entry
		var last []error
		for i, r := range out.Entries {
			code := aws.ToString(r.ErrorCode)
			if code == "" {
				continue
			}
			err := fmt.Errorf("notify: eventbridge: event of message %s on bus %s failed: %s: %s",
				pending[i].messageID, e.opts.Bus, code, aws.ToString(r.ErrorMessage))
			if !retryableCode(code) {
				failures = append(failures, fmt.Errorf("%w (%w)", err, ErrPermanent))
				continue
			}
			retry = append(retry, pending[i])
			last = append(last, err)
		}
		if len(retry) == 0 {
			return errors.Join(failures...)
		}
		if attempt >= e.opts.Attempts {
			for _, err := range last {
				failures = append(failures, fmt.Errorf("%w (after %d attempts)", err, attempt))
			}
			return errors.Join(failures...)
		}
		select {
		case <-ctx.Done():
			for _, err := range last {
				failures = append(failures, fmt.Errorf("%w (attempt %d; not retried: %w)", err, attempt, ctx.Err()))
			}
			return errors.Join(failures...)
		case <-e.opts.After(jitter(backoff)):
		}
		backoff *= 2
		pending = retry
	}
}

// nonRetryable are PutEvents' per-entry error codes that a retry cannot cure (the API
// reference lists InternalFailure and ThrottlingException as the retryable ones). An
// unknown code is retried: an extra attempt is cheap, a lost notification is not.
var nonRetryable = map[string]bool{
	"AccessDeniedException":               true,
	"InvalidAccountIdException":           true,
	"InvalidArgument":                     true,
	"MalformedDetail":                     true,
	"RedactionFailure":                    true,
	"NotAuthorizedForSourceException":     true,
	"NotAuthorizedForDetailTypeException": true,
	"ValidationException":                 true,
}

func retryableCode(code string) bool { return !nonRetryable[code] }

// permanentCall reports whether a failed PutEvents call was refused for the request itself
// (a 4xx other than throttling: access denied, no such bus, a bad request), which a retry
// would not cure.
func permanentCall(err error) bool {
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		return false // transport errors, timeouts, cancellation
	}
	if status := re.HTTPStatusCode(); status < 400 || status >= 500 || status == 429 {
		return false
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch code := ae.ErrorCode(); {
		case strings.Contains(code, "Throttl"), strings.Contains(code, "ExpiredToken"),
			code == "TooManyRequestsException", code == "LimitExceededException", code == "RequestTimeout":
			return false
		}
	}
	return true
}

func messageIDs(es []entry) string {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.messageID
	}
	return strings.Join(ids, ",")
}

// jitter returns a duration between d/2 and d.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}
