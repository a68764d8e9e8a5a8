// Command fn is a Lambda function for the rie package's tests: it answers what its event
// asks for.
package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Sleep string `json:"sleep"`
	Fail  string `json:"fail"`
	Exit  bool   `json:"exit"`
	Panic bool   `json:"panic"`
}

type response struct {
	Env      map[string]string `json:"env"`
	Deadline float64           `json:"deadline"` // seconds left
	Function string            `json:"function"`
	Pid      int               `json:"pid"`
}

func main() {
	if os.Getenv("FAIL_INIT") != "" {
		os.Stderr.WriteString("fn: init failed: FAIL_INIT is set\n")
		os.Exit(1)
	}
	lambda.Start(func(ctx context.Context, ev event) (response, error) {
		if d, err := time.ParseDuration(ev.Sleep); err == nil {
			time.Sleep(d)
		}
		switch {
		case ev.Exit:
			os.Exit(3)
		case ev.Panic:
			panic("fn: asked to panic")
		case ev.Fail != "":
			return response{}, errors.New(ev.Fail)
		}
		os.Stdout.WriteString("fn: handled an event\n")
		dl, _ := ctx.Deadline()
		env := map[string]string{}
		for _, k := range []string{"GREETING", "HOME", "PATH", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_TIMEOUT"} {
			if v, ok := os.LookupEnv(k); ok {
				env[k] = v
			}
		}
		return response{Env: env, Deadline: time.Until(dl).Seconds(), Function: lambdacontext.FunctionName, Pid: os.Getpid()}, nil
	})
}
