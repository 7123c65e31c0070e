package supervisor

import (
	"context"
	"errors"

	"wagraph/internal/account"
)

// The sweeps look at stored state, not at live sessions, so one instance
// can run them for every account: they run as River periodic jobs on the
// elected leader (sweepjobs.go). What belongs to this instance's own live
// sessions (recording their activity, activity.go) stays here.

// SweepTimeouts resets every activation past its stored deadline and
// reconnects banned accounts whose ban has ended. It runs as the
// sweep_timeouts job every TimeoutCheckInterval, so deadlines hold across
// restarts even though the precise in-memory timers do not survive them.
func (s *Supervisor) SweepTimeouts(ctx context.Context) error {
	due, err := s.accounts.DueForSweep(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range due {
		// With several instances each runs on the account's owner, which
		// stops or connects the session.
		switch {
		case d.ActivationExpired:
			_, err := s.onOwner(ctx, routeExpireActivation, d.AccountID, routeBody{})
			errs = append(errs, err)
		case d.BanEnded:
			_, err := s.onOwner(ctx, routeLiftBan, d.AccountID, routeBody{})
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			break // the job is retried; what is done stays done
		}
	}
	return errors.Join(append(errs, ctx.Err())...)
}

func (s *Supervisor) expireActivation(ctx context.Context, id string) error {
	step, err := s.accounts.ExpireActivation(ctx, id, "")
	s.apply(ctx, id, step)
	return err
}

func (s *Supervisor) liftBan(ctx context.Context, id string) error {
	step, err := s.accounts.LiftBan(ctx, id)
	s.apply(ctx, id, step)
	return err
}

// PhoneReport says what one phone-number sweep did.
type PhoneReport struct {
	// Checked counts linked accounts without a phone number that were looked at.
	Checked int
	// Repaired counts those whose number was found and stored.
	Repaired int
	// Missing counts those whose number is still unknown.
	Missing int
}

// SweepPhoneNumbers repairs linked accounts that lack a phone number. It
// runs as the sweep_phone_numbers job on the leader, for every account
// wherever its session runs, so it reads the number from what is shared:
// the account's stored JID, else the device whatsmeow stored in the same
// database under the account's JID or LID (Sessions.StoredDevice). Only
// when neither tells it does it ask this instance's live session, if it
// runs the account; a session running on another instance finds its
// number itself (the whatsapp session's retry, which reports
// PhoneNumberFound). It logs what it did and counts it in
// Metrics.PhoneExtracted. It is idempotent: a repaired account is no
// longer missing its number, and a stopped sweep keeps what it stored.
func (s *Supervisor) SweepPhoneNumbers(ctx context.Context) (PhoneReport, error) {
	var rep PhoneReport
	missing, err := s.accounts.MissingPhoneNumbers(ctx)
	if err != nil {
		return rep, err
	}
	var errs []error
	for _, p := range missing {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		rep.Checked++
		dev, err := s.deviceOf(ctx, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
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
	ev := s.log.Debug()
	if rep.Checked > 0 {
		ev = s.log.Info()
	}
	ev.Int("checked", rep.Checked).Int("repaired", rep.Repaired).Int("missing", rep.Missing).Msg("phone number sweep")
	return rep, errors.Join(errs...)
}

// deviceOf finds what is known of the device of an account without a phone
// number: its stored JID first, then whatsmeow's device store (shared by
// all instances), then this instance's live session.
func (s *Supervisor) deviceOf(ctx context.Context, p account.PhoneRepair) (account.Device, error) {
	if account.PhoneFromJID(p.JID) != "" {
		return account.Device{}, nil // RepairPhone reads it from the JID
	}
	if p.JID != "" || p.LID != "" {
		dev, err := s.sessions.StoredDevice(ctx, p.JID, p.LID)
		if err != nil {
			return account.Device{}, err
		}
		if dev.JID != "" {
			return dev, nil
		}
	}
	dev, _ := s.sessions.Live(p.AccountID)
	return dev, nil
}
