// Command connect is the Lambda function of the WebSocket API's $connect route.
package main

import (
	"github.com/parleychat/parley/internal/awslambda"
	"github.com/parleychat/parley/internal/lambdamain"
)

func main() { lambdamain.Routes(awslambda.RouteConnect) }
