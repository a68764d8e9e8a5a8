package localgw

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// The Management API, as API Gateway serves it at
// https://{apiId}.execute-api.{region}.amazonaws.com/{stage}/@connections/{connectionId}.

// postToConnection sends the request body to the connection as one text frame.
func (g *Gateway) postToConnection(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, g.opts.MaxPostBytes+1))
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, "BadRequestException", fmt.Sprintf("read body: %v", err))
		return
	}
	if int64(len(body)) > g.opts.MaxPostBytes {
		writeJSONError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException",
			fmt.Sprintf("Message payload exceeds the %d byte limit", g.opts.MaxPostBytes))
		return
	}
	c := g.lookup(r.PathValue("id"))
	if c == nil || !c.write(r.Context(), websocket.MessageText, body) {
		writeGone(w)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// connectionInfo is GetConnection's response body.
type connectionInfo struct {
	ConnectedAt  string       `json:"connectedAt"`
	Identity     identityInfo `json:"identity"`
	LastActiveAt string       `json:"lastActiveAt"`
}

type identityInfo struct {
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

// getConnection describes the connection.
func (g *Gateway) getConnection(w http.ResponseWriter, r *http.Request) {
	c := g.lookup(r.PathValue("id"))
	if c == nil {
		writeGone(w)
		return
	}
	b, err := json.Marshal(connectionInfo{
		ConnectedAt:  isoTime(c.connectedAt),
		Identity:     identityInfo{SourceIP: c.sourceIP, UserAgent: c.userAgent},
		LastActiveAt: isoTime(time.Unix(0, c.lastActive.Load())),
	})
	if err != nil {
		writeJSONError(w, http.StatusInternalServerError, "InternalServerErrorException", "encode connection")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// deleteConnection closes the connection; its $disconnect follows.
func (g *Gateway) deleteConnection(w http.ResponseWriter, r *http.Request) {
	c := g.lookup(r.PathValue("id"))
	if c == nil {
		writeGone(w)
		return
	}
	c.closeBy(closeDeleted)
	w.WriteHeader(http.StatusNoContent)
}

// writeGone answers for a connection that does not exist (any more), the way API Gateway
// does; the AWS SDKs turn it into a GoneException.
func writeGone(w http.ResponseWriter) {
	writeJSONError(w, http.StatusGone, "GoneException", "")
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
