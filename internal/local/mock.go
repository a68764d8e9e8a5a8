package local

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/parleychat/parley/internal/localgw"
	"github.com/parleychat/parley/internal/topology"
)

// withMocks answers the route keys of topology.MockRoutes itself, as API Gateway's MOCK
// integrations do on AWS: no function is invoked (so no invocation latency, fault or
// deadline applies), nothing is read or written, and the one-way keepalive gets no reply.
// Every other route goes to next.
func withMocks(next localgw.RouteFunc) localgw.RouteFunc {
	return func(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		if topology.IsMock(req.RequestContext.RouteKey) {
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
		}
		return next(ctx, req)
	}
}
