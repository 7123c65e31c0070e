package app

import (
	"context"
	"errors"
	"testing"

	"github.com/rs/zerolog"

	"wagraph/internal/contact"
	"wagraph/internal/pubsub"
	"wagraph/internal/supervisor"
)

// localGroups is one instance's live sessions as the group port sees them.
type localGroups struct {
	live  map[string]bool
	calls int
}

func (l *localGroups) JoinedGroups(_ context.Context, accountID string) ([]contact.WAGroup, error) {
	l.calls++
	if !l.live[accountID] {
		return nil, contact.ErrNotConnected
	}
	return []contact.WAGroup{{Group: contact.Group{AccountID: accountID, JID: "1@g.us", Name: "Runners", ParticipantCount: 1},
		Participants: []contact.Participant{{Phone: "+4915123456789", LID: "9@lid"}}}}, nil
}

func (l *localGroups) GroupInfo(_ context.Context, accountID, jid string) (*contact.WAGroup, error) {
	l.calls++
	switch {
	case !l.live[accountID]:
		return nil, contact.ErrNotConnected
	case jid == "busy@g.us":
		return nil, contact.ErrRateLimited
	case jid != "1@g.us":
		return nil, contact.ErrGroupNotFound
	}
	return &contact.WAGroup{Group: contact.Group{AccountID: accountID, JID: jid, Name: "Runners"}}, nil
}

func (l *localGroups) PhonesForLIDs(_ context.Context, accountID string, lids []string) (map[string]string, error) {
	l.calls++
	return map[string]string{"9@lid": "+4915123456789"}, nil
}

// A scrape run by an instance that does not own the account reads the
// groups through the owner's session, and the port's errors (not
// connected, not found, rate-overlimit) arrive as the same sentinels, so
// the scrape job backs off or fails as on one instance.
func TestGroupCallsGoThroughTheOwnersSession(t *testing.T) {
	bus := pubsub.NewMemory(pubsub.Options{})
	t.Cleanup(func() { _ = bus.Close() })
	routers := map[string]*supervisor.BusRouter{}
	for _, name := range []string{"a", "b"} {
		r, err := supervisor.NewBusRouter(context.Background(), bus, name, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		routers[name] = r
	}
	onA := &localGroups{live: map[string]bool{"acc": true}}
	onB := &localGroups{live: map[string]bool{}}
	newRoutedGroups(onA, ownedBy{"a", "a", routers["a"]}, routers["a"])
	viaB := newRoutedGroups(onB, ownedBy{"a", "b", routers["b"]}, routers["b"])
	ctx := context.Background()

	gs, err := viaB.JoinedGroups(ctx, "acc")
	if err != nil || len(gs) != 1 || gs[0].Name != "Runners" || gs[0].Participants[0].LID != "9@lid" {
		t.Fatalf("joined groups via b: %+v, %v", gs, err)
	}
	if g, err := viaB.GroupInfo(ctx, "acc", "1@g.us"); err != nil || g.JID != "1@g.us" {
		t.Fatalf("group via b: %+v, %v", g, err)
	}
	for jid, want := range map[string]error{"busy@g.us": contact.ErrRateLimited, "2@g.us": contact.ErrGroupNotFound} {
		if _, err := viaB.GroupInfo(ctx, "acc", jid); !errors.Is(err, want) {
			t.Fatalf("group %s via b: %v, want %v", jid, err, want)
		}
	}
	if _, err := viaB.JoinedGroups(ctx, "other"); !errors.Is(err, contact.ErrNotConnected) {
		t.Fatalf("groups of an account without a session: %v, want ErrNotConnected from the owner", err)
	}
	if phones, err := viaB.PhonesForLIDs(ctx, "acc", []string{"9@lid"}); err != nil || phones["9@lid"] != "+4915123456789" {
		t.Fatalf("LIDs via b: %v, %v", phones, err)
	}
	if onB.calls != 0 || onA.calls != 6 {
		t.Fatalf("calls on a %d, on b %d; want all 6 on the owner a", onA.calls, onB.calls)
	}
}
