// Command infra is Parley's CDK app: `cdk synth` (or `make synth`) runs it. Configuration
// comes from CDK context (cdk.json, or -c key=value): see stack.PropsFromContext.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/parleychat/parley/infra/stack"
)

func main() {
	defer jsii.Close()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "parley infra:", err)
		os.Exit(1)
	}
}

func run() error {
	app := awscdk.NewApp(nil)
	props, err := stack.PropsFromContext(app.Node())
	if err != nil {
		return err
	}
	props.StackProps = awscdk.StackProps{Env: env()}
	stage := props.Stage
	if stage == "" {
		stage = "prod"
	}
	id := "Parley-" + stage
	if _, err := stack.New(app, id, props); err != nil {
		return err
	}
	// cdk-nag's AwsSolutions pack: an unsuppressed error fails synth.
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	app.Synth(nil)
	return nil
}

// env pins the stack to the CLI's account and region when they are known (cdk deploy
// sets CDK_DEFAULT_ACCOUNT/REGION); otherwise the template stays environment-agnostic.
func env() *awscdk.Environment {
	account, region := os.Getenv("CDK_DEFAULT_ACCOUNT"), os.Getenv("CDK_DEFAULT_REGION")
	if account == "" || region == "" {
		return nil
	}
	return &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)}
}
