package cassandra

import (
	"context"
	"strings"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

func TestStartForTestAnswersCQL(t *testing.T) {
	host, port := StartForTest(t)
	cluster := gocql.NewCluster(host)
	cluster.Port = port
	cluster.Timeout = 10 * time.Second
	session, err := cluster.CreateSession()
	if err != nil {
		t.Fatalf("connect to %s:%d: %v", host, port, err)
	}
	defer session.Close()
	var version string
	if err := session.Query("SELECT release_version FROM system.local").Scan(&version); err != nil {
		t.Fatalf("query: %v", err)
	}
	if !strings.HasPrefix(version, "5.") {
		t.Fatalf("release_version = %q, want Apache Cassandra 5.x", version)
	}
	// A second call in the same process reuses the node.
	if h2, p2 := StartForTest(t); h2 != host || p2 != port {
		t.Fatalf("second StartForTest = %s:%d, want %s:%d", h2, p2, host, port)
	}
}

func TestWaitCQLDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	// Port 1 on loopback: nothing listens there.
	err := WaitCQL(ctx, "127.0.0.1", 1)
	if err == nil || !strings.Contains(err.Error(), "did not answer CQL") {
		t.Fatalf("WaitCQL on a closed port = %v, want a deadline error", err)
	}
}

func TestSplitAddr(t *testing.T) {
	for _, tc := range []struct {
		in      string
		host    string
		port    int
		wantErr bool
	}{
		{in: "127.0.0.1:9042", host: "127.0.0.1", port: 9042},
		{in: " localhost:19042\n", host: "localhost", port: 19042},
		{in: "127.0.0.1", wantErr: true},
		{in: "127.0.0.1:x", wantErr: true},
		{in: "127.0.0.1:70000", wantErr: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			host, port, err := SplitAddr(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("SplitAddr(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if !tc.wantErr && (host != tc.host || port != tc.port) {
				t.Fatalf("SplitAddr(%q) = %s, %d; want %s, %d", tc.in, host, port, tc.host, tc.port)
			}
		})
	}
}
