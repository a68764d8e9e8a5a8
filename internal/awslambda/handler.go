package awslambda

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/topology"
)

// Route keys of the WebSocket API besides the actions (internal/topology declares which
// function serves which).
const (
	RouteConnect    = topology.RouteConnect
	RouteDisconnect = topology.RouteDisconnect
	RouteDefault    = topology.RouteDefault
)

// Handler serves the WebSocket routes: it decodes a frame, makes the one service call of
// its action and encodes the reply.
type Handler struct {
	svc    *chat.Service
	log    *slog.Logger
	routes map[string]bool
}

// HandlerOptions tunes a Handler.
type HandlerOptions struct {
	// Routes restricts the route keys this handler serves (a function deployed for some
	// routes only); a frame for another route is answered with an internal error and
	// logged, since only a misconfigured API sends it. Nil serves every route.
	Routes []string
	// Logger, default slog.Default().
	Logger *slog.Logger
}

// NewHandler returns a Handler over the service.
func NewHandler(svc *chat.Service, opts HandlerOptions) *Handler {
	h := &Handler{svc: svc, log: opts.Logger}
	if h.log == nil {
		h.log = slog.Default()
	}
	if opts.Routes != nil {
		h.routes = map[string]bool{}
		for _, r := range opts.Routes {
			h.routes[r] = true
		}
	}
	return h
}

// UserID returns the authenticated user of a request: the principalId (or the userId
// context value) that the authorizer put in requestContext.authorizer.
func UserID(rc events.APIGatewayWebsocketProxyRequestContext) string {
	m, ok := rc.Authorizer.(map[string]any)
	if !ok {
		return ""
	}
	for _, k := range []string{"principalId", "userId"} {
		if s, ok := m[k].(string); ok && chat.ValidUserID(s) {
			return s
		}
	}
	return ""
}

// Handle serves one route invocation. The response body, when not empty, is the frame
// for the caller (API Gateway's route response); other frames are pushed.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	rc := req.RequestContext
	user := UserID(rc)
	log := h.log.With("connectionId", rc.ConnectionID, "userId", user, "routeKey", rc.RouteKey)
	if h.routes != nil && !h.routes[rc.RouteKey] {
		log.ErrorContext(ctx, "route not served by this function: check the API's integrations")
		return h.reply(ctx, log, chat.Request{}, nil, fmt.Errorf("route %q is not served by this function", rc.RouteKey))
	}
	switch rc.RouteKey {
	case RouteConnect:
		if user == "" {
			log.ErrorContext(ctx, "$connect without an authenticated user: is the authorizer attached?")
			return events.APIGatewayProxyResponse{StatusCode: http.StatusUnauthorized}, nil
		}
		if err := h.svc.Connect(ctx, user, rc.ConnectionID); err != nil {
			log.ErrorContext(ctx, "connect", "err", err)
			return events.APIGatewayProxyResponse{StatusCode: http.StatusInternalServerError}, nil
		}
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
	case RouteDisconnect:
		if user != "" {
			if err := h.svc.Disconnect(ctx, user, rc.ConnectionID); err != nil {
				log.ErrorContext(ctx, "disconnect", "err", err)
				return events.APIGatewayProxyResponse{StatusCode: http.StatusInternalServerError}, nil
			}
		}
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
	}

	body := []byte(req.Body)
	if req.IsBase64Encoded {
		return h.reply(ctx, log, chat.Request{}, nil, chat.Errorf(chat.CodeBadRequest, "binary frames are not accepted: send JSON text frames"))
	}
	r, err := chat.DecodeRequest(body)
	if err != nil {
		return h.reply(ctx, log, r, nil, err)
	}
	if rc.RouteKey == RouteDefault {
		return h.reply(ctx, log, r, nil, chat.Errorf(chat.CodeUnknownAction, "no action %q", r.Action))
	}
	// The route key is the action. API Gateway selects it on the exact key "action", while
	// encoding/json matches keys case-insensitively, so {"action":"heartbeat","Action":"send"}
	// decodes to "send": dispatching on that would run another function's action here.
	r.Action = rc.RouteKey
	if user == "" {
		return h.reply(ctx, log, r, nil, chat.Errorf(chat.CodeUnauthorized, "no authenticated user on this route"))
	}
	if err := h.svc.Allow(user); err != nil {
		return h.reply(ctx, log, r, nil, err)
	}
	// No presence write here: presence is the open connection ($connect, $disconnect),
	// so frames cost no presence request.
	c := chat.Caller{UserID: user, ConnectionID: rc.ConnectionID, RequestID: r.RequestID}
	frame, err := h.dispatch(ctx, c, r)
	return h.reply(ctx, log, r, frame, err)
}

