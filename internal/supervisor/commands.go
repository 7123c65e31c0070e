package supervisor

import (
	"context"
	"errors"

	"wagraph/internal/account"
)

// StartActivation links an account to a phone: the account moves to
// AWAITING_SCAN and a pairing session starts; its first QR code (or pairing
// code) is recorded before this returns the account. An activation that does
// not reach ACTIVE within the activation timeout is reset.
//
// A second start while the first still waits for its code gets the
// activation in progress (or ACTIVATION_IN_PROGRESS for another method);
// a start that fails stops no session but its own.
func (s *Supervisor) StartActivation(ctx context.Context, in account.StartActivationInput) (*account.Account, error) {
	return s.onOwner(ctx, routeStartActivation, in.AccountID, routeBody{Activation: &in})
}

func (s *Supervisor) startActivation(ctx context.Context, in account.StartActivationInput) (*account.Account, error) {
	start, err := s.accounts.BeginActivation(ctx, in)
	if err != nil {
		return nil, err
	}
	if start.InProgress != nil {
		return start.InProgress, nil
	}
	id := in.AccountID
	s.cancelTimer(id, timerReconnect)
	s.scheduleActivationTimeout(start.Ref, start.ExpiresAt)
	if start.OldJID != "" {
		s.dropSession(ctx, id, start.OldJID)
	}
	first, err := s.sessions.Start(ctx, StartRequest{SessionRef: start.Ref, Method: start.Method, PhoneNumber: start.PhoneNumber})
	if err != nil {
		// The failed session cleaned up after itself; stopping "the
		// account's session" here could stop a newer one.
		s.accountLog(id).Warn().Err(err).Msg("could not start the activation session")
		return nil, s.accounts.FailActivation(ctx, start.Ref, err)
	}
	if first != nil {
		step, err := s.accounts.RecordSessionEvent(ctx, start.Ref, first)
		if err != nil {
			return nil, err
		}
		s.apply(ctx, id, step)
	}
	return s.accounts.Get(ctx, id)
}

// Reset stops the account's session, unlinks and deletes its device, and
// puts it back to PENDING (reason RESET_BY_USER), from any status.
func (s *Supervisor) Reset(ctx context.Context, id string) (*account.Account, error) {
	return s.onOwner(ctx, routeReset, id, routeBody{})
}

func (s *Supervisor) reset(ctx context.Context, id string) (*account.Account, error) {
	step, err := s.accounts.Reset(ctx, id)
	if err != nil {
		return nil, err
	}
	s.apply(ctx, id, step)
	return step.Account, nil
}

// Reconnect closes a linked account's connection, if any, and connects it
// again with a fresh series of reconnect attempts. It is the way out of
// FAILED, DISCONNECTED after a replaced stream, and EXPIRED.
func (s *Supervisor) Reconnect(ctx context.Context, id string) (*account.Account, error) {
	return s.onOwner(ctx, routeReconnect, id, routeBody{})
}

func (s *Supervisor) reconnect(ctx context.Context, id string) (*account.Account, error) {
	step, err := s.accounts.Reconnect(ctx, id)
	if err != nil {
		return nil, err
	}
	s.apply(ctx, id, step)
	return s.accounts.Get(ctx, id)
}

// Logout unlinks the account's device from WhatsApp (when connected), deletes
// the stored device and marks the account LOGGED_OUT.
func (s *Supervisor) Logout(ctx context.Context, id string) (*account.Account, error) {
	return s.onOwner(ctx, routeLogout, id, routeBody{})
}

func (s *Supervisor) logout(ctx context.Context, id string) (*account.Account, error) {
	step, err := s.accounts.Logout(ctx, id)
	if err != nil {
		return nil, err
	}
	s.apply(ctx, id, step)
	return step.Account, nil
}

// Delete removes an account: its session is ended, its device unlinked and
// deleted, its row and history removed.
func (s *Supervisor) Delete(ctx context.Context, id string) (*account.Account, error) {
	return s.onOwner(ctx, routeDelete, id, routeBody{})
}

func (s *Supervisor) delete(ctx context.Context, id string) (*account.Account, error) {
	step, err := s.accounts.Delete(ctx, id)
	if err != nil {
		return nil, err
	}
	s.apply(ctx, id, step)
	if s.lease != nil {
		s.lease.drop(id, 0) // its lease row went with it
	}
	return step.Account, nil
}

// connect starts the session that logs in with the stored device jid. A
// missing device marks the account LOGGED_OUT; any other failure counts as a
// lost connection, retried with backoff.
func (s *Supervisor) connect(ctx context.Context, ref account.SessionRef, jid string) {
	err := ErrDeviceMissing
	if jid != "" {
		_, err = s.sessions.Start(ctx, StartRequest{SessionRef: ref, JID: jid})
	}
	var (
		step account.Step
		serr error
	)
	switch {
	case err == nil:
		return
	case errors.Is(err, ErrDeviceMissing):
		step, serr = s.accounts.SessionMissing(ctx, ref)
	default:
		s.accountLog(ref.AccountID).Warn().Err(err).Msg("connect failed")
		step, serr = s.accounts.ConnectionLost(ctx, ref, account.NewReason(account.ReasonConnectError, "Could not connect to WhatsApp: "+err.Error()))
	}
	if serr != nil {
		if !s.fenced(ref, serr) {
			s.accountLog(ref.AccountID).Error().Err(serr).Msg("record failed connect")
		}
		return
	}
	s.apply(ctx, ref.AccountID, step)
}

// HandleSessionEvent records what a session reports (through the account
// service) and does what that asks of the runtime. Events from a session
// that is no longer the account's current one change nothing.
func (s *Supervisor) HandleSessionEvent(ctx context.Context, ref account.SessionRef, evt account.SessionEvent) error {
	step, err := s.accounts.RecordSessionEvent(ctx, ref, evt)
	if err != nil {
		if s.fenced(ref, err) {
			return nil // the session was stopped: another instance runs it now
		}
		return err
	}
	s.apply(ctx, ref.AccountID, step)
	return nil
}
