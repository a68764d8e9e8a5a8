package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/parleychat/parley/internal/dynalite"
	"github.com/parleychat/parley/internal/localgw"
	"github.com/parleychat/parley/internal/rie"
	"github.com/parleychat/parley/internal/topology"
)

// RIEConfig runs every function's built bootstrap as a process of its own under the AWS
// Lambda Runtime Interface Emulator (Config.LambdaRIE, `parley local --lambda-rie`), in
// place of the in-process handlers: the gateway and the stream mappings invoke them through
// the emulator's HTTP invoke API, so the packaged artifacts run with the environment the
// stack gives them. Every zero field selects the documented default.
type RIEConfig struct {
	// Emulator is the aws-lambda-rie binary. Default: aws-lambda-rie on PATH, else
	// .tools/bin/aws-lambda-rie under Source, where scripts/install-rie.sh (`make rie`)
	// installs it.
	Emulator string
	// Functions is a directory with NAME/bootstrap for every function of
	// internal/topology, built for this machine (BuildFunctions). Default: built from
	// Source into a temporary directory that Close removes.
	Functions string
	// Source is the repository the functions are built from. Default ".".
	Source string
	// Output receives what the emulators and the functions print (the emulator's START,
	// END and REPORT lines of every invocation, the functions' JSON logs), each line
	// prefixed with the function's name. Default: discarded.
	Output io.Writer
}

// WireRIE returns a WireFunc that starts one emulator per function of internal/topology
// (Instances of them with WireConfig.Instances above 1), each running NAME/bootstrap with
// the environment the stack sets (WireConfig.Env, the same for every function) and the
// function's timeout and memory size, and returns handlers that invoke them:
//
//   - Authorize sends the APIGatewayCustomAuthorizerRequestTypeRequest to the authorizer;
//     its error "Unauthorized" becomes localgw.ErrUnauthorized (HTTP 401), as API Gateway
//     reads it;
//   - Route sends the APIGatewayWebsocketProxyRequest to the function that serves its
//     route key (topology.Routes);
//   - Stream sends the DynamoDBEvent to the stream function.
//
// A function's error, panic, crash, timeout or failed init comes back as an error that
// wraps a *rie.FunctionError, so the gateway and the mappings retry as they do with the
// in-process handlers. Each emulator runs one invocation at a time, as one Lambda
// execution environment does. The functions' clock and service options cannot be
// changed from outside their processes: WireConfig.ClockSkew and WireConfig.Service must
// be zero.
func WireRIE(rc RIEConfig) WireFunc {
	return func(ctx context.Context, wc WireConfig) (Handlers, error) {
		if wc.ClockSkew != 0 || !reflect.ValueOf(wc.Service).IsZero() {
			return Handlers{}, errors.New("wire rie: clock skew and service options reach in-process handlers only; the functions' binaries read their environment")
		}
		emulator, err := rc.emulator()
		if err != nil {
			return Handlers{}, err
		}
		dir, cleanup := rc.Functions, func() {}
		if dir == "" {
			tmp, err := os.MkdirTemp("", "parley-functions-")
			if err != nil {
				return Handlers{}, fmt.Errorf("wire rie: %w", err)
			}
			cleanup = func() { _ = os.RemoveAll(tmp) }
			if err := BuildFunctions(ctx, rc.source(), tmp); err != nil {
				cleanup()
				return Handlers{}, fmt.Errorf("wire rie: %w", err)
			}
			dir = tmp
		}
		env := wc.Env()
		// What Lambda's runtime adds for every function: its region and its role's
		// credentials, here the local DynamoDB's.
		env["AWS_REGION"] = dynalite.Region
		env["AWS_ACCESS_KEY_ID"] = dynalite.AccessKeyID
		env["AWS_SECRET_ACCESS_KEY"] = dynalite.SecretAccessKey
		fns := map[string]*rie.Function{}
		closeAll := func() {
			for _, f := range fns {
				_ = f.Close()
			}
			cleanup()
		}
		for _, fn := range topology.Functions {
			f, err := rie.Start(ctx, rie.Options{
				Emulator:  emulator,
				Bootstrap: filepath.Join(dir, fn.Name, "bootstrap"),
				Name:      fn.Name,
				Env:       env,
				Timeout:   fn.Timeout,
				MemoryMB:  fn.MemoryMB,
				Instances: wc.Instances,
				Output:    rc.Output,
			})
			if err != nil {
				closeAll()
				return Handlers{}, fmt.Errorf("wire rie: %w", err)
			}
			fns[fn.Name] = f
		}
		if wc.Logger != nil {
			wc.Logger.Info("local: the functions run under the Lambda Runtime Interface Emulator",
				"emulator", emulator, "functions", dir, "processes", len(fns)*max(wc.Instances, 1))
		}
		h, err := rieHandlers(fns)
		if err != nil {
			closeAll()
			return Handlers{}, fmt.Errorf("wire rie: %w", err)
		}
		h.Close = closeAll
		return h, nil
	}
}

