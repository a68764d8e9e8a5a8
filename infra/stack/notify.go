package stack

import (
	"maps"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
)

// newNotifyBus returns the event bus that offline notifications go to (docs/deploy.md,
// "Offline notifications"): one the stack creates (NotifyBusStack), the account's default
// bus (NotifyBusDefault), or nil with NotifyBusNone.
func newNotifyBus(s awscdk.Stack, p *Props) awsevents.IEventBus {
	switch p.NotifyBus {
	case NotifyBusStack:
		return awsevents.NewEventBus(s, jsii.String("NotificationsBus"), &awsevents.EventBusProps{
			EventBusName: jsii.String(p.NotifyBusName()),
			Description:  jsii.String("Parley " + p.Stage + ": offline notifications (source parley, detail type Parley Offline Message)"),
		})
	case NotifyBusDefault:
		return awsevents.EventBus_FromEventBusName(s, jsii.String("DefaultBus"), jsii.String(NotifyBusDefault))
	}
	return nil
}

// notifyEnv returns env with the notification settings of a function that notifies
// (access.Notify): NOTIFY_BUS (the bus's name) and NOTIFY_PREVIEW. Without a bus it
// returns env as it is: the functions make no notifications then.
func notifyEnv(env map[string]*string, p *Props, bus awsevents.IEventBus) map[string]*string {
	if bus == nil {
		return env
	}
	out := maps.Clone(env)
	out["NOTIFY_BUS"] = bus.EventBusName()
	out["NOTIFY_PREVIEW"] = jsii.String(strconv.FormatBool(*p.NotifyPreview))
	return out
}

// grantNotify allows events:PutEvents on the bus only.
func grantNotify(fn awslambda.Function, bus awsevents.IEventBus) {
	if bus != nil {
		bus.GrantPutEventsTo(fn, nil)
	}
}
