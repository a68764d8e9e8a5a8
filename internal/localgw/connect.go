package localgw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"
)

// serveWebSocket runs one connection from handshake to $disconnect.
func (g *Gateway) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		writeJSONError(w, http.StatusUpgradeRequired, "", "This endpoint only accepts WebSocket connections")
		return
	}
	if !g.checkOrigin(w, r) {
		return
	}
	g.mu.Lock()
	if g.shutdown {
		g.mu.Unlock()
		writeJSONError(w, http.StatusServiceUnavailable, "", "Service Unavailable")
		return
	}
	g.active.Add(1)
	g.mu.Unlock()
	defer g.active.Done()

	now := time.Now()
	c := &conn{
		g:           g,
		id:          g.newConnectionID(),
		connectedAt: now,
		sourceIP:    sourceIP(r),
		userAgent:   r.UserAgent(),
		domainName:  g.opts.DomainName,
		log:         g.log,
	}
	if c.domainName == "" {
		c.domainName = r.Host
	}
	c.log = g.log.With("connectionId", c.id)
	c.lastActive.Store(now.UnixNano())

	// The invocations outlive the handshake request's context: $disconnect must run even
	// while the server is being shut down.
	base := context.WithoutCancel(r.Context())

	if g.opts.Authorize != nil {
		auth, status, msg := g.authorize(base, c, r, now)
		if status != 0 {
			c.log.Info("localgw: handshake refused by authorizer", "status", status)
			writeJSONError(w, status, "", msg)
			return
		}
		c.authorizer = auth
	}

	ev := c.event(events.APIGatewayWebsocketProxyRequest{}, "$connect", "CONNECT", now)
	ev.Headers, ev.MultiValueHeaders = headerMaps(r.Header, r.Host)
	ev.QueryStringParameters, ev.MultiValueQueryStringParameters = queryMaps(r)
	resp, err := g.invoke(base, ev)
	if err != nil {
		c.log.Error("localgw: $connect failed", "err", err)
		writeJSONError(w, http.StatusInternalServerError, "", "Internal server error")
		return
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		status := resp.StatusCode
		if status < 400 || status > 599 {
			status = http.StatusForbidden
		}
		c.log.Info("localgw: $connect rejected the connection", "status", resp.StatusCode)
		writeJSONError(w, status, "", http.StatusText(status))
		return
	}

	accept := &websocket.AcceptOptions{
		// API Gateway checks no Origin; checkOrigin above did what Options.AllowedOrigins
		// asks for, before the authorizer and $connect ran.
		InsecureSkipVerify: true,
	}
	if p := headerValue(resp.Headers, resp.MultiValueHeaders, "Sec-WebSocket-Protocol"); p != "" {
		accept.Subprotocols = []string{p}
	}
	ws, err := websocket.Accept(w, r, accept)
	if err != nil {
		// Accept has answered the request. $connect succeeded, so API Gateway's contract
		// says $disconnect follows.
		c.log.Warn("localgw: upgrade failed", "err", err)
		c.disconnect(base, closeCause{code: websocket.StatusAbnormalClosure, reason: "Connection was closed abnormally"})
		return
	}
	ws.SetReadLimit(g.opts.MaxFrameBytes)
	c.ws = ws
	c.run(base)
}

