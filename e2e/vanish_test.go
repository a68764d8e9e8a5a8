package e2e

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/client"
	"github.com/parleychat/parley/internal/dynalite"
	"github.com/parleychat/parley/internal/local"
)

// TestVanishedClientCleanedAfter410 covers a client that vanishes without a close: its
// TCP connection drops without a WebSocket close frame, and the $disconnect that should
// follow is lost (API Gateway does not promise it). Its connection item stays behind
// until the next fan-out, whose push gets 410 Gone from the Management API and deletes
// it. The Connections table is read with the real SDK client against the local DynamoDB
// endpoint.
//
// A 410 deletes only a connection older than chat.GoneGrace (a younger one may still be in
// its $connect), so this test runs on a system whose service clock it moves past the grace
// before the fan-out.
func TestVanishedClientCleanedAfter410(t *testing.T) {
	t.Parallel()
	var skew atomic.Int64
	s := shared(t, "vanish", func() local.Config {
		return local.Config{Service: chat.Options{Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }}}
	})
	u := newUsers("alice", "ghost")
	alice := s.connect(t, u[0])
	ctx := ctxFor(t, time.Minute)
	dm := mustDirect(t, alice, u[1])

	// The device that will vanish connects first, so its item is the only one.
	var dialer trackingDialer
	opts := clientOptions()
	opts.HTTPClient = dialer.client()
	phone := s.connectWith(t, u[1], opts)
	lost := s.connectionIDs(t, u[1])
	if len(lost) != 1 {
		t.Fatalf("ghost's connection items = %v, want one", lost)
	}
	laptop := s.connect(t, u[1])
	all := s.connectionIDs(t, u[1])
	if len(all) != 2 {
		t.Fatalf("ghost's connection items = %v, want two", all)
	}
	kept := all[0]
	if kept == lost[0] {
		kept = all[1]
	}

	disconnectLost := s.loseDisconnect(lost[0])
	if err := dialer.drop(); err != nil {
		t.Fatalf("drop the phone's TCP connection: %v", err)
	}
	select {
	case <-disconnectLost: // the gateway noticed, and its $disconnect got lost
	case <-time.After(eventTimeout):
		t.Fatalf("the gateway never tried $disconnect for the dropped connection")
	}
	select {
	case <-phone.Done():
	case <-time.After(eventTimeout):
		t.Fatalf("the phone's client did not notice its dropped connection")
	}

	// The Management API, through the real SDK client, says the connection is gone...
	mgmt := apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		BaseEndpoint: aws.String(s.m.ManagementEndpoint()),
		Region:       dynalite.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(dynalite.AccessKeyID, dynalite.SecretAccessKey, ""),
	})
	_, err := mgmt.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(lost[0])})
	var gone *types.GoneException
	if !errors.As(err, &gone) {
		t.Fatalf("GetConnection of the vanished connection: %v, want GoneException (410)", err)
	}
	if _, err := mgmt.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(kept)}); err != nil {
		t.Fatalf("GetConnection of the live connection: %v", err)
	}
	// ...but its item is still stored: nobody has told the database.
	if ids := s.connectionIDs(t, u[1]); !slices.Equal(ids, all) {
		t.Fatalf("ghost's connection items after the drop = %v, want both %v still", ids, all)
	}

	// The next message's fan-out, once the connections are past the grace, posts to both;
	// the 410 deletes the stale item.
	skew.Store(int64(chat.GoneGrace + time.Second))
	ack, err := alice.Send(ctx, dm, "after-vanish", "are you there?")
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	laptop.wait(t, "the message on the device still connected", messageWith(dm, ack.MessageID))
	eventually(t, "the vanished connection's item deleted after the 410", func() bool {
		return slices.Equal(s.connectionIDs(t, u[1]), []string{kept})
	})

	// The user is still reachable on the other device, and still online.
	ps, err := alice.Presence(ctx, u[1])
	if err != nil || len(ps) != 1 || !ps[0].Online {
		t.Fatalf("ghost's presence = %+v, %v; want online (the laptop is connected)", ps, err)
	}
	if err := laptop.Typing(dm, client.TypingStart); err != nil {
		t.Fatalf("typing: %v", err)
	}
	alice.wait(t, "ghost typing from the laptop", typingOf(dm, u[1], client.TypingStart))
}