// dispatch makes the one service call of an action and returns its reply frame (nil for
// none).
func (h *Handler) dispatch(ctx context.Context, c chat.Caller, r chat.Request) (any, error) {
	switch r.Action {
	case "send":
		ack, err := h.svc.Send(ctx, c, chat.SendInput{ConversationID: r.ConversationID, To: r.To, ClientMsgID: r.ClientMsgID, Body: r.Body, ReplyTo: r.ReplyTo})
		if err == nil && ack.Posted {
			return nil, nil // the inline path posted the ack already
		}
		return ack, err
	case "typing":
		return nil, h.svc.Typing(ctx, c, r.ConversationID, r.State)
	case "edit":
		return h.svc.Edit(ctx, c, r.ConversationID, r.MessageID, r.Body)
	case "delete":
		return h.svc.Delete(ctx, c, r.ConversationID, r.MessageID)
	case "react":
		return h.svc.React(ctx, c, r.ConversationID, r.MessageID, r.Emoji, r.State)
	case "mute":
		return h.svc.Mute(ctx, c, r.ConversationID, r.Until)
	case "unmute":
		return h.svc.Unmute(ctx, c, r.ConversationID)
	case "receipt":
		return h.svc.Receipt(ctx, c, r.ConversationID, r.MessageID, r.Status)
	case "history":
		return h.svc.History(ctx, c, r.ConversationID, r.Before, r.Limit)
	case "sync":
		return h.svc.Sync(ctx, c)
	case "conversations":
		return h.svc.Conversations(ctx, c)
	case "createConversation":
		return h.svc.CreateConversation(ctx, c, r.Members, r.Name)
	case "addMembers":
		return h.svc.AddMembers(ctx, c, r.ConversationID, r.Members)
	case "leave":
		return h.svc.Leave(ctx, c, r.ConversationID)
	case "presence":
		return h.svc.Presence(ctx, c, r.UserIDs)
	case "heartbeat":
		return h.svc.Heartbeat(ctx, c), nil
	}
	return nil, chat.Errorf(chat.CodeUnknownAction, "no action %q", r.Action)
}

// reply encodes the reply frame, or the error frame for err. This is the one place where
// errors become protocol codes; internal errors are logged here and never shown. An error
// that wraps chat.ErrGone means the caller's own connection is gone: nobody to answer.
func (h *Handler) reply(ctx context.Context, log *slog.Logger, r chat.Request, frame any, err error) (events.APIGatewayProxyResponse, error) {
	if errors.Is(err, chat.ErrGone) {
		log.DebugContext(ctx, "the caller left before the reply", "action", r.Action, "requestId", r.RequestID, "err", err)
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
	}
	if err != nil {
		code := chat.ErrorCode(err)
		msg := "internal error; retrying is safe"
		var ce *chat.Error
		if errors.As(err, &ce) {
			msg = ce.Message
		} else {
			log.ErrorContext(ctx, "request failed", "action", r.Action, "requestId", r.RequestID, "err", err)
		}
		frame = chat.ErrorFrame{Type: chat.TypeError, RequestID: r.RequestID, Action: r.Action, Code: code, Message: msg}
	}
	if frame == nil {
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
	}
	b, err := chat.Encode(frame)
	if err != nil {
		log.ErrorContext(ctx, "encode reply", "err", err)
		return events.APIGatewayProxyResponse{StatusCode: http.StatusInternalServerError}, nil
	}
	return events.APIGatewayProxyResponse{StatusCode: http.StatusOK, Body: string(b)}, nil
}
