package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
)

// RevocationFeed tells every instance, this one included, that a token was
// revoked, so that each ends the connections opened with it. The event bus
// satisfies it (wired in internal/app); whoever receives an announcement
// calls Service.EndConnections.
type RevocationFeed interface {
	AnnounceRevocation(ctx context.Context, tokenID string) error
}

// Option adjusts a Service.
type Option func(*Service)

// WithRevocationFeed announces every revocation on feed.
func WithRevocationFeed(feed RevocationFeed) Option {
	return func(s *Service) { s.feed = feed }
}

// connections are this instance's long-lived authenticated connections
// (websockets), by the token that opened them. A token checked once at
// connection_init is not checked again, so a revocation has to end them.
type connections struct {
	mu      sync.Mutex
	byToken map[string]map[*trackedConn]struct{}
}

type trackedConn struct {
	end  func()
	once sync.Once
}

// TrackConnection records a connection authenticated with tokenID until the
// returned func is called (when the connection closes). end is called once,
// from any goroutine, when the token is revoked: it must stop the connection
// from running anything more, then close it.
func (s *Service) TrackConnection(tokenID string, end func()) (untrack func()) {
	c := &trackedConn{end: end}
	s.conns.mu.Lock()
	if s.conns.byToken == nil {
		s.conns.byToken = map[string]map[*trackedConn]struct{}{}
	}
	set := s.conns.byToken[tokenID]
	if set == nil {
		set = map[*trackedConn]struct{}{}
		s.conns.byToken[tokenID] = set
	}
	set[c] = struct{}{}
	s.conns.mu.Unlock()
	return func() {
		s.conns.mu.Lock()
		defer s.conns.mu.Unlock()
		if set := s.conns.byToken[tokenID]; set != nil {
			delete(set, c)
			if len(set) == 0 {
				delete(s.conns.byToken, tokenID)
			}
		}
	}
}

// EndConnections ends this instance's connections opened with tokenID and
// returns how many there were.
func (s *Service) EndConnections(tokenID string) int {
	s.conns.mu.Lock()
	set := s.conns.byToken[tokenID]
	delete(s.conns.byToken, tokenID)
	s.conns.mu.Unlock()
	for c := range set {
		c.once.Do(c.end)
	}
	return len(set)
}

// TrackedConnections returns how many connections this instance tracks.
func (s *Service) TrackedConnections() int {
	s.conns.mu.Lock()
	defer s.conns.mu.Unlock()
	n := 0
	for _, set := range s.conns.byToken {
		n += len(set)
	}
	return n
}

// RecheckConnections ends the tracked connections whose token is revoked in
// the database. The feed calls it when it may have missed announcements (its
// Redis connection broke), so a lost event cannot leave a revoked token's
// websocket open.
func (s *Service) RecheckConnections(ctx context.Context) error {
	s.conns.mu.Lock()
	ids := make([]string, 0, len(s.conns.byToken))
	for id := range s.conns.byToken {
		ids = append(ids, id)
	}
	s.conns.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	var revoked []string
	err := s.db.NewSelect().Model((*Token)(nil)).Column("id").
		Where("id IN (?)", bun.In(ids)).Where("revoked_at IS NOT NULL").Scan(ctx, &revoked)
	if err != nil {
		return fmt.Errorf("auth: recheck connections: %w", err)
	}
	for _, id := range revoked {
		s.EndConnections(id)
	}
	return nil
}

// announce ends the revoked token's connections here at once, then tells the
// other instances. A failed announcement is an error the caller can retry:
// the token is revoked either way, and revoking again announces again.
func (s *Service) announce(ctx context.Context, tokenID string) error {
	s.EndConnections(tokenID)
	if s.feed == nil {
		return nil
	}
	if err := s.feed.AnnounceRevocation(ctx, tokenID); err != nil {
		return apperr.Wrap(err, apperr.Unavailable, "the token is revoked, but the other instances could not be told to close its open websockets").
			WithSuggestion("Retry revokeApiToken: revoking again tells them again. They also recheck on their own when the event bus reconnects.")
	}
	return nil
}

// CheckActive checks that a token authenticated earlier (at a websocket's
// connection_init) is still valid: an UNAUTHENTICATED error when it was
// revoked since, UNAVAILABLE when the check cannot run. Each operation on a
// websocket runs it, so none runs after a revocation committed, even before
// the announcement reaches this instance.
func (s *Service) CheckActive(ctx context.Context, tokenID string) error {
	var t Token
	err := s.db.NewSelect().Model(&t).Column("id", "revoked_at").Where("id = ?", tokenID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return invalidToken()
	}
	if err != nil {
		return apperr.Wrap(err, apperr.Unavailable, "could not check the API token")
	}
	if t.RevokedAt != nil {
		return revokedToken()
	}
	return nil
}
