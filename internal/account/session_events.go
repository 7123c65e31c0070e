package account

import (
	"context"
	"fmt"
	"time"
)

// RecordSessionEvent records what a session reports and returns what the
// runtime must do about it. Events from a session that is no longer the
// account's current one are ignored (a skipped step), so a late event from a
// replaced or stopped session can never undo a newer state.
func (s *Service) RecordSessionEvent(ctx context.Context, ref SessionRef, evt SessionEvent) (Step, error) {
	switch e := evt.(type) {
	case QRCode:
		return s.handleQRCode(ctx, ref, e)
	case PairingCode:
		return s.handlePairingCode(ctx, ref, e)
	case CodesExhausted:
		return s.endActivation(ctx, ref, reason(ReasonCodesExpired))
	case Paired:
		return s.handlePaired(ctx, ref, e)
	case PairFailed:
		return s.endActivation(ctx, ref, NewReason(ReasonPairFailed, pairFailedMessage(e)))
	case Connected:
		return s.handleConnected(ctx, ref, e)
	case PhoneNumberFound:
		return s.handlePhoneNumberFound(ctx, ref, e)
	case PhoneNumberMissing:
		s.opts.Metrics.PhoneExtracted("missing")
		s.accountLog(ref.AccountID).Warn().Int("attempts", e.Attempts).Msg("phone number still unknown after retries; the phone number sweep will keep trying")
		return Step{Skipped: true}, nil
	case PushNameChanged:
		return s.handlePushName(ctx, ref, e)
	case Disconnected:
		return s.handleDisconnected(ctx, ref, e)
	case KeepAliveTimeout:
		return s.handleKeepAliveTimeout(ctx, ref, e)
	case KeepAliveRestored:
		return s.handleKeepAliveRestored(ctx, ref)
	case LoggedOut:
		return s.handleLoggedOut(ctx, ref, e)
	case StreamReplaced:
		return s.handleStreamReplaced(ctx, ref)
	case TemporaryBan:
		return s.handleTemporaryBan(ctx, ref, e)
	case ConnectFailed:
		return s.handleConnectFailed(ctx, ref, e)
	default:
		return Step{}, fmt.Errorf("account: unknown session event %T", evt)
	}
}

func pairFailedMessage(e PairFailed) string {
	if e.Message == "" {
		return ""
	}
	return "WhatsApp rejected the link during pairing: " + e.Message
}

func (s *Service) handleQRCode(ctx context.Context, ref SessionRef, e QRCode) (Step, error) {
	return s.showCode(ctx, ref, MethodQR, QREvent{Code: e.Code, ExpiresAt: e.ExpiresAt.UTC()})
}

func (s *Service) handlePairingCode(ctx context.Context, ref SessionRef, e PairingCode) (Step, error) {
	return s.showCode(ctx, ref, MethodPairingCode, QREvent{PairingCode: e.Code, ExpiresAt: e.ExpiresAt.UTC()})
}

// showCode stores the code an activation shows now (so a page opened late
// still gets it) and publishes it, if the account still waits for one.
func (s *Service) showCode(ctx context.Context, ref SessionRef, method Method, ev QREvent) (Step, error) {
	res, err := s.onSession(ctx, ref, func(u *update) error {
		if u.row.Status != StatusAwaitingScan || u.row.ActivationMethod != method {
			return errSkip
		}
		u.row.QRCode, u.row.PairingCode, u.row.QRExpiresAt = ev.Code, ev.PairingCode, ev.ExpiresAt
		u.qr = &ev
		return nil
	})
	if err != nil {
		return Step{}, err
	}
	return s.stepOf(res), nil
}

// endActivation puts an activation that failed before it completed back to
// PENDING, dropping any half-made device.
func (s *Service) endActivation(ctx context.Context, ref SessionRef, r Reason) (Step, error) {
	return s.reset(ctx, ref.AccountID, r, func(u *update) bool {
		return u.row.SessionID == ref.SessionID && u.in(StatusAwaitingScan, StatusAuthenticating)
	})
}

func (s *Service) handlePaired(ctx context.Context, ref SessionRef, e Paired) (Step, error) {
	d := withPhone(e.Device)
	res, err := s.onSession(ctx, ref, func(u *update) error {
		if u.row.Status != StatusAwaitingScan {
			return errSkip
		}
		u.row.setDevice(d)
		u.move(StatusAuthenticating, reason(ReasonPaired))
		return nil
	})
	if err == nil && !res.skipped {
		if d.PhoneNumber != "" {
			s.opts.Metrics.PhoneExtracted("pair_success")
		} else {
			s.accountLog(ref.AccountID).Warn().Str("jid", d.JID).Msg("paired without a phone number; the session retries")
		}
	}
	if err != nil {
		return Step{}, err
	}
	return s.stepOf(res), nil
}

