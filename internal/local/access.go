package local

import (
	"fmt"
	"net"
	"strings"

	"github.com/parleychat/parley/internal/localgw"
)

// Who may reach the local runtime's own doors: /local/token mints a token for any user and
// the Management API posts to and closes any connection, neither with authentication, so
// the server listens on loopback only (unless Config.AllowRemote), answers only to its own
// names (the Host check, against DNS rebinding), and lets only its own web client's origin
// open a WebSocket from a browser (the Origin check). The Host and Origin checks are done
// by the gateway (localgw.Options.AllowedHosts and AllowedOrigins).

// checkAddr refuses a listen address that is not a loopback one unless allowRemote.
func checkAddr(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("bad listen address %q: %w", addr, err)
	}
	if allowRemote || loopbackHost(host) {
		return nil
	}
	return fmt.Errorf("listen address %q is not a loopback address: anyone on the network could get a token "+
		"for any user (/local/token) and post to or close any connection (the Management API); listen on "+
		"127.0.0.1, localhost or [::1], or allow it explicitly (Config.AllowRemote, parley local --allow-remote)", addr)
}

// loopbackHost reports whether host, of a listen address, is "localhost" or a loopback
// IP (127.0.0.0/8, ::1). An empty host (every interface) and other names are not: a name is
// not resolved, since what it resolves to can change.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// wildcardHost reports whether host, of a listen address, means every interface.
func wildcardHost(host string) bool {
	ip := net.ParseIP(host)
	return host == "" || (ip != nil && ip.IsUnspecified())
}

// Remote reports whether the server listens on an address that is not a loopback one,
// which Config.AllowRemote allowed: the token endpoint and the Management API are then
// reachable from the network.
func (m *Main) Remote() bool {
	host, _, err := net.SplitHostPort(m.cfg.Addr)
	return err == nil && !loopbackHost(host)
}

// checkAccessLists reports the first malformed entry of Config.AllowedHosts or
// Config.AllowedOrigins.
func checkAccessLists(hosts, origins []string) error {
	for _, h := range hosts {
		if _, err := hostEntry(h, "80"); err != nil {
			return fmt.Errorf("allowed hosts: %w", err)
		}
	}
	for _, o := range origins {
		if o == localgw.AnyOrigin {
			continue
		}
		if _, err := localgw.CanonicalOrigin(o); err != nil {
			return fmt.Errorf("allowed origins: %w", err)
		}
	}
	return nil
}

// hostEntry returns an AllowedHosts entry as HOST:PORT: "HOST" alone is on the listen port.
func hostEntry(entry, port string) (string, error) {
	h := entry
	if _, _, err := net.SplitHostPort(entry); err != nil {
		h = net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(entry, "["), "]"), port)
	}
	if _, err := localgw.CanonicalHost(h); err != nil {
		return "", err
	}
	return h, nil
}

// allowedHosts returns the Host header values the server answers to, as HOST:PORT on the
// port it listens on (listenAddr, the listener's address): that address, 127.0.0.1,
// localhost and [::1]; with allowRemote also the host of the configured address (every
// interface's address when it is a wildcard such as 0.0.0.0); then extra
// (Config.AllowedHosts). Each appears once.
func allowedHosts(cfgAddr, listenAddr string, allowRemote bool, extra []string) ([]string, error) {
	_, port, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", listenAddr, err)
	}
	hosts := []string{listenAddr}
	for _, h := range []string{"127.0.0.1", "localhost", "::1"} {
		hosts = append(hosts, net.JoinHostPort(h, port))
	}
	if cfgHost, _, err := net.SplitHostPort(cfgAddr); err == nil && allowRemote && !loopbackHost(cfgHost) {
		if cfgHost != "" {
			hosts = append(hosts, net.JoinHostPort(cfgHost, port))
		}
		if wildcardHost(cfgHost) {
			addrs, _ := net.InterfaceAddrs() // without them, the other names still work
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok {
					hosts = append(hosts, net.JoinHostPort(ipn.IP.String(), port))
				}
			}
		}
	}
	for _, e := range extra {
		h, err := hostEntry(e, port)
		if err != nil {
			return nil, fmt.Errorf("allowed hosts: %w", err)
		}
		hosts = append(hosts, h)
	}
	return dedupe(hosts, localgw.CanonicalHost), nil
}

// allowedOrigins returns the origins whose browser pages may open a WebSocket: the web
// client's own, "http://" and each host it is served under (hosts, from allowedHosts),
// then extra (Config.AllowedOrigins; "*" allows any).
func allowedOrigins(hosts, extra []string) []string {
	origins := make([]string, 0, len(hosts)+len(extra))
	for _, h := range hosts {
		origins = append(origins, "http://"+h)
	}
	return dedupe(append(origins, extra...), func(o string) (string, error) {
		if o == localgw.AnyOrigin {
			return o, nil
		}
		return localgw.CanonicalOrigin(o)
	})
}

// dedupe drops the entries of list whose canonical form an earlier one has.
func dedupe(list []string, canonical func(string) (string, error)) []string {
	seen := make(map[string]bool, len(list))
	out := list[:0]
	for _, s := range list {
		c, err := canonical(s)
		if err != nil {
			c = s
		}
		if !seen[c] {
			seen[c] = true
			out = append(out, s)
		}
	}
	return out
}
