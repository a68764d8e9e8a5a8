package chat

import (
	"crypto/rand"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// IDs makes message and group ids: ULIDs, monotonic within this process so that ids made
// in the same millisecond still sort in the order they were made.
type IDs struct {
	mu      sync.Mutex
	entropy *ulid.MonotonicEntropy
}

// NewIDs returns an id source seeded from crypto/rand.
func NewIDs() *IDs { return &IDs{entropy: ulid.Monotonic(rand.Reader, 0)} }

// New returns a new ULID for time t.
func (g *IDs) New(t time.Time) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return ulid.MustNew(ulid.Timestamp(t), g.entropy).String()
}

// ValidULID reports whether s is a 26-character ULID in canonical form.
func ValidULID(s string) bool {
	if len(s) != ulid.EncodedSize {
		return false
	}
	_, err := ulid.ParseStrict(s)
	return err == nil
}

// directPrefix starts every direct conversation id. ':' cannot occur in a user id, so the
// id names its two members unambiguously.
const directPrefix = "dm:"

// groupPrefix starts every group conversation id.
const groupPrefix = "g:"

// DirectID returns the deterministic id of the direct conversation between a and b.
func DirectID(a, b string) string {
	users := []string{a, b}
	sort.Strings(users)
	return directPrefix + users[0] + ":" + users[1]
}

// GroupID returns the id of a new group, from a fresh ULID.
func GroupID(id string) string { return groupPrefix + id }

// DirectMembers returns the two members named by a direct conversation id.
func DirectMembers(conversationID string) (a, b string, ok bool) {
	rest, ok := strings.CutPrefix(conversationID, directPrefix)
	if !ok {
		return "", "", false
	}
	a, b, ok = strings.Cut(rest, ":")
	return a, b, ok && ValidUserID(a) && ValidUserID(b)
}
