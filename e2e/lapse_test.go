package e2e

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/schema"
)

// TestPresenceLapses covers the last resort of presence: a device that vanished with
// neither a $disconnect nor a 410 (nobody posted to it). Its presence, written at $connect,
// holds for chat.PresenceWindowMillis (longer than API Gateway lets a connection live);
// then the local TTL sweeper deletes it, the deletion reaches the stream handler as a
// service REMOVE record, and the user's direct-conversation peer gets an offline event.
// Frames do not refresh presence (docs/protocol.md): only a new connection brings the user
// back.
//
// Waiting out the window is not possible in a test: it ages bob's presence item in the
// table instead, as if it had been written a window ago (the sweeper runs every 200 ms).
func TestPresenceLapses(t *testing.T) {
	t.Parallel()
	s := tunedSystem(t)
	u := newUsers("alice", "bob")
	alice := s.connect(t, u[0])
	ctx := ctxFor(t, time.Minute)
	if _, err := alice.CreateConversation(ctx, "", u[1]); err != nil {
		t.Fatalf("create direct: %v", err)
	}

	bob := s.connect(t, u[1])
	online := alice.wait(t, "bob online", presenceOf(u[1], true))
	onlineAt := time.Now()
	// Frames from bob change nothing: presence is the connection.
	if _, err := bob.Heartbeat(ctx); err != nil {
		t.Fatalf("bob's heartbeat: %v", err)
	}

	aged := s.agePresence(t, u[1])
	offline := alice.wait(t, "bob's presence lapsing", presenceOf(u[1], false))
	t.Logf("bob's presence lapsed %v after he came online (the presence aged meanwhile)", time.Since(onlineAt).Round(time.Millisecond))
	if got := offline.Presence[0].LastSeen; got != aged {
		t.Fatalf("offline event lastSeen = %d, want the presence's %d", got, aged)
	}
	// It was the lapse, not a $disconnect: bob's socket is still open.
	if err := bob.Err(); err != nil {
		t.Fatalf("bob's connection ended: %v", err)
	}
	ps, err := alice.Presence(ctx, u[1])
	if err != nil || len(ps) != 1 || ps[0].Online || ps[0].LastSeen != aged {
		t.Fatalf("bob's presence after the lapse = %+v, %v; want offline, last seen %d", ps, err, aged)
	}

	// A new connection brings him back.
	s.connect(t, u[1])
	back := alice.wait(t, "bob online again", presenceOf(u[1], true))
	if back.Presence[0].LastSeen <= online.Presence[0].LastSeen {
		t.Fatalf("online again with lastSeen %d, not after %d", back.Presence[0].LastSeen, online.Presence[0].LastSeen)
	}
}

// agePresence rewrites user's presence item as if it had been written
// chat.PresenceWindowMillis (and a second) ago: lastSeen that far back, expiresAt passed.
// It returns the lastSeen written.
func (s *system) agePresence(t testing.TB, user string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	now := time.Now()
	lastSeen := now.Add(-chat.PresenceWindowMillis*time.Millisecond - time.Second).UnixMilli()
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.m.Tables()[schema.ConnectionsID]),
		Key: map[string]types.AttributeValue{
			schema.AttrPK: &types.AttributeValueMemberS{Value: user},
			schema.AttrSK: &types.AttributeValueMemberS{Value: schema.PresenceSK},
		},
		UpdateExpression:         aws.String("SET #ls = :ls, #exp = :exp"),
		ExpressionAttributeNames: map[string]string{"#ls": schema.AttrLastSeen, "#exp": schema.AttrExpiresAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":ls":  &types.AttributeValueMemberN{Value: strconv.FormatInt(lastSeen, 10)},
			":exp": &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Unix()-1, 10)},
		},
	})
	if err != nil {
		t.Fatalf("age the presence of %s: %v", user, err)
	}
	return lastSeen
}
