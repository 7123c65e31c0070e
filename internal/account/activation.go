package account

import (
	"context"
	"errors"
	"time"

	"wagraph/internal/apperr"
)

// StartActivationInput is what startActivation takes.
type StartActivationInput struct {
	AccountID string
	Method    Method
	// PhoneNumber is required for PAIRING_CODE: the number of the phone that
	// will enter the code, in any common format.
	PhoneNumber string
}

// StartActivation links an account to a phone: it moves the account to
// AWAITING_SCAN and starts a pairing session, which delivers QR codes (or a
// pairing code) as events. It returns once the session is under way, with the
// first code when it arrived in time. An activation that does not reach
// ACTIVE within the activation timeout is reset.
//
// It may be called again while AWAITING_SCAN (for fresh codes or another
// method), and on a LOGGED_OUT, EXPIRED or FAILED account, whose old device
// is removed first.
func (s *Service) StartActivation(ctx context.Context, in StartActivationInput) (*Account, error) {
	if !in.Method.Valid() {
		return nil, apperr.Invalid("method", "unknown activation method '"+string(in.Method)+"'", "Use QR or PAIRING_CODE.")
	}
	var phone string
	if in.Method == MethodPairingCode {
		var err error
		if phone, err = NormalizePhone(in.PhoneNumber, s.opts.PhoneRegion); err != nil {
			return nil, err
		}
	}
	sessionID := newID()
	var oldJID string
	res, err := s.modify(ctx, in.AccountID, func(u *update) error {
		oldJID = u.row.JID
		msg := "Waiting for the phone to scan the QR code."
		if in.Method == MethodPairingCode {
			msg = "Waiting for the pairing code to be entered on the phone " + phone + "."
		}
		u.move(StatusAwaitingScan, NewReason(ReasonActivationStarted, msg))
		r := u.row
		r.clearActivation()
		r.clearDevice()
		r.PhoneNumber = ""
		r.SessionID = sessionID
		r.ActivationMethod = in.Method
		r.ActivationStartedAt = u.now
		r.ActivationExpiresAt = u.now.Add(s.opts.ActivationTimeout)
		r.PairingPhone = phone
		r.BannedUntil = time.Time{}
		r.ReconnectAttempts = 0
		return nil
	})
	if err != nil {
		return nil, err
	}
	id := in.AccountID
	s.cancelTimer(id, timerReconnect)
	s.scheduleActivationTimeout(id, sessionID, res.row.ActivationExpiresAt)
	if oldJID != "" {
		s.dropSession(ctx, id, oldJID)
	}
	ref := SessionRef{AccountID: id, SessionID: sessionID}
	err = s.sessions.Start(ctx, StartRequest{SessionRef: ref, Method: in.Method, PhoneNumber: phone}, s)
	if err != nil {
		s.accountLog(id).Warn().Err(err).Msg("could not start the activation session")
		if _, ferr := s.onSession(ctx, ref, func(u *update) error {
			if u.row.Status != StatusAwaitingScan {
				return errSkip
			}
			u.move(StatusPending, NewReason(ReasonActivationFailed, "The activation could not be started: "+err.Error()))
			u.row.SessionID = ""
			return nil
		}); ferr != nil {
			s.accountLog(id).Error().Err(ferr).Msg("record failed activation")
		}
		s.stopSession(ctx, id)
		return nil, apperr.Wrap(err, apperr.Unavailable, "could not start the activation: "+err.Error()).
			WithSuggestion(reasonCatalog[ReasonActivationFailed].suggestion)
	}
	return s.Get(ctx, id)
}

// Reset stops the account's session, unlinks and deletes its device, and
// puts it back to PENDING (reason RESET_BY_USER), from any status.
func (s *Service) Reset(ctx context.Context, id string) (*Account, error) {
	res, err := s.reset(ctx, id, reason(ReasonResetByUser), nil)
	if err != nil {
		return nil, err
	}
	return res.row.toAccount(s.opts.SessionIdleLimit), nil
}