// withPhone fills a device's phone number from its JID when it is missing.
func withPhone(d Device) Device {
	if d.PhoneNumber == "" {
		d.PhoneNumber = PhoneFromJID(d.JID)
	}
	return d
}

func (s *Service) handleConnected(ctx context.Context, ref SessionRef, e Connected) (Step, error) {
	d := withPhone(e.Device)
	var foundPhone bool
	res, err := s.onSession(ctx, ref, func(u *update) error {
		row := u.row
		foundPhone = row.PhoneNumber == "" && d.PhoneNumber != ""
		row.setDevice(d)
		row.LastConnectedAt, row.LastActiveAt = u.now, u.now
		switch row.Status {
		case StatusAuthenticating:
			u.move(StatusWarming, reason(ReasonLoggedIn))
		case StatusWarming, StatusActive:
			// Warming completes below; an ACTIVE account just records the time.
		case StatusDisconnected, StatusReconnecting:
			u.move(StatusActive, reason(ReasonConnected))
		default:
			return errSkip
		}
		return nil
	})
	if err != nil {
		return Step{}, err
	}
	step := s.stepOf(res)
	if step.Skipped {
		return step, nil
	}
	if foundPhone {
		s.opts.Metrics.PhoneExtracted("connected")
	}
	if res.row.Status == StatusWarming {
		next, err := s.finishWarming(ctx, ref)
		return step.then(next), err
	}
	return step, nil
}

// finishWarming makes a WARMING account ACTIVE once its phone number is
// known; the step ends the activation's timeout.
func (s *Service) finishWarming(ctx context.Context, ref SessionRef) (Step, error) {
	res, err := s.onSession(ctx, ref, func(u *update) error {
		if u.row.Status != StatusWarming || u.row.PhoneNumber == "" {
			return errSkip
		}
		u.move(StatusActive, reason(ReasonConnected))
		u.row.ReconnectAttempts = 0
		return nil
	})
	if err != nil {
		return Step{}, err
	}
	step := s.stepOf(res)
	step.ActivationDone = !step.Skipped
	return step, nil
}

func (s *Service) handlePhoneNumberFound(ctx context.Context, ref SessionRef, e PhoneNumberFound) (Step, error) {
	phone := e.PhoneNumber
	if phone == "" {
		phone = PhoneFromJID(e.JID)
	}
	if phone == "" {
		return Step{Skipped: true}, nil
	}
	res, err := s.onSession(ctx, ref, func(u *update) error {
		if u.row.PhoneNumber != "" {
			return errSkip
		}
		u.row.PhoneNumber = phone
		if u.row.JID == "" {
			u.row.JID = e.JID
		}
		u.publish = true
		return nil
	})
	if err != nil {
		return Step{}, err
	}
	step := s.stepOf(res)
	if step.Skipped {
		return step, nil
	}
	source := e.Source
	if source == "" {
		source = "retry"
	}
	s.opts.Metrics.PhoneExtracted(source)
	s.accountLog(ref.AccountID).Info().Str("source", source).Msg("phone number found")
	next, err := s.finishWarming(ctx, ref)
	return step.then(next), err
}

func (s *Service) handlePushName(ctx context.Context, ref SessionRef, e PushNameChanged) (Step, error) {
	res, err := s.onSession(ctx, ref, func(u *update) error {
		if e.PushName == "" || u.row.PushName == e.PushName {
			return errSkip
		}
		u.row.PushName = e.PushName
		u.publish = true
		return nil
	})
	if err != nil {
		return Step{}, err
	}
	return s.stepOf(res), nil
}

func (s *Service) handleDisconnected(ctx context.Context, ref SessionRef, e Disconnected) (Step, error) {
	r := e.Reason
	if r.Code == "" {
		r = reason(ReasonWADisconnected)
	}
	// Before the scan there is nothing to reconnect to: the codes died with
	// the connection.
	step, err := s.reset(ctx, ref.AccountID, NewReason(ReasonActivationStopped, "The connection to WhatsApp was lost before the code was used."), func(u *update) bool {
		return u.row.SessionID == ref.SessionID && u.row.Status == StatusAwaitingScan
	})
	if err != nil || !step.Skipped {
		return step, err
	}
	return s.ConnectionLost(ctx, ref, r)
}

func (s *Service) handleKeepAliveTimeout(ctx context.Context, ref SessionRef, e KeepAliveTimeout) (Step, error) {
	res, err := s.onSession(ctx, ref, func(u *update) error {
		if u.row.Status != StatusActive {
			return errSkip
		}
		msg := fmt.Sprintf("WhatsApp has not answered %d keep-alive ping(s) in a row; waiting for the connection to recover.", max(e.ErrorCount, 1))
		u.move(StatusDisconnected, NewReason(ReasonWAKeepAliveTimeout, msg))
		return nil
	})
	if err != nil {
		return Step{}, err
	}
	return s.stepOf(res), nil
}

