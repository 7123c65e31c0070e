package account

import (
	"context"
	"errors"
)

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
// counts it in Metrics.PhoneExtracted.
func (s *Service) SweepHealth(ctx context.Context) (HealthReport, error) {
	var rep HealthReport
	rows, err := s.accounts.inStatus(ctx, s.db.DB, StatusWarming, StatusActive, StatusDisconnected, StatusReconnecting)
	if err != nil {
		return rep, err
	}
	var errs []error
	for _, r := range rows {
		if r.PhoneNumber != "" {
			continue
		}
		rep.Checked++
		ok, err := s.repairPhone(ctx, r)
		switch {
		case err != nil:
			errs = append(errs, err)
		case ok:
			rep.Repaired++
			s.opts.Metrics.PhoneExtracted("sweep_repaired")
		default:
			rep.Missing++
			s.opts.Metrics.PhoneExtracted("sweep_missing")
			s.accountLog(r.ID).Warn().Str("status", string(r.Status)).Msg("linked account still has no phone number")
		}
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

// repairPhone finds and stores the phone number of one account.
func (s *Service) repairPhone(ctx context.Context, r *accountRow) (bool, error) {
	phone, jid := PhoneFromJID(r.JID), r.JID
	if phone == "" {
		if dev, _ := s.sessions.Live(r.ID); dev.JID != "" || dev.PhoneNumber != "" {
			dev = withPhone(dev)
			phone, jid = dev.PhoneNumber, dev.JID
		}
	}
	if phone == "" {
		return false, nil
	}
	res, err := s.modify(ctx, r.ID, func(u *update) error {
		if u.row.PhoneNumber != "" {
			return errSkip
		}
		u.row.PhoneNumber = phone
		if u.row.JID == "" {
			u.row.JID = jid
		}
		return nil
	})
	if err != nil || res.skipped {
		return false, err
	}
	s.accountLog(r.ID).Info().Msg("phone number repaired by the health sweep")
	if res.row.Status == StatusWarming {
		return true, s.finishWarming(ctx, SessionRef{AccountID: r.ID, SessionID: res.row.SessionID})
	}
	return true, nil
}

// recordActivity stamps last_active_at on ACTIVE accounts whose session is
// connected right now, and returns how many there were.
func (s *Service) recordActivity(ctx context.Context) (int, error) {
	rows, err := s.accounts.inStatus(ctx, s.db.DB, StatusActive)
	if err != nil {
		return 0, err
	}
	var ids []string
	for _, r := range rows {
		if _, connected := s.sessions.Live(r.ID); connected {
			ids = append(ids, r.ID)
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	return len(ids), s.accounts.touch(ctx, s.db.DB, ids, s.now())
}
