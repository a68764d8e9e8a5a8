package notify

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// DefaultWebhookTimeout bounds one webhook POST, response included.
const DefaultWebhookTimeout = 5 * time.Second

// WebhookOptions configures a Webhook.
type WebhookOptions struct {
	// Timeout bounds one POST, reading the response included. Default
	// DefaultWebhookTimeout.
	Timeout time.Duration
	// Client sends the requests. Default: a client of its own (http.DefaultTransport).
	Client *http.Client
}

// Webhook POSTs every notification's Document as JSON (Content-Type application/json) to
// a URL: the same document as the EventBridge event's detail. A 2xx answer accepts it;
// any other status is an error (wrapping ErrPermanent for a 4xx other than 408 and 429).
// It does not retry: the caller may.
type Webhook struct {
	url     string
	display string // url without user info and query, for errors
	client  *http.Client
	timeout time.Duration
}

var _ chat.Notifier = (*Webhook)(nil)

// NewWebhook returns a Webhook that posts to rawURL, an http:// or https:// URL.
func NewWebhook(rawURL string, opts WebhookOptions) (*Webhook, error) {
	if err := CheckURL(rawURL); err != nil {
		return nil, err
	}
	u, _ := url.Parse(rawURL)
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultWebhookTimeout
	}
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	return &Webhook{url: rawURL, display: u.Scheme + "://" + u.Host + u.Path, client: opts.Client, timeout: opts.Timeout}, nil
}

// CheckURL reports whether rawURL can be a webhook's: absolute, http or https, with a host.
func CheckURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("notify: webhook URL %q: want an http:// or https:// URL such as http://127.0.0.1:9000/notify", rawURL)
	}
	return nil
}

// URL is where the webhook posts.
func (w *Webhook) URL() string { return w.url }

// Notify posts n's Document and waits for the answer, at most the timeout.
func (w *Webhook) Notify(ctx context.Context, n chat.Notification) error {
	body, err := Marshal(n)
	if err != nil {
		return fmt.Errorf("%w: %w", err, ErrPermanent)
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("notify: webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "parley-notify/1")
	resp, err := w.client.Do(req)
	if err != nil {
		// The client's error names the URL as given: its query may hold a secret.
		return fmt.Errorf("notify: webhook %s: post the notification of message %s: %w", w.display, n.MessageID, redact(err, w.url, w.display))
	}
	defer resp.Body.Close()
	// Read a little of the answer: a reason in an error, and the connection reused.
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("notify: webhook %s answered %s to the notification of message %s: %q",
		w.display, resp.Status, n.MessageID, strings.TrimSpace(string(snippet)))
	if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests {
		return fmt.Errorf("%w (%w)", err, ErrPermanent)
	}
	return err
}

// redact replaces the full URL in err's text by its display form.
func redact(err error, full, display string) error {
	if full == display || !strings.Contains(err.Error(), full) {
		return err
	}
	return redacted{err: err, text: strings.ReplaceAll(err.Error(), full, display)}
}

type redacted struct {
	err  error
	text string
}

func (r redacted) Error() string { return r.text }
func (r redacted) Unwrap() error { return r.err }