// reset moves an account to PENDING with r, forgetting its device and
// activation, then drops the session. guard, if set, must accept the locked
// row or nothing happens.
func (s *Service) reset(ctx context.Context, id string, r Reason, guard func(u *update) bool) (modified, error) {
	var jid string
	res, err := s.modify(ctx, id, func(u *update) error {
		if guard != nil && !guard(u) {
			return errSkip
		}
		jid = u.row.JID
		u.move(StatusPending, r)
		row := u.row
		row.clearActivation()
		row.clearDevice()
		row.PhoneNumber = ""
		row.SessionID = ""
		row.BannedUntil = time.Time{}
		row.ReconnectAttempts = 0
		return nil
	})
	if err != nil || res.skipped {
		return res, err
	}
	s.cancelTimers(id)
	s.dropSession(ctx, id, jid)
	return res, nil
}

func (s *Service) scheduleActivationTimeout(id, sessionID string, at time.Time) {
	s.schedule(timerKey{id, timerActivation}, at.Sub(s.now()), func(ctx context.Context) {
		if err := s.expireActivation(ctx, id, sessionID); err != nil && ctx.Err() == nil {
			s.accountLog(id).Error().Err(err).Msg("activation timeout")
		}
	})
}

// expireActivation resets the account if its activation (by sessionID, or
// any when empty) is still running past its deadline.
func (s *Service) expireActivation(ctx context.Context, id, sessionID string) error {
	res, err := s.reset(ctx, id, reason(ReasonActivationTimeout), func(u *update) bool {
		return u.row.Status.Activating() &&
			(sessionID == "" || u.row.SessionID == sessionID) &&
			!u.row.ActivationExpiresAt.IsZero() && !u.now.Before(u.row.ActivationExpiresAt)
	})
	if err == nil && !res.skipped {
		s.opts.Metrics.ActivationTimedOut()
	}
	return err
}

// SweepTimeouts resets every activation past its stored deadline and
// reconnects banned accounts whose ban has ended. It runs at start and every
// TimeoutCheckInterval, so deadlines hold across restarts even though the
// precise in-memory timers do not survive them.
func (s *Service) SweepTimeouts(ctx context.Context) error {
	rows, err := s.accounts.inStatus(ctx, s.db.DB, StatusAwaitingScan, StatusAuthenticating, StatusWarming, StatusBanned)
	if err != nil {
		return err
	}
	now := s.now()
	var errs []error
	for _, r := range rows {
		switch {
		case r.Status.Activating() && !r.ActivationExpiresAt.IsZero() && !now.Before(r.ActivationExpiresAt):
			errs = append(errs, s.expireActivation(ctx, r.ID, ""))
		case r.Status == StatusBanned && !now.Before(r.BannedUntil):
			errs = append(errs, s.liftBan(ctx, r.ID))
		}
	}
	return errors.Join(errs...)
}

// liftBan reconnects an account whose temporary ban has ended.
func (s *Service) liftBan(ctx context.Context, id string) error {
	sessionID := newID()
	res, err := s.modify(ctx, id, func(u *update) error {
		if u.row.Status != StatusBanned || u.now.Before(u.row.BannedUntil) {
			return errSkip
		}
		u.move(StatusReconnecting, reason(ReasonBanExpired))
		u.row.BannedUntil = time.Time{}
		u.row.SessionID = sessionID
		u.row.ReconnectAttempts = 0
		return nil
	})
	if err != nil || res.skipped {
		return err
	}
	s.connect(ctx, SessionRef{AccountID: id, SessionID: sessionID}, res.row.JID)
	return nil
}

// CurrentQR returns the account's current activation code as a QREvent: the
// snapshot a QR stream starts with. Status says where the account is; the
// codes are set while it is AWAITING_SCAN. Done is never set: the snapshot
// describes the present, not the end of an activation.
func (s *Service) CurrentQR(ctx context.Context, id string) (QREvent, error) {
	row, err := s.accounts.get(ctx, s.db.DB, id)
	if err != nil {
		return QREvent{}, err
	}
	ev := QREvent{AccountID: id, Version: row.QRSeq, StatusVersion: row.Version, Status: row.Status}
	if row.Status.Activating() {
		ev.ActivationExpiresAt = row.ActivationExpiresAt
	}
	if row.Status == StatusAwaitingScan {
		ev.Code, ev.PairingCode, ev.ExpiresAt = row.QRCode, row.PairingCode, row.QRExpiresAt
	}
	return ev, nil
}
