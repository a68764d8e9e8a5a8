package local

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/parleychat/parley/internal/auth"
	"github.com/parleychat/parley/internal/chat"
)

// serveToken answers GET /local/token?user=NAME with {"token": "...", "user": "NAME"}, a
// token valid for 24 hours. It asks for no credentials: what guards it is the listen
// address (loopback unless Config.AllowRemote) and the gateway's Host check, which
// refuses requests under a name that is not the server's (DNS rebinding); see access.go.
func (m *Main) serveToken(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store") // a credential
	if !chat.ValidUserID(user) {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "user must be " + chat.UserIDRule})
		return
	}
	tok, err := auth.Sign(m.cfg.JWTSecret, user, 24*time.Hour)
	if err != nil {
		m.log.Error("local: sign token", "userId", user, "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "could not sign a token"})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"token": tok, "user": user})
}
