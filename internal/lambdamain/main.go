// Package lambdamain is the start-up of every function under functions/: read the
// configuration, build the app, start the Lambda runtime. A configuration error stops the
// function at init with a message that names the variable.
package lambdamain

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/parleychat/parley/internal/app"
	"github.com/parleychat/parley/internal/awslambda"
	"github.com/parleychat/parley/internal/config"
)

// Routes starts a WebSocket route function serving the given route keys.
func Routes(routes ...string) {
	a := build(config.NeedTables|config.NeedManagement, routes)
	lambda.Start(a.Handler.Handle)
}

// Stream starts the fan-out function.
func Stream() {
	a := build(config.NeedTables|config.NeedManagement, nil)
	lambda.Start(a.Stream.Handle)
}

// Authorizer starts the $connect authorizer.
func Authorizer() {
	ctx := context.Background()
	cfg := load(config.NeedAuth)
	v, err := app.Verifier(ctx, cfg, nil)
	if err != nil {
		exit(err)
	}
	lambda.Start(awslambda.NewAuthorizer(v, app.Logger(cfg)).Handle)
}

func build(need config.Need, routes []string) *app.App {
	ctx := context.Background()
	cfg := load(need)
	opts := app.Options{Routes: routes}
	store, err := messageStore(ctx, cfg)
	if err != nil {
		exit(err)
	}
	opts.MessageStore = store
	a, err := app.New(ctx, cfg, opts)
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
