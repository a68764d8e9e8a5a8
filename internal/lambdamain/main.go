// Package lambdamain is the start-up of every function under functions/: look the function
// up in internal/topology, read the configuration, build the app, start the Lambda
// runtime. A configuration error stops the function at init with a message that names the
// variable.
package lambdamain

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/parleychat/parley/internal/app"
	"github.com/parleychat/parley/internal/awslambda"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/topology"
)

// Main starts the function that internal/topology declares under name (the directory
// name under functions/): a route function serving its route keys, the authorizer, or
// the stream consumer.
func Main(name string) {
	fn, ok := topology.Lookup(name)
	if !ok {
		exit(fmt.Errorf("no function %q in internal/topology", name))
	}
	ctx := context.Background()
	switch fn.Kind {
	case topology.KindAuthorizer:
		cfg := load(config.NeedAuth)
		v, err := app.Verifier(ctx, cfg, nil)
		if err != nil {
			exit(err)
		}
		lambda.Start(awslambda.NewAuthorizer(v, app.Logger(cfg)).Handle)
	case topology.KindStream:
		lambda.Start(build(ctx, nil).Stream.Handle)
	default:
		lambda.Start(build(ctx, fn.Routes).Handler.Handle)
	}
}

func build(ctx context.Context, routes []string) *app.App {
	a, err := app.New(ctx, load(config.NeedTables|config.NeedManagement), app.Options{Routes: routes})
	if err != nil {
		exit(err)
	}
	return a
}

func load(need config.Need) config.Config {
	cfg, err := config.Load(os.Getenv, need)
	if err != nil {
		exit(err)
	}
	return cfg
}

// exit stops the function during init; the runtime reports the init failure.
func exit(err error) {
	fmt.Fprintf(os.Stderr, "parley: init failed: %v\n", err)
	os.Exit(1)
}