// authorize runs the authorizer. It returns the requestContext.authorizer map on Allow,
// or the HTTP status and message to refuse the handshake with.
func (g *Gateway) authorize(ctx context.Context, c *conn, r *http.Request, now time.Time) (map[string]any, int, string) {
	req := events.APIGatewayCustomAuthorizerRequestTypeRequest{
		Type: "REQUEST",
		MethodArn: fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/$connect",
			g.opts.Region, g.opts.AccountID, g.opts.APIID, g.opts.Stage),
		Resource:   "$connect",
		Path:       r.URL.Path,
		HTTPMethod: r.Method,
		RequestContext: events.APIGatewayCustomAuthorizerRequestTypeRequestContext{
			Path:       r.URL.Path,
			AccountID:  g.opts.AccountID,
			Stage:      g.opts.Stage,
			RequestID:  newID(),
			Identity:   events.APIGatewayCustomAuthorizerRequestTypeRequestIdentity{SourceIP: c.sourceIP},
			HTTPMethod: r.Method,
			APIID:      g.opts.APIID,
		},
	}
	req.Headers, req.MultiValueHeaders = headerMaps(r.Header, r.Host)
	req.QueryStringParameters, req.MultiValueQueryStringParameters = queryMaps(r)

	ictx, cancel := context.WithTimeout(ctx, g.opts.InvokeTimeout)
	defer cancel()
	resp, err := g.opts.Authorize(ictx, req)
	if err != nil {
		if err.Error() == "Unauthorized" {
			return nil, http.StatusUnauthorized, "Unauthorized"
		}
		c.log.Warn("localgw: authorizer failed", "err", err)
		return nil, http.StatusForbidden, "Forbidden"
	}
	if !allowed(resp.PolicyDocument) {
		return nil, http.StatusForbidden, "Forbidden"
	}
	auth := make(map[string]any, len(resp.Context)+1)
	for k, v := range resp.Context {
		auth[k] = v
	}
	auth["principalId"] = resp.PrincipalID
	return auth, 0, ""
}

// allowed reports whether a policy allows the call: no Deny statement and at least one
// Allow statement. Resources are not matched.
func allowed(p events.APIGatewayCustomAuthorizerPolicy) bool {
	allow := false
	for _, s := range p.Statement {
		switch {
		case strings.EqualFold(s.Effect, "Deny"):
			return false
		case strings.EqualFold(s.Effect, "Allow"):
			allow = true
		}
	}
	return allow
}

// invoke calls the route function with the invocation timeout.
func (g *Gateway) invoke(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	ictx, cancel := context.WithTimeout(ctx, g.opts.InvokeTimeout)
	defer cancel()
	resp, err := g.opts.Route(ictx, ev)
	if err != nil {
		return resp, fmt.Errorf("route %s: %w", ev.RequestContext.RouteKey, err)
	}
	return resp, nil
}

// selectRoute implements the route selection expression $request.body.action.
func (g *Gateway) selectRoute(body []byte) string {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return "$default"
	}
	var action string
	if err := json.Unmarshal(obj["action"], &action); err != nil {
		return "$default"
	}
	if g.routes[action] {
		return action
	}
	return "$default"
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// headerMaps converts request headers into the event's single- and multi-valued maps.
func headerMaps(h http.Header, host string) (map[string]string, map[string][]string) {
	single := make(map[string]string, len(h)+1)
	multi := make(map[string][]string, len(h)+1)
	for k, vs := range h {
		if len(vs) == 0 {
			continue
		}
		single[k] = vs[len(vs)-1]
		multi[k] = append([]string(nil), vs...)
	}
	if host != "" {
		single["Host"] = host
		multi["Host"] = []string{host}
	}
	return single, multi
}

// queryMaps converts the query string; both maps are nil when it is empty, as in API
// Gateway's events.
func queryMaps(r *http.Request) (map[string]string, map[string][]string) {
	q := r.URL.Query()
	if len(q) == 0 {
		return nil, nil
	}
	single := make(map[string]string, len(q))
	multi := make(map[string][]string, len(q))
	for k, vs := range q {
		if len(vs) == 0 {
			continue
		}
		single[k] = vs[len(vs)-1]
		multi[k] = vs
	}
	return single, multi
}

func headerValue(single map[string]string, multi map[string][]string, name string) string {
	for k, v := range single {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	for k, vs := range multi {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

// writeJSONError writes {"message": msg} with status; errType, when set, goes into the
// x-amzn-ErrorType header the AWS SDKs read the error code from.
func writeJSONError(w http.ResponseWriter, status int, errType, msg string) {
	w.Header().Set("Content-Type", "application/json")
	if errType != "" {
		w.Header()["x-amzn-ErrorType"] = []string{errType}
	}
	w.WriteHeader(status)
	b, err := json.Marshal(struct {
		Message string `json:"message"`
	}{msg})
	if err != nil {
		return
	}
	_, _ = w.Write(b)
}

// ErrUnauthorized is an error with the exact text "Unauthorized", which an AuthorizeFunc
// returns to fail the handshake with HTTP 401, like a Lambda authorizer does.
var ErrUnauthorized = errors.New("Unauthorized") //nolint:staticcheck // API Gateway's exact text
