// Command receipts is the Lambda function of the WebSocket API's receipt route.
package main

import "github.com/parleychat/parley/internal/lambdamain"

func main() { lambdamain.Routes("receipt") }
