// Command conversations is the Lambda function of the WebSocket API's conversations, createConversation, addMembers and leave routes.
package main

import "github.com/parleychat/parley/internal/lambdamain"

func main() { lambdamain.Routes("conversations", "createConversation", "addMembers", "leave") }
