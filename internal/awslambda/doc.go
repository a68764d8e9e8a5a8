// Package awslambda adapts the chat service to AWS Lambda's event shapes: the WebSocket
// route handler (events.APIGatewayWebsocketProxyRequest), the REQUEST authorizer of
// $connect, and the DynamoDB stream handler that fans messages out.
//
// Each handler decodes its event, makes one service call and encodes the result. The
// functions under functions/ and the local runtime call the very same handlers.
package awslambda
