package app

import (
	"context"

	"wagraph/internal/supervisor"
)

// leaseOptions makes this instance one of several when Redis is configured
// (docs/operations.md): each account runs on the instance holding its
// lease, and commands reach it over a router on the bus. Without Redis
// (one instance) it returns nil: no leases, no routing, as before.
func (a *App) leaseOptions(ctx context.Context) (*supervisor.LeaseOptions, error) {
	if a.Redis == nil {
		return nil, nil
	}
	id := a.Config.InstanceID
	if id == "" {
		id = supervisor.NewInstanceID()
	}
	router, err := supervisor.NewBusRouter(ctx, a.Bus, id, a.Log)
	if err != nil {
		return nil, err
	}
	// Closed after the supervisor (closers run in reverse), which drains
	// first; before the bus it listens on.
	a.closers = append(a.closers, router.Close)
	a.Log.Info().Str("instance", id).Msg("several instances: accounts run under leases, commands go to the owner")
	return &supervisor.LeaseOptions{
		DB:             a.DB,
		InstanceID:     id,
		TTL:            a.Config.LeaseTTL,
		RenewInterval:  a.Config.LeaseRenewInterval,
		RebalanceBatch: a.Config.LeaseRebalanceBatch,
		Router:         router,
		RouteTimeout:   a.Config.RouteTimeout,
		Metrics:        a.Metrics.Leases(),
	}, nil
}
