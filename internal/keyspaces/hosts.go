package keyspaces

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ParseHosts splits contact points given as "HOST" or "HOST:PORT" ("[IPv6]:PORT") into
// hosts and the one port they share (the driver uses one port per cluster). port is the
// port of entries that name none (0: none given, the caller's default applies); entries
// that name a port must agree with each other and with a non-zero port. At least one
// entry is required.
func ParseHosts(entries []string, port int) (hosts []string, _ int, err error) {
	if len(entries) == 0 {
		return nil, 0, errors.New("keyspaces: no Cassandra hosts given (HOST or HOST:PORT)")
	}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		host, p := e, ""
		if h, pp, err := net.SplitHostPort(e); err == nil {
			host, p = h, pp
		} else if strings.Contains(e, ":") && net.ParseIP(e) == nil {
			return nil, 0, fmt.Errorf("keyspaces: bad Cassandra host %q: want HOST or HOST:PORT", e)
		}
		if host == "" {
			return nil, 0, fmt.Errorf("keyspaces: bad Cassandra host %q: empty host", e)
		}
		if p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return nil, 0, fmt.Errorf("keyspaces: bad Cassandra host %q: port must be 1 to 65535", e)
			}
			if port != 0 && port != n {
				return nil, 0, fmt.Errorf("keyspaces: bad Cassandra hosts %q: ports differ (%d and %d); the driver uses one port for all", entries, port, n)
			}
			port = n
		}
		hosts = append(hosts, host)
	}
	return hosts, port, nil
}
