// Command authorizer is the REQUEST authorizer of the WebSocket API's $connect route.
package main

import "github.com/parleychat/parley/internal/lambdamain"

func main() { lambdamain.Authorizer() }
