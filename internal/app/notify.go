package app

import (
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/notify"
)

// Notifier returns the offline notifier that cfg names, or nil when notifications are
// off: EventBridge on NOTIFY_BUS (with the SDK configuration's region and credentials, and
// EVENTBRIDGE_ENDPOINT when set), the webhook at NOTIFY_URL, or the log (NOTIFY_LOG).
func Notifier(awsCfg aws.Config, cfg config.Config, log *slog.Logger) (chat.Notifier, error) {
	switch {
	case cfg.NotifyBus != "":
		return notify.NewEventBridge(EventBridge(awsCfg, cfg), notify.EventBridgeOptions{Bus: cfg.NotifyBus}), nil
	case cfg.NotifyURL != "":
		w, err := notify.NewWebhook(cfg.NotifyURL, notify.WebhookOptions{})
		if err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
		return w, nil
	case cfg.NotifyLog:
		return notify.NewLog(log), nil
	}
	return nil, nil
}

// EventBridge returns an EventBridge client for cfg, with the endpoint override when set.
func EventBridge(awsCfg aws.Config, cfg config.Config) *eventbridge.Client {
	return eventbridge.NewFromConfig(awsCfg, func(o *eventbridge.Options) {
		if cfg.EventBridgeEndpoint != "" {
			o.BaseEndpoint = aws.String(cfg.EventBridgeEndpoint)
		}
	})
}
