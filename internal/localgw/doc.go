// Package localgw is a local stand-in for an Amazon API Gateway WebSocket API.
//
// A Gateway is an http.Handler that serves
//
//   - the WebSocket endpoint (Options.Path, default "/ws"): $connect through a REQUEST
//     authorizer and the $connect route, route selection on $request.body.action with
//     $default as the fallback, route responses sent back as text frames, 32 KiB frames
//     (larger ones close the connection with status 1009), idle and lifetime limits, and
//     $disconnect on every kind of close;
//   - the Management API: POST, GET and DELETE on /@connections/{id}, also reachable under
//     the stage prefix /{stage}/@connections/{id}, with AWS's status codes and error shapes
//     (410 GoneException, 413 PayloadTooLargeException), so the real
//     aws-sdk-go-v2 apigatewaymanagementapi client works against it with its BaseEndpoint
//     set to the gateway's URL (with or without the stage).
//
// Every other path goes to Options.Fallback, so the local runtime can mount the gateway at
// "/" and serve its web client behind it.
//
// Lambda functions are plain Go funcs invoked in process with the aws-lambda-go events
// types API Gateway would send: events.APIGatewayCustomAuthorizerRequestTypeRequest for the
// authorizer and events.APIGatewayWebsocketProxyRequest for routes.
//
// Two protections API Gateway does not have guard a gateway on a developer's machine
// (access.go): Options.AllowedHosts answers only requests whose Host header names the
// server (others get 421, which defeats DNS rebinding), and Options.AllowedOrigins lets
// only pages of the listed origins open a WebSocket (others get 403 before the
// authorizer; a handshake without Origin, from a client that is not a browser, passes).
// Both are off by default.
//
// Known differences from API Gateway:
//
//   - The authorizer's policy is not matched against the method ARN: any Deny statement
//     denies, otherwise one Allow statement allows.
//   - events.APIGatewayCustomAuthorizerRequestTypeRequestContext has no connectionId,
//     routeKey or eventType fields, so the authorizer cannot see them (API Gateway sends
//     them); MethodArn ends in "/$connect".
//   - Route responses are sent for every route whose response has a non-empty body (API
//     Gateway sends them only for routes with a route response configured).
package localgw