// rieHandlers are the handlers that invoke fns, the running functions by name.
func rieHandlers(fns map[string]*rie.Function) (Handlers, error) {
	var authorizer, stream *rie.Function
	for _, fn := range topology.Functions {
		switch fn.Kind {
		case topology.KindAuthorizer:
			authorizer = fns[fn.Name]
		case topology.KindStream:
			if stream != nil {
				return Handlers{}, errors.New("more than one stream function in internal/topology: the mappings would need to know which to invoke")
			}
			stream = fns[fn.Name]
		}
	}
	routes := topology.Routes()
	h := Handlers{
		Route: func(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			var resp events.APIGatewayProxyResponse
			key := req.RequestContext.RouteKey
			f := fns[routes[key]]
			if f == nil {
				return resp, fmt.Errorf("local: no function serves route key %q", key)
			}
			return resp, invokeJSON(ctx, f, req, &resp)
		},
	}
	if authorizer != nil {
		h.Authorize = func(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
			var resp events.APIGatewayCustomAuthorizerResponse
			err := invokeJSON(ctx, authorizer, req, &resp)
			if fe, ok := errors.AsType[*rie.FunctionError](err); ok && fe.Message == localgw.ErrUnauthorized.Error() {
				return resp, localgw.ErrUnauthorized
			}
			return resp, err
		}
	}
	if stream != nil {
		h.Stream = func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			var resp events.DynamoDBEventResponse
			return resp, invokeJSON(ctx, stream, ev, &resp)
		}
	}
	return h, nil
}

// invokeJSON invokes f with in as its event and decodes its response into out.
func invokeJSON(ctx context.Context, f *rie.Function, in, out any) error {
	payload, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("local: encode the event: %w", err)
	}
	body, err := f.Invoke(ctx, payload)
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("local: decode the response %.200q: %w", body, err)
	}
	return nil
}

func (rc RIEConfig) source() string {
	if rc.Source == "" {
		return "."
	}
	return rc.Source
}

// emulator finds the aws-lambda-rie binary.
func (rc RIEConfig) emulator() (string, error) {
	if rc.Emulator != "" {
		return rc.Emulator, nil
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	p := filepath.Join(rc.source(), ".tools", "bin", "aws-lambda-rie")
	if _, err := os.Stat(p); err != nil {
		return "", errors.New("wire rie: aws-lambda-rie is neither on PATH nor in .tools/bin: install it with scripts/install-rie.sh (make rie), or name it with --rie-path")
	}
	return filepath.Abs(p)
}

// BuildFunctions builds every function of internal/topology from the repository at source
// into dir/NAME/bootstrap, as the Makefile's build rule does (CGO_ENABLED=0, -tags
// lambda.norpc, -trimpath, -ldflags="-s -w") but for this machine's GOOS and GOARCH
// rather than linux/arm64, so that they run here. One go build builds them all.
func BuildFunctions(ctx context.Context, source, dir string) error {
	out := filepath.Join(dir, ".build")
	args := []string{"build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", out + string(filepath.Separator)}
	for _, name := range topology.Names() {
		args = append(args, "./functions/"+name)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = source
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build the functions in %s (run parley local from the repository, or give built ones): go %s: %w\n%s",
			source, strings.Join(args, " "), err, b)
	}
	for _, name := range topology.Names() {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			return fmt.Errorf("build the functions: %w", err)
		}
		if err := os.Rename(filepath.Join(out, name), filepath.Join(dir, name, "bootstrap")); err != nil {
			return fmt.Errorf("build the functions: %w", err)
		}
	}
	return os.Remove(out)
}
