// Command history is the Lambda function of the WebSocket API's history and sync routes.
package main

import "github.com/parleychat/parley/internal/lambdamain"

func main() { lambdamain.Routes("history", "sync") }
