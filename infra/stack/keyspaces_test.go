package stack

import (
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/keyspaces"
)

// TestKeyspacesTablesMatchCQL holds the CloudFormation Keyspaces tables equal to the CQL
// schema of internal/keyspaces (what `parley migrate` and the tests create).
func TestKeyspacesTablesMatchCQL(t *testing.T) {
	stmts, err := keyspaces.Schema("ks", keyspaces.KeyspacesReplication)
	if err != nil {
		t.Fatal(err)
	}
	var fromCQL []CQLTable
	for _, st := range stmts {
		if strings.HasPrefix(st, "CREATE TABLE") {
			fromCQL = append(fromCQL, parseCreateTable(t, st))
		}
	}
	if !reflect.DeepEqual(fromCQL, KeyspacesTables) {
		t.Errorf("KeyspacesTables differ from internal/keyspaces' CQL:\n got (CFN) %+v\nwant (CQL) %+v", KeyspacesTables, fromCQL)
	}
}

var (
	createRE  = regexp.MustCompile(`(?s)^CREATE TABLE IF NOT EXISTS ks\.(\w+) \((.*?)\)(?: WITH CLUSTERING ORDER BY \(([^)]*)\))?$`)
	primaryRE = regexp.MustCompile(`PRIMARY KEY \(\(([^)]*)\)(?:,\s*([^)]*))?\)`)
	columnRE  = regexp.MustCompile(`^(\w+) (\w+),?$`)
)

// parseCreateTable reads the subset of CQL the schema uses: columns, PRIMARY KEY
// ((partition...), clustering...) and CLUSTERING ORDER BY.
func parseCreateTable(t *testing.T, stmt string) CQLTable {
	t.Helper()
	m := createRE.FindStringSubmatch(strings.TrimSpace(stmt))
	if m == nil {
		t.Fatalf("cannot parse %q", stmt)
	}
	types := map[string]string{}
	var order []string
	pk := primaryRE.FindStringSubmatch(m[2])
	if pk == nil {
		t.Fatalf("no PRIMARY KEY in %q", stmt)
	}
	for _, line := range strings.Split(m[2], "\n") {
		if c := columnRE.FindStringSubmatch(strings.TrimSpace(line)); c != nil {
			types[c[1]] = c[2]
			order = append(order, c[1])
		}
	}
	dirs := map[string]string{}
	for _, part := range strings.Split(m[3], ",") {
		if f := strings.Fields(part); len(f) == 2 {
			dirs[f[0]] = strings.ToUpper(f[1])
		}
	}
	tbl := CQLTable{Name: m[1]}
	key := map[string]bool{}
	for _, n := range splitNames(pk[1]) {
		tbl.Partition = append(tbl.Partition, CQLColumn{n, types[n]})
		key[n] = true
	}
	for _, n := range splitNames(pk[2]) {
		dir := dirs[n]
		if dir == "" {
			dir = "ASC"
		}
		tbl.Clustering = append(tbl.Clustering, CQLClustering{CQLColumn{n, types[n]}, dir})
		key[n] = true
	}
	for _, n := range order {
		if !key[n] {
			tbl.Regular = append(tbl.Regular, CQLColumn{n, types[n]})
		}
	}
	return tbl
}

func splitNames(s string) []string {
	var out []string
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}
