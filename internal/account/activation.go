package account

import (
	"context"
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

// ActivationStart is an activation recorded by BeginActivation, for the
// runtime to start its pairing session.
type ActivationStart struct {
	// Ref is the new pairing session, already recorded on the account.
	Ref    SessionRef
	Method Method
	// PhoneNumber is the E.164 number to request a pairing code for.
	PhoneNumber string
	// OldJID is the device of an earlier link, to unlink and delete first.
	OldJID string
	// ExpiresAt is when the activation is reset unless it reached ACTIVE.
	ExpiresAt time.Time
	// InProgress, when set, is the account of an identical activation that
	// is starting right now (a double click): nothing was changed and no
	// session is to be started; the caller gets this account.
	InProgress *Account
}

// BeginActivation validates an activation request and records it: the
// account moves to AWAITING_SCAN with a new session id and deadline. It may
// be called again while AWAITING_SCAN (for fresh codes or another method),
// and on a LOGGED_OUT, EXPIRED or FAILED account, whose old device is to be
// removed first (OldJID).
//
// While an activation waits for its first code (at most FirstCodeWait),
// another start of it gets that activation (InProgress) rather than
// replacing it, and a start with another method or number gets
// ACTIVATION_IN_PROGRESS: two clicks must not kill each other's sessions.
func (s *Service) BeginActivation(ctx context.Context, in StartActivationInput) (ActivationStart, error) {
	if !in.Method.Valid() {
		return ActivationStart{}, apperr.Invalid("method", "unknown activation method '"+string(in.Method)+"'", "Use QR or PAIRING_CODE.")
	}
	var phone string
	if in.Method == MethodPairingCode {
		var err error
		if phone, err = NormalizePhone(in.PhoneNumber, s.opts.PhoneRegion); err != nil {
			return ActivationStart{}, err
		}
	}
	start := ActivationStart{Ref: newRef(ctx, in.AccountID), Method: in.Method, PhoneNumber: phone}
	res, err := s.modify(ctx, in.AccountID, func(u *update) error {
		r := u.row
		if r.Status == StatusAwaitingScan && r.QRCode == "" && r.PairingCode == "" &&
			u.now.Before(r.ActivationStartedAt.Add(s.opts.FirstCodeWait)) {
			if r.ActivationMethod != in.Method || r.PairingPhone != phone {
				return apperr.Newf(apperr.ActivationInProgress, "an activation by %s started %s ago and is waiting for its first code", r.ActivationMethod, u.now.Sub(r.ActivationStartedAt).Round(time.Second)).
					WithSuggestion("Wait for the code of the activation in progress (the qrCodeUpdated subscription shows it), or start again once it shows to switch method.")
			}
			start.InProgress = r.toAccount(s.opts.SessionIdleLimit)
			return errSkip
		}
		start.OldJID = r.JID
		msg := "Waiting for the phone to scan the QR code."
		if in.Method == MethodPairingCode {
			msg = "Waiting for the pairing code to be entered on the phone " + phone + "."
		}
		u.move(StatusAwaitingScan, NewReason(ReasonActivationStarted, msg))
		r.clearActivation()
		r.clearDevice()
		r.PhoneNumber = ""
		r.SessionID = start.Ref.SessionID
		r.ActivationMethod = in.Method
		r.ActivationStartedAt = u.now
		r.ActivationExpiresAt = u.now.Add(s.opts.ActivationTimeout)
		r.PairingPhone = phone
		r.BannedUntil = time.Time{}
		r.ReconnectAttempts = 0
		return nil
	})
	if err != nil || start.InProgress != nil {
		return start, err
	}
	start.ExpiresAt = res.row.ActivationExpiresAt
	return start, nil
}

// FailActivation records that the pairing session of ref could not be
// started: the account goes back to PENDING (ACTIVATION_FAILED), unless it
// has moved on to another session meanwhile. It returns the error to show.
func (s *Service) FailActivation(ctx context.Context, ref SessionRef, cause error) error {
	if _, ferr := s.onSession(ctx, ref, func(u *update) error {
		if u.row.Status != StatusAwaitingScan {
			return errSkip
		}
		u.move(StatusPending, NewReason(ReasonActivationFailed, "The activation could not be started: "+cause.Error()))
		u.row.SessionID = ""
		return nil
	}); ferr != nil {
		s.accountLog(ref.AccountID).Error().Err(ferr).Msg("record failed activation")
	}
	return apperr.Wrap(cause, apperr.Unavailable, "could not start the activation: "+cause.Error()).
		WithSuggestion(reasonCatalog[ReasonActivationFailed].suggestion)
}

// Reset puts the account back to PENDING (reason RESET_BY_USER) from any
// status, forgetting its device and activation; the step drops the session
// and device.
func (s *Service) Reset(ctx context.Context, id string) (Step, error) {
	return s.reset(ctx, id, reason(ReasonResetByUser), nil)
}

// reset moves an account to PENDING with r, forgetting its device and
// activation; the step drops the session. guard, if set, must accept the
// locked row or nothing happens.
func (s *Service) reset(ctx context.Context, id string, r Reason, guard func(u *update) bool) (Step, error) {
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
	if err != nil {
		return Step{}, err
	}
	step := s.stepOf(res)
	if !step.Skipped {
		step.DropSession, step.DropJID = true, jid
	}
	return step, nil
}

// ExpireActivation resets the account if its activation (of sessionID, or
// any when empty) is still running past its deadline.
func (s *Service) ExpireActivation(ctx context.Context, id, sessionID string) (Step, error) {
	step, err := s.reset(ctx, id, reason(ReasonActivationTimeout), func(u *update) bool {
		return u.row.Status.Activating() &&
			(sessionID == "" || u.row.SessionID == sessionID) &&
			!u.row.ActivationExpiresAt.IsZero() && !u.now.Before(u.row.ActivationExpiresAt)
	})
	if err == nil && !step.Skipped {
		s.opts.Metrics.ActivationTimedOut()
	}
	return step, err
}

// Due is an account a timeout sweep has to act on.
type Due struct {
	AccountID string
	// ActivationExpired: an activation ran past its deadline.
	ActivationExpired bool
	// BanEnded: a temporary ban is over.
	BanEnded bool
}

// DueForSweep lists the activations past their stored deadline and the
// bans that have ended.
func (s *Service) DueForSweep(ctx context.Context) ([]Due, error) {
	rows, err := s.accounts.inStatus(ctx, s.db.DB, StatusAwaitingScan, StatusAuthenticating, StatusWarming, StatusBanned)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var due []Due
	for _, r := range rows {
		switch {
		case r.Status.Activating() && !r.ActivationExpiresAt.IsZero() && !now.Before(r.ActivationExpiresAt):
			due = append(due, Due{AccountID: r.ID, ActivationExpired: true})
		case r.Status == StatusBanned && !now.Before(r.BannedUntil):
			due = append(due, Due{AccountID: r.ID, BanEnded: true})
		}
	}
	return due, nil
}

// LiftBan moves an account whose temporary ban has ended to RECONNECTING;
// the step connects it.
func (s *Service) LiftBan(ctx context.Context, id string) (Step, error) {
	ref := newRef(ctx, id)
	res, err := s.modify(ctx, id, func(u *update) error {
		if u.row.Status != StatusBanned || u.now.Before(u.row.BannedUntil) {
			return errSkip
		}
		u.move(StatusReconnecting, reason(ReasonBanExpired))
		u.row.BannedUntil = time.Time{}
		u.row.SessionID = ref.SessionID
		u.row.ReconnectAttempts = 0
		return nil
	})
	if err != nil {
		return Step{}, err
	}
	step := s.stepOf(res)
	if !step.Skipped {
		step.Connect, step.ConnectJID = &ref, res.row.JID
	}
	return step, nil
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
