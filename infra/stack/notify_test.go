package stack

import (
	"reflect"
	"strings"
	"testing"
)

// defaultBusARN is the account's default event bus in the template.
const defaultBusARN = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"

// notifyDefaultVariant: notifications on the account's default bus, without previews.
func notifyDefaultVariant(t *testing.T) *synthesized {
	return variant(t, "notify-default", func(p *Props) {
		off := false
		p.NotifyBus = NotifyBusDefault
		p.NotifyPreview = &off
	})
}

// notifyNoneVariant: no notifications.
func notifyNoneVariant(t *testing.T) *synthesized {
	return variant(t, "notify-none", func(p *Props) { p.NotifyBus = NotifyBusNone })
}

// TestNotifications checks the three notifyBus choices: the bus, the functions that get
// NOTIFY_BUS and NOTIFY_PREVIEW (send and fanout, which deliver messages, and no other),
// their events:PutEvents grant on that bus only, and the outputs.
func TestNotifications(t *testing.T) {
	for _, tc := range []struct {
		name    string
		v       func(*testing.T) *synthesized
		buses   int
		bus     func(v *synthesized) string // NOTIFY_BUS rendered; "" for none
		arn     func(v *synthesized) string // the PutEvents resource rendered
		preview string
	}{
		{
			name:    "stack bus (default)",
			v:       defaultVariant,
			buses:   1,
			bus:     func(v *synthesized) string { return "${" + busID(t, v) + "}" },
			arn:     func(v *synthesized) string { return "${" + busID(t, v) + ".Arn}" },
			preview: "true", // previews are on by default
		},
		{
			name:    "account's default bus",
			v:       notifyDefaultVariant,
			bus:     func(*synthesized) string { return "default" },
			arn:     func(*synthesized) string { return defaultBusARN },
			preview: "false",
		},
		{
			name: "none",
			v:    notifyNoneVariant,
			bus:  func(*synthesized) string { return "" },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v(t)
			v.count(t, "AWS::Events::EventBus", tc.buses)
			if tc.buses == 1 {
				v.has(t, "AWS::Events::EventBus", map[string]any{"Name": "parley-prod-notifications"})
			}
			wantBus := tc.bus(v)
			fns := v.resources("AWS::Lambda::Function")
			for _, name := range Functions {
				env := props(fns[v.functionID(t, name)])["Environment"].(map[string]any)["Variables"].(map[string]any)
				notifies := (name == "send" || name == "fanout") && wantBus != ""
				bus, hasBus := env["NOTIFY_BUS"]
				preview, hasPreview := env["NOTIFY_PREVIEW"]
				if !notifies {
					if hasBus || hasPreview {
						t.Errorf("%s: NOTIFY_BUS %v NOTIFY_PREVIEW %v, want neither", name, bus, preview)
					}
				} else {
					if got := render(bus); got != wantBus {
						t.Errorf("%s: NOTIFY_BUS = %s, want %s", name, got, wantBus)
					}
					if preview != tc.preview {
						t.Errorf("%s: NOTIFY_PREVIEW = %v, want %s", name, preview, tc.preview)
					}
				}
				var events []stmt
				for _, s := range v.statements(t, name) {
					if strings.HasPrefix(s.Action, "events:") {
						events = append(events, s)
					}
				}
				var want []stmt
				if notifies {
					want = []stmt{{Action: "events:PutEvents", Resource: tc.arn(v)}}
				}
				if !reflect.DeepEqual(events, want) {
					t.Errorf("%s: EventBridge statements %v, want %v", name, events, want)
				}
			}
			outs := v.json["Outputs"].(map[string]any)
			for _, k := range []string{"NotificationsBusName", "NotificationsBusArn"} {
				o, ok := outs[k].(map[string]any)
				if ok != (wantBus != "") {
					t.Errorf("output %s present %v, want %v", k, ok, wantBus != "")
					continue
				}
				if !ok {
					continue
				}
				want := wantBus
				if k == "NotificationsBusArn" {
					want = tc.arn(v)
				}
				if got := render(o["Value"]); got != want {
					t.Errorf("output %s = %s, want %s", k, got, want)
				}
			}
		})
	}
}

// busID is the logical id of the stack's own event bus.
func busID(t *testing.T, v *synthesized) string {
	t.Helper()
	buses := v.resources("AWS::Events::EventBus")
	if len(buses) != 1 {
		t.Fatalf("%d event buses, want 1", len(buses))
	}
	for id := range buses {
		return id
	}
	return ""
}

func TestNotifyProps(t *testing.T) {
	p := Props{FunctionsDir: functionsDir, Stage: "dev-1"}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if p.NotifyBus != NotifyBusStack || p.NotifyPreview == nil || !*p.NotifyPreview || p.NotifyBusName() != "parley-dev-1-notifications" {
		t.Errorf("defaults: notifyBus %q preview %v bus name %q", p.NotifyBus, p.NotifyPreview, p.NotifyBusName())
	}
	for _, tc := range []struct {
		ctx     fakeContext
		bus     string
		preview *bool
		err     string
	}{
		{ctx: fakeContext{}, bus: "", preview: nil},
		{ctx: fakeContext{"notifyBus": "stack"}, bus: NotifyBusStack},
		{ctx: fakeContext{"notifyBus": "default"}, bus: NotifyBusDefault},
		{ctx: fakeContext{"notifyBus": " None "}, bus: NotifyBusNone},
		{ctx: fakeContext{"notifyPreview": "false"}, preview: new(false)},
		{ctx: fakeContext{"notifyPreview": true}, preview: new(true)}, // a boolean in cdk.json
		{ctx: fakeContext{"notifyPreview": "sometimes"}, err: `context notifyPreview="sometimes": want true or false`},
	} {
		p, err := PropsFromContext(tc.ctx)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: error %v, want %q", tc.ctx, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tc.ctx, err)
			continue
		}
		if p.NotifyBus != tc.bus || !reflect.DeepEqual(p.NotifyPreview, tc.preview) {
			t.Errorf("%v: notifyBus %q preview %v, want %q %v", tc.ctx, p.NotifyBus, p.NotifyPreview, tc.bus, tc.preview)
		}
	}
	bad := Props{FunctionsDir: functionsDir, NotifyBus: "my-bus"}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), `notifyBus "my-bus": want stack`) {
		t.Errorf("Validate() = %v, want notifyBus refused", err)
	}
	none := Props{FunctionsDir: functionsDir, NotifyBus: NotifyBusNone}
	if err := none.Validate(); err != nil || none.NotifyBusName() != "" {
		t.Errorf("none: %v, bus name %q", err, none.NotifyBusName())
	}
}
