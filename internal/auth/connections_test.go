package auth

import (
	"context"
	"errors"
	"sync"
	"testing"

	"wagraph/internal/apperr"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// recordingFeed is a RevocationFeed that records announcements.
type recordingFeed struct {
	mu   sync.Mutex
	ids  []string
	fail error
}

func (f *recordingFeed) AnnounceRevocation(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids = append(f.ids, id)
	return f.fail
}

func TestRevokeEndsTheTokensConnections(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	feed := &recordingFeed{}
	s := NewService(db.DB, false, WithRevocationFeed(feed))
	ctx := context.Background()
	a, _, err := s.Create(ctx, "a", Viewer)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := s.Create(ctx, "b", Viewer)
	if err != nil {
		t.Fatal(err)
	}
	ended := map[string]int{}
	track := func(id, name string) func() {
		return s.TrackConnection(id, func() { ended[name]++ })
	}
	track(a.ID, "a1")
	track(a.ID, "a2")
	untrackA3 := track(a.ID, "a3")
	track(b.ID, "b1")
	untrackA3() // closed before the revocation
	if n := s.TrackedConnections(); n != 3 {
		t.Fatalf("tracking %d connections, want 3", n)
	}

	if _, err := s.Revoke(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	// This instance's connections end before Revoke returns.
	if ended["a1"] != 1 || ended["a2"] != 1 || ended["a3"] != 0 || ended["b1"] != 0 {
		t.Errorf("ended %v, want a1 and a2 once, nothing else", ended)
	}
	if n := s.TrackedConnections(); n != 1 {
		t.Errorf("tracking %d connections after the revocation, want b's 1", n)
	}
	if len(feed.ids) != 1 || feed.ids[0] != a.ID {
		t.Errorf("announced %v, want [%s]", feed.ids, a.ID)
	}
	// The announcement reaching this instance too ends nothing twice.
	if n := s.EndConnections(a.ID); n != 0 {
		t.Errorf("EndConnections after the revocation ended %d", n)
	}
	if ended["a1"] != 1 {
		t.Errorf("a1 ended %d times", ended["a1"])
	}
}

func TestRevokeReportsAFailedAnnouncement(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	feed := &recordingFeed{fail: errors.New("redis: connection refused")}
	s := NewService(db.DB, false, WithRevocationFeed(feed))
	ctx := context.Background()
	tok, secret, err := s.Create(ctx, "a", Viewer)
	if err != nil {
		t.Fatal(err)
	}
	ended := 0
	s.TrackConnection(tok.ID, func() { ended++ })
	_, err = s.Revoke(ctx, tok.ID)
	ae := wantCode(t, err, apperr.Unavailable)
	if !ae.Retryable || ae.Suggestion == "" {
		t.Errorf("failed announcement: %+v, want retryable with a suggestion", ae)
	}
	if ended != 1 {
		t.Errorf("this instance's connection ended %d times, want 1 despite the failed announcement", ended)
	}
	if _, err := s.Authenticate(ctx, secret); apperr.CodeOf(err) != apperr.Unauthenticated {
		t.Errorf("token still authenticates after a revocation whose announcement failed: %v", err)
	}
	feed.fail = nil
	if _, err := s.Revoke(ctx, tok.ID); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if len(feed.ids) != 2 {
		t.Errorf("announced %v, want the retry to announce again", feed.ids)
	}
}

// A revocation whose announcement never arrived (the bus lost it) is found
// by the recheck the feed runs after reconnecting.
func TestRecheckConnectionsEndsRevokedTokens(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		elsewhere := NewService(db.DB, false) // the instance that revokes
		here := NewService(db.DB, false)
		a, _, err := here.Create(ctx, "a", Viewer)
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := here.Create(ctx, "b", Viewer)
		if err != nil {
			t.Fatal(err)
		}
		var endedA, endedB int
		here.TrackConnection(a.ID, func() { endedA++ })
		here.TrackConnection(b.ID, func() { endedB++ })
		if _, err := elsewhere.Revoke(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if endedA != 0 {
			t.Fatal("a connection on another instance ended without an announcement")
		}
		if err := here.RecheckConnections(ctx); err != nil {
			t.Fatal(err)
		}
		if endedA != 1 || endedB != 0 {
			t.Errorf("after the recheck a ended %d, b %d; want 1 and 0", endedA, endedB)
		}
	})
}
