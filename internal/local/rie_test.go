package local_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/local"
)

// TestWireRIERefusesInProcessOptions: the clock skew of --instances and the service
// options reach in-process handlers only, so WireRIE refuses them before it builds or
// starts anything (e2e's TestLambdaRIE runs the functions under the emulator).
func TestWireRIERefusesInProcessOptions(t *testing.T) {
	t.Parallel()
	for name, wc := range map[string]local.WireConfig{
		"clock skew": {Instances: 2, ClockSkew: time.Second},
		"service":    {Service: chat.Options{Now: time.Now}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			wire := local.WireRIE(local.RIEConfig{Source: t.TempDir()})
			_, err := wire(context.Background(), wc)
			if err == nil || !strings.Contains(err.Error(), "in-process handlers only") {
				t.Fatalf("got %v, want the refusal of in-process options", err)
			}
		})
	}
}