func (s *Service) handleKeepAliveRestored(ctx context.Context, ref SessionRef) (Step, error) {
	res, err := s.onSession(ctx, ref, func(u *update) error {
		if u.row.Status != StatusDisconnected || u.row.ReasonCode != string(ReasonWAKeepAliveTimeout) {
			return errSkip
		}
		u.row.LastActiveAt = u.now
		u.move(StatusActive, reason(ReasonConnected))
		return nil
	})
	if err != nil {
		return Step{}, err
	}
	return s.stepOf(res), nil
}

func (s *Service) handleLoggedOut(ctx context.Context, ref SessionRef, e LoggedOut) (Step, error) {
	r := e.Reason
	if r.Code == "" {
		r = reason(ReasonWALoggedOut)
	}
	var jid string
	res, err := s.onSession(ctx, ref, func(u *update) error {
		if u.in(StatusPending, StatusLoggedOut) {
			return errSkip
		}
		jid = u.row.JID
		if u.row.Status == StatusAwaitingScan {
			u.move(StatusPending, r)
		} else {
			u.move(StatusLoggedOut, r)
		}
		u.row.clearDevice()
		u.row.SessionID = ""
		u.row.BannedUntil = time.Time{}
		return nil
	})
	if err != nil {
		return Step{}, err
	}
	step := s.stepOf(res)
	if !step.Skipped {
		// whatsmeow deletes the stored device itself; making sure here keeps
		// a failed delete from leaving a dead session behind.
		step.DropSession, step.DropJID = true, jid
	}
	return step, nil
}

func (s *Service) handleStreamReplaced(ctx context.Context, ref SessionRef) (Step, error) {
	res, err := s.onSession(ctx, ref, func(u *update) error {
		switch {
		case u.in(StatusActive, StatusDisconnected, StatusReconnecting):
			u.move(StatusDisconnected, reason(ReasonWAStreamReplaced))
		case u.in(StatusAuthenticating, StatusWarming):
			u.move(StatusFailed, reason(ReasonWAStreamReplaced))
		default:
			return errSkip
		}
		// No automatic reconnect: two clients on one session would keep
		// replacing each other.
		u.row.SessionID = ""
		return nil
	})
	return s.stopIfChanged(res, err)
}

// unknownBanRetry is when a ban without a stated expiry is tried again.
const unknownBanRetry = time.Hour

func (s *Service) handleTemporaryBan(ctx context.Context, ref SessionRef, e TemporaryBan) (Step, error) {
	res, err := s.onSession(ctx, ref, func(u *update) error {
		if u.in(StatusPending, StatusLoggedOut, StatusBanned, StatusAwaitingScan) {
			return errSkip
		}
		msg := "WhatsApp temporarily banned this number"
		if e.Code != 0 || e.Message != "" {
			msg += fmt.Sprintf(" (code %d: %s)", e.Code, e.Message)
		}
		until := e.Until.UTC()
		if until.IsZero() {
			// WhatsApp gave no expiry: look again in an hour rather than
			// hammering it, or never coming back.
			until = u.now.Add(unknownBanRetry)
			msg += "; WhatsApp did not say for how long, wagraph tries again at " + until.Format(time.RFC3339)
		} else {
			msg += " until " + until.Format(time.RFC3339) + "; wagraph reconnects by itself then"
		}
		u.move(StatusBanned, NewReason(ReasonWATemporaryBan, msg+"."))
		u.row.BannedUntil = until
		u.row.SessionID = ""
		return nil
	})
	return s.stopIfChanged(res, err)
}

func (s *Service) handleConnectFailed(ctx context.Context, ref SessionRef, e ConnectFailed) (Step, error) {
	r := e.Reason
	if r.Code == "" {
		r = reason(ReasonWAConnectFailure)
	}
	if ended, err := s.reset(ctx, ref.AccountID, r, func(u *update) bool {
		return u.row.SessionID == ref.SessionID && u.row.Status == StatusAwaitingScan
	}); err != nil || !ended.Skipped {
		return ended, err
	}
	res, err := s.onSession(ctx, ref, func(u *update) error {
		if !u.in(StatusAuthenticating, StatusWarming, StatusActive, StatusDisconnected, StatusReconnecting) {
			return errSkip
		}
		u.move(StatusFailed, r)
		u.row.SessionID = ""
		return nil
	})
	return s.stopIfChanged(res, err)
}
