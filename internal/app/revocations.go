package app

import (
	"context"
	"errors"
	"sync"
	"time"

	"wagraph/internal/pubsub"
)

// revokedTokens carries token revocations between instances: each closes the
// websockets opened with a revoked token (auth.Service.EndConnections).
const revokedTokens pubsub.Topic[revokedToken] = "auth.token-revoked"

type revokedToken struct {
	TokenID string `json:"tokenId"`
}

// revocationFeed is auth's RevocationFeed over the event bus.
type revocationFeed struct{ bus pubsub.Bus }

func (f revocationFeed) AnnounceRevocation(ctx context.Context, tokenID string) error {
	return pubsub.Publish(ctx, f.bus, revokedTokens, revokedToken{TokenID: tokenID})
}

// listenRevocations ends this instance's websockets of every token revoked
// on any instance, until Close. It subscribes before returning when the bus
// is up, so no revocation announced after New returns is missed; when the bus
// is down (Redis at start) it keeps trying in the background. Whenever the
// bus may have lost announcements (a Redis reconnect, an overflow, a late
// subscription) the open websockets' tokens are rechecked in the database.
func (a *App) listenRevocations(_ context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	// The subscription ends with ctx, so Close only cancels and waits.
	sub, err := a.Bus.Subscribe(ctx, string(revokedTokens), pubsub.WithResync())
	if err != nil {
		a.Log.Warn().Err(err).Msg("revocations: cannot subscribe yet; retrying in the background")
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for wait := 100 * time.Millisecond; ; {
			if sub != nil {
				a.followRevocations(ctx, sub)
				if ctx.Err() != nil || errors.Is(sub.Err(), pubsub.ErrClosed) {
					return
				}
			}
			// Not subscribed yet, or cut off (too slow): subscribe again
			// and catch up from the database.
			if sub, err = a.Bus.Subscribe(ctx, string(revokedTokens), pubsub.WithResync()); err != nil {
				sub = nil
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
				wait = min(2*wait, 10*time.Second)
				continue
			}
			wait = 100 * time.Millisecond
			a.recheckConnections(ctx)
		}
	}()
	a.closers = append(a.closers, func() error {
		cancel()
		wg.Wait()
		return nil
	})
	return nil
}

func (a *App) followRevocations(ctx context.Context, sub pubsub.Subscription) {
	for m := range sub.C() {
		if m.Resync {
			a.recheckConnections(ctx)
			continue
		}
		ev, err := pubsub.Decode[revokedToken](m)
		if err != nil {
			a.Log.Warn().Err(err).Msg("revocations: undecodable announcement")
			continue
		}
		if n := a.Auth.EndConnections(ev.TokenID); n > 0 {
			a.Log.Info().Str("token_id", ev.TokenID).Int("websockets", n).Msg("closed the websockets of a revoked token")
		}
	}
}

func (a *App) recheckConnections(ctx context.Context) {
	if err := a.Auth.RecheckConnections(ctx); err != nil {
		a.Log.Warn().Err(err).Msg("revocations: cannot recheck open websockets' tokens")
	}
}
