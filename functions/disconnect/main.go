// Command disconnect is the Lambda function of the WebSocket API's $disconnect route.
package main

import (
	"github.com/parleychat/parley/internal/awslambda"
	"github.com/parleychat/parley/internal/lambdamain"
)

func main() { lambdamain.Routes(awslambda.RouteDisconnect) }
