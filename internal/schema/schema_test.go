package schema

import (
	"strings"
	"testing"
)

func TestCheckKeyspace(t *testing.T) {
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"parley", true},
		{"parley_prod_2", true},
		{"P", true},
		{strings.Repeat("k", MaxKeyspaceName), true},
		{strings.Repeat("k", MaxKeyspaceName+1), false},
		{"", false},
		{"1parley", false}, // unquoted CQL identifiers start with a letter
		{"_parley", false},
		{"par-ley", false},
		{"parley;DROP", false},
		{"parléy", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckKeyspace(tt.name)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckKeyspace(%q) = %v, want ok=%v", tt.name, err, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "bad keyspace name") {
				t.Fatalf("error %q does not say what is wrong", err)
			}
		})
	}
}
