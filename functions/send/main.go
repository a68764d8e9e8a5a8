// Command send is the Lambda function of the WebSocket API's send and typing routes.
package main

import "github.com/parleychat/parley/internal/lambdamain"

func main() { lambdamain.Routes("send", "typing") }
