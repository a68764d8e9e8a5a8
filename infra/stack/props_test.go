package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/chat"
)

func TestValidateDefaults(t *testing.T) {
	p := Props{FunctionsDir: functionsDir}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if p.Stage != "prod" || p.Target != TargetAWS || p.AuthMode != AuthHS256 || p.MessageStore != StoreDynamoDB ||
		p.LogRetentionDays != 30 || p.LogLevel != "info" || p.Throttle != (Throttle{500, 1000}) || p.DestroyData ||
		p.KeyspaceName != "parley_prod" || p.InlineMaxMembers == nil || *p.InlineMaxMembers != chat.DefaultInlineMaxMembers {
		t.Errorf("defaults: %+v", p)
	}
	// 0 is a setting (the inline path off), not the default.
	off := 0
	z := Props{FunctionsDir: functionsDir, InlineMaxMembers: &off}
	if err := z.Validate(); err != nil || *z.InlineMaxMembers != 0 {
		t.Errorf("inlineMaxMembers 0: %v, %v", err, *z.InlineMaxMembers)
	}
	l := Props{FunctionsDir: functionsDir, Target: TargetLocalStack, Stage: "dev-1"}
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	if !l.DestroyData || l.KeyspaceName != "parley_dev_1" {
		t.Errorf("LocalStack defaults: DestroyData %v keyspace %q", l.DestroyData, l.KeyspaceName)
	}
}

func TestValidateRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Props)
		want   string
	}{
		{"stage", func(p *Props) { p.Stage = "bad stage" }, `stage "bad stage"`},
		{"target", func(p *Props) { p.Target = "gcp" }, `target "gcp"`},
		{"auth mode", func(p *Props) { p.AuthMode = "basic" }, `authMode "basic"`},
		{"oidc issuer", func(p *Props) { p.AuthMode = AuthOIDC; p.OIDCAudience = "x" }, "needs oidcIssuer"},
		{"oidc audience", func(p *Props) { p.AuthMode = AuthOIDC; p.OIDCIssuer = "https://issuer" }, "needs oidcAudience"},
		{"secret arn", func(p *Props) { p.JWTSecretARN = "my-secret" }, "not a Secrets Manager secret ARN"},
		{"store", func(p *Props) { p.MessageStore = "mongo" }, `messageStore: unknown message store "mongo"`},
		{"keyspaces on hybrid", func(p *Props) { p.MessageStore = StoreKeyspaces; p.Target = TargetLocalStackHybrid }, "not available on target"},
		{"keyspace name", func(p *Props) { p.MessageStore = StoreKeyspaces; p.KeyspaceName = "bad-name" }, `keyspaceName: bad keyspace name "bad-name"`},
		// The functions write the name into CQL unquoted and refuse a leading digit at
		// init: the stack must refuse it too, before anything deploys.
		{"keyspace name with a leading digit", func(p *Props) { p.MessageStore = StoreKeyspaces; p.KeyspaceName = "1parley" }, `keyspaceName: bad keyspace name "1parley"`},
		{"retention", func(p *Props) { p.LogRetentionDays = 10 }, "logRetentionDays 10"},
		{"log level", func(p *Props) { p.LogLevel = "trace" }, `logLevel "trace"`},
		{"email", func(p *Props) { p.AlarmEmail = "ops" }, `alarmEmail "ops"`},
		{"throttle", func(p *Props) { p.Throttle = Throttle{Rate: 10} }, "throttle rate and burst"},
		{"management endpoint", func(p *Props) { p.ManagementEndpoint = "localhost:8080" }, "managementEndpoint"},
		{"negative inline max members", func(p *Props) { n := -1; p.InlineMaxMembers = &n }, "inlineMaxMembers -1"},
		{"inline max members above the largest group", func(p *Props) { n := chat.MaxGroupMembers + 1; p.InlineMaxMembers = &n }, fmt.Sprintf("inlineMaxMembers %d", chat.MaxGroupMembers+1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Props{FunctionsDir: functionsDir}
			tc.mutate(&p)
			err := p.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestBootstrapCheck(t *testing.T) {
	dir := t.TempDir()
	for _, f := range Functions {
		if f == "send" {
			continue // missing
		}
		if err := os.MkdirAll(filepath.Join(dir, f), 0o755); err != nil {
			t.Fatal(err)
		}
		content := []byte("x")
		if f == "history" {
			content = nil // empty counts as missing
		}
		if err := os.WriteFile(filepath.Join(dir, f, "bootstrap"), content, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	err := checkBootstraps(dir, Functions)
	if err == nil {
		t.Fatal("no error with send missing and history empty")
	}
	for _, want := range []string{filepath.Join(dir, "send", "bootstrap"), filepath.Join(dir, "history", "bootstrap"), "make build"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v: does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), filepath.Join(dir, "fanout")) {
		t.Errorf("%v: names a bootstrap that exists", err)
	}
	// The hybrid target packages fanout only.
	if err := checkBootstraps(dir, (&Props{Target: TargetLocalStackHybrid}).functions()); err != nil {
		t.Errorf("hybrid: %v", err)
	}
}

type fakeContext map[string]any

func (c fakeContext) TryGetContext(k *string) any { return c[*k] }

func TestPropsFromContext(t *testing.T) {
	p, err := PropsFromContext(fakeContext{
		"stage": "dev", "target": "localstack", "authMode": "oidc", "oidcIssuer": "https://i", "oidcAudience": "a",
		"messageStore": "keyspaces", "logRetentionDays": float64(7), "destroyData": "true", "throttleRate": "50",
		"throttleBurst": float64(100), "alarmEmail": "a@b.co", "skipApiGatewayAccountRole": true,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Props{Stage: "dev", Target: "localstack", AuthMode: "oidc", OIDCIssuer: "https://i", OIDCAudience: "a",
		MessageStore: "keyspaces", LogRetentionDays: 7, DestroyData: true, Throttle: Throttle{50, 100},
		AlarmEmail: "a@b.co", SkipAPIGatewayAccountRole: true}
	if p.Stage != want.Stage || p.Target != want.Target || p.AuthMode != want.AuthMode || p.OIDCIssuer != want.OIDCIssuer ||
		p.OIDCAudience != want.OIDCAudience || p.MessageStore != want.MessageStore || p.LogRetentionDays != 7 ||
		!p.DestroyData || p.Throttle != want.Throttle || p.AlarmEmail != want.AlarmEmail || !p.SkipAPIGatewayAccountRole {
		t.Errorf("got %+v", p)
	}
	if _, err := PropsFromContext(fakeContext{"destroyData": "yes please", "logRetentionDays": "a month"}); err == nil ||
		!strings.Contains(err.Error(), "destroyData") || !strings.Contains(err.Error(), "logRetentionDays") {
		t.Errorf("bad context values: %v", err)
	}
}

func TestInlineMaxMembersFromContext(t *testing.T) {
	for _, tc := range []struct {
		value any
		want  *int
		err   string
	}{
		{nil, nil, ""}, // unset: Validate applies chat.DefaultInlineMaxMembers
		{"0", ptr(0), ""},
		{"25", ptr(25), ""},
		{float64(40), ptr(40), ""}, // a number in cdk.json
		{" 7 ", ptr(7), ""},
		{"ten", nil, `context inlineMaxMembers="ten": want a whole number`},
		{"2.5", nil, `context inlineMaxMembers="2.5": want a whole number`},
		{float64(2.5), nil, "want a whole number"},
	} {
		t.Run(fmt.Sprint(tc.value), func(t *testing.T) {
			c := fakeContext{}
			if tc.value != nil {
				c["inlineMaxMembers"] = tc.value
			}
			p, err := PropsFromContext(c)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (p.InlineMaxMembers == nil) != (tc.want == nil) || (tc.want != nil && *p.InlineMaxMembers != *tc.want) {
				t.Errorf("InlineMaxMembers = %v, want %v", p.InlineMaxMembers, tc.want)
			}
		})
	}
	// A value that parses but is out of range is refused by Validate (New), before synth.
	p, err := PropsFromContext(fakeContext{"inlineMaxMembers": "-3"})
	if err != nil {
		t.Fatal(err)
	}
	p.FunctionsDir = functionsDir
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "inlineMaxMembers -3") {
		t.Errorf("Validate() = %v, want inlineMaxMembers -3 refused", err)
	}
}

func ptr(n int) *int { return &n }
