package localgw

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Two protections of the local runtime that API Gateway does not have (it is reached under
// its own domain name, and it checks no Origin): the Host check (Options.AllowedHosts) and
// the WebSocket Origin check (Options.AllowedOrigins).

// AnyOrigin in Options.AllowedOrigins lets a page of any origin open a WebSocket.
const AnyOrigin = "*"

// access is the compiled form of Options.AllowedHosts and Options.AllowedOrigins.
type access struct {
	hosts      map[string]bool // canonical host:port; nil: every Host is answered
	hostList   string          // for error messages
	origins    map[string]bool // canonical origins; nil: every Origin is allowed
	originList string          // for error messages
}

func newAccess(hosts, origins []string) (access, error) {
	var a access
	if len(hosts) > 0 {
		a.hosts = make(map[string]bool, len(hosts))
		for _, h := range hosts {
			c, err := CanonicalHost(h)
			if err != nil {
				return access{}, err
			}
			a.hosts[c] = true
		}
		a.hostList = strings.Join(hosts, ", ")
	}
	if origins != nil {
		a.origins = make(map[string]bool, len(origins))
		for _, o := range origins {
			if o == AnyOrigin {
				a.origins = nil
				break
			}
			c, err := CanonicalOrigin(o)
			if err != nil {
				return access{}, err
			}
			a.origins[c] = true
		}
		a.originList = strings.Join(origins, ", ")
	}
	return a, nil
}

// hostAllowed reports whether the server answers to a request with this Host header.
func (a access) hostAllowed(host string) bool {
	if a.hosts == nil {
		return true
	}
	c, err := CanonicalHost(host)
	return err == nil && a.hosts[c]
}

// originsAllowed reports whether a handshake with these Origin header values may proceed:
// no Origin at all (not a browser), or only allowed ones.
func (a access) originsAllowed(origins []string) bool {
	if a.origins == nil {
		return true
	}
	for _, o := range origins {
		c, err := CanonicalOrigin(o)
		if err != nil || !a.origins[c] {
			return false
		}
	}
	return true
}

// checkHost answers 421 Misdirected Request, and returns false, when the server does not
// answer to r's Host. The name in Host is what a DNS-rebinding page cannot hide: it was
// loaded from evil.example, so its requests carry "Host: evil.example:PORT" even though
// that name now resolves to 127.0.0.1.
func (g *Gateway) checkHost(w http.ResponseWriter, r *http.Request) bool {
	if g.access.hostAllowed(r.Host) {
		return true
	}
	g.log.Warn("localgw: request refused: Host not allowed", "host", r.Host, "method", r.Method,
		"path", r.URL.Path, "sourceIp", sourceIP(r))
	writeJSONError(w, http.StatusMisdirectedRequest, "MisdirectedRequestException", fmt.Sprintf(
		"Host %q is not a name of this server, which answers only to %s: requests under another name "+
			"are refused because they may come from a web page using DNS rebinding", r.Host, g.access.hostList))
	return false
}

// checkOrigin answers 403, and returns false, when a browser page of an origin that is not
// allowed opens a WebSocket. A handshake without Origin (no browser) passes.
func (g *Gateway) checkOrigin(w http.ResponseWriter, r *http.Request) bool {
	origins := r.Header.Values("Origin")
	if g.access.originsAllowed(origins) {
		return true
	}
	g.log.Warn("localgw: handshake refused: Origin not allowed", "origin", strings.Join(origins, ", "),
		"sourceIp", sourceIP(r))
	writeJSONError(w, http.StatusForbidden, "", fmt.Sprintf(
		"Origin %q may not open a WebSocket here; allowed origins: %s (a local-runtime protection: API Gateway checks no Origin)",
		strings.Join(origins, ", "), g.access.originList))
	return false
}

// CanonicalHost returns a Host header value (or an Options.AllowedHosts entry) as
// lower-case "host:port", with port 80 when it names none, as a Host header under http://
// does for the default port: "LOCALHOST" and "localhost:80" are both "localhost:80",
// "[::1]:8080" stays "[::1]:8080".
func CanonicalHost(h string) (string, error) {
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		host, port = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), "80"
	}
	if host == "" || strings.ContainsAny(host, "/ \t@") || !validPort(port) {
		return "", fmt.Errorf("localgw: bad host %q: want HOST or HOST:PORT", h)
	}
	return net.JoinHostPort(strings.ToLower(host), port), nil
}

// CanonicalOrigin returns an Origin header value (or an Options.AllowedOrigins entry) as
// lower-case "scheme://host:port", with the scheme's default port when it names none (80 for
// http and ws, 443 for https and wss): "http://LocalHost" is "http://localhost:80". The
// opaque origin "null" stays "null".
func CanonicalOrigin(o string) (string, error) {
	if o == "null" {
		return o, nil
	}
	bad := fmt.Errorf("localgw: bad origin %q: want SCHEME://HOST[:PORT], like http://localhost:3000", o)
	u, err := url.Parse(o)
	if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.Fragment != "" {
		return "", bad
	}
	scheme, port := strings.ToLower(u.Scheme), u.Port()
	if port == "" {
		switch scheme {
		case "http", "ws":
			port = "80"
		case "https", "wss":
			port = "443"
		default: // chrome-extension://id and the like have no port
			return scheme + "://" + strings.ToLower(u.Host), nil
		}
	}
	if !validPort(port) {
		return "", bad
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port), nil
}

// validPort reports whether p is a decimal port number from 1 to 65535.
func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n <= 65535 && !strings.HasPrefix(p, "+")
}
