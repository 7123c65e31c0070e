package supervisor

import "context"

// When unheld leases are claimed. A renewal claims them every interval;
// besides, so that a failover or a drain does not wait for it:
//   - a lease that lapses before this instance's next renewal (its owner
//     stopped renewing: crashed, hung, cut off) is claimed at its expiry,
//     so a kill -9 costs LEASE_TTL after the last renewal, not up to one
//     interval more;
//   - leases released by a drain or a rebalance are claimed as soon as the
//     notice arrives over the bus (route_notice.go).
// Nothing is claimed at start before the first renewal (startLeases).

// claimPass claims unheld leases up to the share, connects their sessions,
// and schedules the next pass for a lease about to lapse.
func (s *Supervisor) claimPass(ctx context.Context) {
	l := s.lease
	l.claimMu.Lock()
	claimed, err := s.claimShare(ctx)
	l.claimMu.Unlock()
	if err != nil && ctx.Err() == nil {
		s.log.Error().Err(err).Msg("lease takeover failed")
	}
	if len(claimed) > 0 {
		s.restoreTaken(ctx, claimed)
	}
	s.scheduleLapseClaim(ctx)
}

// scheduleLapseClaim schedules a claim pass at the expiry of the first
// lease of another instance to lapse before this one's next renewal. An
// owner that renews keeps its leases at least TTL-RenewInterval ahead, so
// this schedules nothing while every instance renews.
func (s *Supervisor) scheduleLapseClaim(ctx context.Context) {
	l := s.lease
	now := s.opts.Clock.Now()
	at, ok, err := l.repo.nextLapse(ctx, l.self, now)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn().Err(err).Msg("read the next lease to lapse")
		}
		return
	}
	if d := at.Sub(now); ok && d < l.opts.RenewInterval {
		s.schedule(timerKey{kind: timerClaim}, d, s.claimPass)
	}
}

// listenForReleases claims released leases when another instance says it
// released some.
func (s *Supervisor) listenForReleases() {
	if n, ok := s.lease.opts.Router.(leaseNotifier); ok {
		n.OnReleased(func() { s.spawn(s.claimPass) })
	}
}

// notifyReleased tells the other instances this one released leases.
func (s *Supervisor) notifyReleased(ctx context.Context) {
	if n, ok := s.lease.opts.Router.(leaseNotifier); ok {
		if err := n.NotifyReleased(ctx); err != nil {
			s.log.Warn().Err(err).Msg("tell the other instances leases were released; they claim them at their next renewal")
		}
	}
}
