package supervisor

import (
	"context"
	"errors"
)

// schedulePeriodic is the one place the sweeps are scheduled: each runs
// every interval until Close. (Each sweep is one method, so moving it to a
// periodic background job means replacing only this function.)
func (s *Supervisor) schedulePeriodic() {
	s.every(timerTimeoutSweep, s.opts.TimeoutCheckInterval, func(ctx context.Context) {
		if err := s.SweepTimeouts(ctx); err != nil && ctx.Err() == nil {
			s.log.Error().Err(err).Msg("activation timeout sweep failed")
		}
	})
	s.every(timerHealthSweep, s.opts.HealthSweepInterval, func(ctx context.Context) {
		if _, err := s.SweepHealth(ctx); err != nil && ctx.Err() == nil {
			s.log.Error().Err(err).Msg("health sweep failed")
		}
	})
}

// SweepTimeouts resets every activation past its stored deadline and
// reconnects banned accounts whose ban has ended. It runs at start and every
// TimeoutCheckInterval, so deadlines hold across restarts even though the
// precise in-memory timers do not survive them.
func (s *Supervisor) SweepTimeouts(ctx context.Context) error {
	due, err := s.accounts.DueForSweep(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range due {
		switch {
		case d.ActivationExpired:
			step, err := s.accounts.ExpireActivation(ctx, d.AccountID, "")
			errs = append(errs, err)
			s.apply(ctx, d.AccountID, step)
		case d.BanEnded:
			step, err := s.accounts.LiftBan(ctx, d.AccountID)
			errs = append(errs, err)
			s.apply(ctx, d.AccountID, step)
		}
	}
	return errors.Join(errs...)
}

// HealthReport says what one health sweep did.
type HealthReport struct {
	// Checked counts linked accounts without a phone number that were looked at.
	Checked int
	// Repaired counts those whose number was found and stored.
	Repaired int
	// Missing counts those whose number is still unknown.
	Missing int
	// Active counts ACTIVE accounts whose live session was seen connected
	// (their last activity time was recorded).
	Active int
}

// SweepHealth repairs linked accounts that lack a phone number (from the
// stored JID, else from the live session's device) and records the activity
// of connected sessions, which restore uses to tell idle sessions from live
// ones. It runs at start and every HealthSweepInterval, logs what it did and
// counts it in Metrics.PhoneExtracted. Both halves look at this instance's
// live sessions.
func (s *Supervisor) SweepHealth(ctx context.Context) (HealthReport, error) {
	var rep HealthReport
	missing, err := s.accounts.MissingPhoneNumbers(ctx)
	if err != nil {
		return rep, err
	}
	var errs []error
	for _, p := range missing {
		rep.Checked++
		dev, _ := s.sessions.Live(p.AccountID)
		step, ok, err := s.accounts.RepairPhone(ctx, p, dev)
		switch {
		case err != nil:
			errs = append(errs, err)
		case ok:
			rep.Repaired++
			s.metrics.PhoneExtracted("sweep_repaired")
		default:
			rep.Missing++
			s.metrics.PhoneExtracted("sweep_missing")
			s.accountLog(p.AccountID).Warn().Str("status", string(p.Status)).Msg("linked account still has no phone number")
		}
		s.apply(ctx, p.AccountID, step)
	}
	n, err := s.recordActivity(ctx)
	rep.Active = n
	errs = append(errs, err)
	ev := s.log.Debug()
	if rep.Checked > 0 {
		ev = s.log.Info()
	}
	ev.Int("checked", rep.Checked).Int("repaired", rep.Repaired).Int("missing", rep.Missing).Int("active", rep.Active).Msg("health sweep")
	return rep, errors.Join(errs...)
}

// recordActivity stamps last_active_at on ACTIVE accounts whose session is
// connected right now, and returns how many there were.
func (s *Supervisor) recordActivity(ctx context.Context) (int, error) {
	ids, err := s.accounts.ActiveAccountIDs(ctx)
	if err != nil {
		return 0, err
	}
	var live []string
	for _, id := range ids {
		if _, connected := s.sessions.Live(id); connected {
			live = append(live, id)
		}
	}
	return len(live), s.accounts.RecordActivity(ctx, live)
}
