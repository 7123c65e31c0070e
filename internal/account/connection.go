package account

import (
	"context"
	"errors"
	"fmt"
	"time"

	"wagraph/internal/apperr"
)

// Reconnect closes a linked account's connection, if any, and connects it
// again with a fresh series of reconnect attempts. It is the way out of
// FAILED, DISCONNECTED after a replaced stream, and EXPIRED.
func (s *Service) Reconnect(ctx context.Context, id string) (*Account, error) {
	sessionID := newID()
	res, err := s.modify(ctx, id, func(u *update) error {
		if u.row.JID == "" {
			return apperr.Newf(apperr.InvalidTransition, "the account is %s and has no linked device to reconnect", u.row.Status).
				WithSuggestion("Start an activation to link the account to a phone.")
		}
		u.move(StatusReconnecting, reason(ReasonReconnectByUser))
		u.row.SessionID = sessionID
		u.row.ReconnectAttempts = 0
		u.row.BannedUntil = time.Time{}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.cancelTimer(id, timerReconnect)
	s.connect(ctx, SessionRef{AccountID: id, SessionID: sessionID}, res.row.JID)
	return s.Get(ctx, id)
}

// Logout unlinks the account's device from WhatsApp (when connected), deletes
// the stored device and marks the account LOGGED_OUT. The phone number is
// kept so people can tell which phone to link again.
func (s *Service) Logout(ctx context.Context, id string) (*Account, error) {
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
		return nil, err
	}
	s.cancelTimers(id)
	s.dropSession(ctx, id, jid)
	return res.row.toAccount(s.opts.SessionIdleLimit), nil
}

// connect starts the session that logs in with the stored device jid. A
// missing device marks the account LOGGED_OUT; any other failure counts as a
// lost connection, retried with backoff.
func (s *Service) connect(ctx context.Context, ref SessionRef, jid string) {
	err := ErrDeviceMissing
	if jid != "" {
		err = s.sessions.Start(ctx, StartRequest{SessionRef: ref, JID: jid}, s)
	}
	switch {
	case err == nil:
	case errors.Is(err, ErrDeviceMissing):
		if merr := s.markSessionMissing(ctx, ref); merr != nil {
			s.accountLog(ref.AccountID).Error().Err(merr).Msg("record missing session")
		}
	default:
		s.accountLog(ref.AccountID).Warn().Err(err).Msg("connect failed")
		if lerr := s.connectionLost(ctx, ref, NewReason(ReasonConnectError, "Could not connect to WhatsApp: "+err.Error())); lerr != nil {
			s.accountLog(ref.AccountID).Error().Err(lerr).Msg("record failed connect")
		}
	}
}

func (s *Service) markSessionMissing(ctx context.Context, ref SessionRef) error {
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
	return s.stopAfter(ctx, ref.AccountID, res, err)
}

// connectionLost handles a transient loss of the connection (or a failed
// attempt to connect): it counts the attempt, and either schedules the next
// one after a jittered backoff (status RECONNECTING) or, past the limit, gives
// up (FAILED). Connections that lasted less than StableAfter do not reset the
// count, so a flapping account reaches the limit too.
func (s *Service) connectionLost(ctx context.Context, ref SessionRef, r Reason) error {
	var (
		delay  time.Duration
		gaveUp bool
	)
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
		delay = s.backoff(row.ReconnectAttempts)
		if wasUp {
			u.move(StatusReconnecting, r)
		}
		return nil
	})
	if err != nil || res.skipped {
		return err
	}
	if gaveUp {
		s.cancelTimers(ref.AccountID)
		s.stopSession(ctx, ref.AccountID)
		return nil
	}
	s.opts.Metrics.ReconnectScheduled()
	s.accountLog(ref.AccountID).Info().Int("attempt", res.row.ReconnectAttempts).Dur("delay", delay).Msg("reconnect scheduled")
	s.schedule(timerKey{ref.AccountID, timerReconnect}, delay, func(ctx context.Context) {
		s.reconnectNow(ctx, ref)
	})
	return nil
}

// reconnectNow is a scheduled reconnect: it starts a new session unless the
// account moved on in the meantime (reset, logged out, reconnected by hand).
func (s *Service) reconnectNow(ctx context.Context, old SessionRef) {
	next := SessionRef{AccountID: old.AccountID, SessionID: newID()}
	res, err := s.onSession(ctx, old, func(u *update) error {
		if !u.in(StatusReconnecting, StatusAuthenticating, StatusWarming) {
			return errSkip
		}
		u.row.SessionID = next.SessionID
		return nil
	})
	if err != nil {
		s.accountLog(old.AccountID).Error().Err(err).Msg("scheduled reconnect")
		return
	}
	if res.skipped {
		return
	}
	s.connect(ctx, next, res.row.JID)
}

// onSession is modify for work on behalf of one session: it skips when the
// account has moved on to another session since.
func (s *Service) onSession(ctx context.Context, ref SessionRef, fn func(u *update) error) (modified, error) {
	return s.modify(ctx, ref.AccountID, func(u *update) error {
		if ref.SessionID == "" || u.row.SessionID != ref.SessionID {
			return errSkip
		}
		return fn(u)
	})
}
