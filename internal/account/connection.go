package account

import (
	"context"
	"fmt"
	"time"

	"wagraph/internal/apperr"
)

// Reconnect moves a linked account to RECONNECTING with a fresh series of
// reconnect attempts; the step connects it now. It is the way out of FAILED,
// DISCONNECTED after a replaced stream, and EXPIRED.
func (s *Service) Reconnect(ctx context.Context, id string) (Step, error) {
	ref := newRef(ctx, id)
	res, err := s.modify(ctx, id, func(u *update) error {
		if u.row.JID == "" {
			return apperr.Newf(apperr.InvalidTransition, "the account is %s and has no linked device to reconnect", u.row.Status).
				WithSuggestion("Start an activation to link the account to a phone.")
		}
		u.move(StatusReconnecting, reason(ReasonReconnectByUser))
		u.row.SessionID = ref.SessionID
		u.row.ReconnectAttempts = 0
		u.row.BannedUntil = time.Time{}
		return nil
	})
	if err != nil {
		return Step{}, err
	}
	step := s.stepOf(res)
	step.CancelRetry = true
	step.Connect, step.ConnectJID = &ref, res.row.JID
	return step, nil
}

// Logout marks the account LOGGED_OUT and forgets its device; the step
// unlinks the device from WhatsApp (when connected) and deletes it. The
// phone number is kept so people can tell which phone to link again.
func (s *Service) Logout(ctx context.Context, id string) (Step, error) {
	var jid string
	res, err := s.modify(ctx, id, func(u *update) error {
		jid = u.row.JID
		u.move(StatusLoggedOut, reason(ReasonLoggedOutByUser))
		u.row.clearDevice()
		u.row.SessionID = ""
		u.row.BannedUntil = time.Time{}
		u.row.ReconnectAttempts = 0
		return nil
	})
	if err != nil {
		return Step{}, err
	}
	step := s.stepOf(res)
	step.DropSession, step.DropJID = true, jid
	return step, nil
}

// SessionMissing records that the stored device a session of ref was to log
// in with does not exist: an activation goes back to PENDING, a linked
// account becomes LOGGED_OUT (SESSION_MISSING).
func (s *Service) SessionMissing(ctx context.Context, ref SessionRef) (Step, error) {
	res, err := s.onSession(ctx, ref, func(u *update) error {
		if u.row.Status.Activating() {
			u.move(StatusPending, NewReason(ReasonActivationStopped, "The device stored at pairing was not found, so the activation cannot continue."))
			u.row.PhoneNumber = ""
		} else {
			u.move(StatusLoggedOut, reason(ReasonSessionMissing))
		}
		u.row.clearDevice()
		u.row.SessionID = ""
		return nil
	})
	return s.stopIfChanged(res, err)
}

// stopIfChanged is the step of a change that takes the account offline:
// its session stops, unless the change was skipped or failed.
func (s *Service) stopIfChanged(res modified, err error) (Step, error) {
	if err != nil {
		return Step{}, err
	}
	step := s.stepOf(res)
	step.StopSession = !step.Skipped
	return step, nil
}

// ConnectionLost records a transient loss of the connection (or a failed
// attempt to connect) of ref: it counts the attempt, and either asks for the
// next one after a backoff (status RECONNECTING) or, past the limit, gives
// up (FAILED). Connections that lasted less than StableAfter do not reset the
// count, so a flapping account reaches the limit too.
func (s *Service) ConnectionLost(ctx context.Context, ref SessionRef, r Reason) (Step, error) {
	var gaveUp bool
	res, err := s.onSession(ctx, ref, func(u *update) error {
		row := u.row
		if !u.in(StatusActive, StatusDisconnected, StatusReconnecting, StatusAuthenticating, StatusWarming) {
			return errSkip
		}
		wasUp := u.in(StatusActive, StatusDisconnected)
		if wasUp && !row.LastConnectedAt.IsZero() && u.now.Sub(row.LastConnectedAt) >= s.opts.StableAfter {
			row.ReconnectAttempts = 0
		}
		if wasUp {
			row.LastActiveAt = u.now
		}
		row.ReconnectAttempts++
		if row.ReconnectAttempts > s.opts.MaxReconnectAttempts {
			gaveUp = true
			u.move(StatusFailed, NewReason(ReasonReconnectLimit,
				fmt.Sprintf("Gave up after %d reconnect attempts in a row; the last problem was: %s", s.opts.MaxReconnectAttempts, r.Message)))
			row.SessionID = ""
			return nil
		}
		if wasUp {
			u.move(StatusReconnecting, r)
		}
		return nil
	})
	if err != nil {
		return Step{}, err
	}
	step := s.stepOf(res)
	switch {
	case step.Skipped:
	case gaveUp:
		step.StopSession = true
	default:
		step.Retry, step.RetryAttempt = &ref, res.row.ReconnectAttempts
	}
	return step, nil
}

// RenewSession is a scheduled reconnect of the session old: it records a new
// session id and the step connects it, unless the account moved on in the
// meantime (reset, logged out, reconnected by hand).
func (s *Service) RenewSession(ctx context.Context, old SessionRef) (Step, error) {
	next := SessionRef{AccountID: old.AccountID, SessionID: newID(), Epoch: old.Epoch}
	res, err := s.onSession(ctx, old, func(u *update) error {
		if !u.in(StatusReconnecting, StatusAuthenticating, StatusWarming) {
			return errSkip
		}
		u.row.SessionID = next.SessionID
		return nil
	})
	if err != nil {
		return Step{}, err
	}
	step := s.stepOf(res)
	if !step.Skipped {
		step.Connect, step.ConnectJID = &next, res.row.JID
	}
	return step, nil
}

// onSession is modify for work on behalf of one session: it skips when the
// account has moved on to another session since, and writes fenced by the
// session's lease epoch (fence.go).
func (s *Service) onSession(ctx context.Context, ref SessionRef, fn func(u *update) error) (modified, error) {
	if ref.Epoch > 0 {
		ctx = WithEpoch(ctx, ref.Epoch)
	}
	return s.modify(ctx, ref.AccountID, func(u *update) error {
		if ref.SessionID == "" || u.row.SessionID != ref.SessionID {
			return errSkip
		}
		return fn(u)
	})
}
