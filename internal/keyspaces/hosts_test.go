package keyspaces

import (
	"slices"
	"strings"
	"testing"
)

func TestParseHosts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      []string
		port    int
		hosts   []string
		want    int
		wantErr string
	}{
		{in: []string{"127.0.0.1:9043"}, hosts: []string{"127.0.0.1"}, want: 9043},
		{in: []string{"a", " b:9050 ", "c:9050"}, hosts: []string{"a", "b", "c"}, want: 9050},
		{in: []string{"db.local"}, hosts: []string{"db.local"}, want: 0},
		{in: []string{"db.local"}, port: 9142, hosts: []string{"db.local"}, want: 9142},
		{in: []string{"a:9043", "b"}, port: 9043, hosts: []string{"a", "b"}, want: 9043},
		{in: []string{"[::1]:9044", "::1"}, hosts: []string{"::1", "::1"}, want: 9044},
		{in: nil, wantErr: "no Cassandra hosts"},
		{in: []string{""}, wantErr: "empty host"},
		{in: []string{":9042"}, wantErr: "empty host"},
		{in: []string{"a:x"}, wantErr: "port must be"},
		{in: []string{"a:70000"}, wantErr: "port must be"},
		{in: []string{"a:1:2"}, wantErr: "want HOST or HOST:PORT"},
		{in: []string{"a:9042", "b:9043"}, wantErr: "ports differ"},
		{in: []string{"a:9042"}, port: 9142, wantErr: "ports differ"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.in, ","), func(t *testing.T) {
			hosts, port, err := ParseHosts(tt.in, tt.port)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseHosts(%q, %d) = %v, %d, %v; want an error with %q", tt.in, tt.port, hosts, port, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(hosts, tt.hosts) || port != tt.want {
				t.Fatalf("ParseHosts(%q, %d) = %v, %d, %v; want %v, %d", tt.in, tt.port, hosts, port, err, tt.hosts, tt.want)
			}
		})
	}
}
