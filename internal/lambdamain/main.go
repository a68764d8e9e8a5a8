// Package lambdamain is the start-up of every function under functions/: look the function
// up in internal/topology, read the configuration, build the app, start the Lambda
// runtime. A configuration error stops the function at init with a message that names the
// variable.
package lambdamain

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/parleychat/parley/internal/app"
	"github.com/parleychat/parley/internal/awslambda"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/metrics"
	"github.com/parleychat/parley/internal/topology"
)

// Main starts the function that internal/topology declares under name (the directory
// name under functions/): a route function serving its route keys, the authorizer, or
// the stream consumer. Route and stream functions write their delivery metrics
// (internal/metrics) to stdout after every invocation; the authorizer delivers nothing.
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
		a, m, log := build(ctx, fn)
		lambda.Start(flushing(a.Stream.Handle, m, log))
	default:
		a, m, log := build(ctx, fn)
		lambda.Start(flushing(a.Handler.Handle, m, log))
	}
}

// build reads the configuration and builds the app with fn's routes and its EMF metrics
// sink, named after fn, in the namespace of metrics.EnvNamespace (default
// metrics.DefaultNamespace).
func build(ctx context.Context, fn topology.Function) (*app.App, *metrics.EMF, *slog.Logger) {
	cfg := load(config.NeedTables | config.NeedManagement)
	log := app.Logger(cfg)
	m, err := metrics.New(metrics.Options{Namespace: os.Getenv(metrics.EnvNamespace), Function: fn.Name})
	if err != nil {
		exit(fmt.Errorf("%s: %w", metrics.EnvNamespace, err))
	}
	a, err := app.New(ctx, cfg, app.Options{Routes: fn.Routes, Logger: log, Service: chat.Options{Metrics: m}})
	if err != nil {
		exit(err)
	}
	return a, m, log
}

// flusher is what flushing needs of the metrics sink.
type flusher interface{ Flush() error }

// flushing wraps a handler so that the metrics it recorded are written when it returns,
// and when it panics (the runtime then reports the panic as the invocation's error).
// Lambda may freeze the environment as soon as the invocation ends: what is written
// later may never reach the logs.
func flushing[Req, Resp any](h func(context.Context, Req) (Resp, error), m flusher, log *slog.Logger) func(context.Context, Req) (Resp, error) {
	return func(ctx context.Context, req Req) (Resp, error) {
		defer func() {
			if err := m.Flush(); err != nil {
				log.ErrorContext(ctx, "metrics not written", "err", err)
			}
		}()
		return h(ctx, req)
	}
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
