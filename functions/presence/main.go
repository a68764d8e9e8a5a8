// Command presence is the Lambda function of the WebSocket API's presence, heartbeat and $default routes.
package main

import "github.com/parleychat/parley/internal/lambdamain"

func main() { lambdamain.Routes("presence", "heartbeat", "$default") }
