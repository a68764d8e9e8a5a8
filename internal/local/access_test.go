package local

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCheckAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr        string
		allowRemote bool
		wantErr     string // "": allowed
	}{
		{"127.0.0.1:8080", false, ""},
		{"127.0.0.2:0", false, ""},
		{"localhost:8080", false, ""},
		{"LOCALHOST:8080", false, ""},
		{"[::1]:8080", false, ""},
		{"0.0.0.0:8080", false, "not a loopback address"},
		{":8080", false, "not a loopback address"},
		{"[::]:8080", false, "not a loopback address"},
		{"192.168.1.20:8080", false, "not a loopback address"},
		{"devbox.lan:8080", false, "not a loopback address"},
		{"localhost.evil.example:8080", false, "not a loopback address"},
		{"0.0.0.0:8080", true, ""},
		{":8080", true, ""},
		{"192.168.1.20:8080", true, ""},
		{"devbox.lan:8080", true, ""},
		{"127.0.0.1", false, "bad listen address"},
	}
	for _, tt := range tests {
		err := checkAddr(tt.addr, tt.allowRemote)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("checkAddr(%q, allowRemote %v) = %v, want error %q", tt.addr, tt.allowRemote, err, tt.wantErr)
		}
		if tt.wantErr == "not a loopback address" && !strings.Contains(err.Error(), "--allow-remote") {
			t.Errorf("checkAddr(%q) = %v: does not name the flag that allows it", tt.addr, err)
		}
		remote := tt.allowRemote || tt.wantErr == "not a loopback address"
		if got := New(Config{Addr: tt.addr}).Remote(); got != remote {
			t.Errorf("Remote() with Addr %q = %v, want %v", tt.addr, got, remote)
		}
	}
}

// TestStartRefusesRemoteAddr: Start refuses a non-loopback address before it listens or
// starts anything (0.0.0.0:0 is never bound).
func TestStartRefusesRemoteAddr(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:0", "devbox.lan:0"} {
		t.Run(addr, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			m := New(Config{Addr: addr, JWTSecret: []byte("secret"), Logger: slog.New(slog.DiscardHandler)})
			err := m.Start(ctx)
			_ = m.Close()
			if err == nil || !strings.Contains(err.Error(), "not a loopback address") {
				t.Fatalf("Start on %s = %v, want it refused", addr, err)
			}
			if m.Addr() != "" || len(m.closers) != 0 {
				t.Fatalf("Start on %s listened on %q or started %d parts before refusing", addr, m.Addr(), len(m.closers))
			}
		})
	}
}

func TestStartRefusesMalformedAccessLists(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"host with a bad port", Config{AllowedHosts: []string{"devbox:http"}}, `allowed hosts: localgw: bad host "devbox:http"`},
		{"empty host", Config{AllowedHosts: []string{":8080"}}, "allowed hosts"},
		{"origin without a scheme", Config{AllowedOrigins: []string{"localhost:3000"}}, `allowed origins: localgw: bad origin "localhost:3000"`},
		{"origin with a path", Config{AllowedOrigins: []string{"http://localhost:3000/app"}}, "allowed origins"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			cfg.Addr, cfg.JWTSecret, cfg.Logger = "127.0.0.1:0", []byte("secret"), slog.New(slog.DiscardHandler)
			m := New(cfg)
			err := m.Start(context.Background())
			_ = m.Close()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Start = %v, want an error with %q", err, tt.wantErr)
			}
			if m.Addr() != "" {
				t.Fatalf("Start listened on %s before refusing", m.Addr())
			}
		})
	}
}

func TestAllowedHostsAndOrigins(t *testing.T) {
	t.Parallel()
	loopback := []string{"127.0.0.1:8080", "localhost:8080", "[::1]:8080"}
	ifaces := interfaceHosts(t, "8080")
	tests := []struct {
		name        string
		cfgAddr     string
		listenAddr  string
		allowRemote bool
		extra       []string
		want        []string // in order; ifaces are appended where wantIfaces
		wantIfaces  bool
	}{
		{"loopback", "127.0.0.1:8080", "127.0.0.1:8080", false, nil, loopback, false},
		{"free port", "127.0.0.1:0", "127.0.0.1:8080", false, nil, loopback, false},
		{"localhost", "localhost:8080", "127.0.0.1:8080", false, nil, loopback, false},
		{"other loopback address", "127.0.0.2:8080", "127.0.0.2:8080", false, nil,
			[]string{"127.0.0.2:8080", "127.0.0.1:8080", "localhost:8080", "[::1]:8080"}, false},
		{"IPv6 loopback", "[::1]:8080", "[::1]:8080", false, nil,
			[]string{"[::1]:8080", "127.0.0.1:8080", "localhost:8080"}, false},
		{"LAN address, allowed", "192.168.1.20:8080", "192.168.1.20:8080", true, nil,
			[]string{"192.168.1.20:8080", "127.0.0.1:8080", "localhost:8080", "[::1]:8080"}, false},
		{"host name, allowed", "devbox.lan:8080", "192.168.1.20:8080", true, nil,
			[]string{"192.168.1.20:8080", "127.0.0.1:8080", "localhost:8080", "[::1]:8080", "devbox.lan:8080"}, false},
		{"wildcard, allowed", "0.0.0.0:8080", "[::]:8080", true, nil,
			[]string{"[::]:8080", "127.0.0.1:8080", "localhost:8080", "[::1]:8080", "0.0.0.0:8080"}, true},
		{"extra names", "127.0.0.1:8080", "127.0.0.1:8080", false, []string{"host.docker.internal", "Proxy.Test:443", "LOCALHOST"},
			append(slices.Clone(loopback), "host.docker.internal:8080", "Proxy.Test:443"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := allowedHosts(tt.cfgAddr, tt.listenAddr, tt.allowRemote, tt.extra)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if tt.wantIfaces {
				for _, h := range ifaces {
					if !slices.Contains(want, h) {
						want = append(want, h)
					}
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("allowedHosts(%q, %q, %v, %q)\n got %q\nwant %q", tt.cfgAddr, tt.listenAddr, tt.allowRemote, tt.extra, got, want)
			}
		})
	}

	// The web client's own origin, under each name, is allowed; extra origins add to it.
	origins := allowedOrigins(loopback, []string{"http://localhost:3000", "HTTP://LOCALHOST:8080", "*"})
	want := []string{"http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080", "http://localhost:3000", "*"}
	if !slices.Equal(origins, want) {
		t.Fatalf("allowedOrigins = %q, want %q", origins, want)
	}
}

// interfaceHosts are this machine's interface addresses on port, as allowedHosts adds them
// for a wildcard address.
func interfaceHosts(t *testing.T, port string) []string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatalf("interface addresses: %v", err)
	}
	var hosts []string
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			hosts = append(hosts, net.JoinHostPort(ipn.IP.String(), port))
		}
	}
	return hosts
}
