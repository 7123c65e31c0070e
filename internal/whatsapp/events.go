package whatsapp

import (
	"fmt"
	"strings"
	"time"

	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"wagraph/internal/account"
)

// handleEvent is the one place whatsmeow's events enter wagraph: each event
// the lifecycle cares about is mapped to a domain event with a reason code;
// the rest are ignored here (other features subscribe to them elsewhere).
func (s *Session) handleEvent(evt any) {
	switch e := evt.(type) {
	case *events.PairSuccess:
		s.handlePairSuccess(e)
	case *events.PairError:
		s.handlePairError(e)
	case *events.Connected:
		s.handleConnected()
	case *events.PushNameSetting:
		s.handlePushNameSetting(e)
	case *events.Disconnected:
		s.handleDisconnected()
	case *events.KeepAliveTimeout:
		s.handleKeepAliveTimeout(e)
	case *events.KeepAliveRestored:
		s.emit(account.KeepAliveRestored{})
	case *events.LoggedOut:
		s.handleLoggedOut(e)
	case *events.StreamReplaced:
		s.emit(account.StreamReplaced{})
	case *events.TemporaryBan:
		s.handleTemporaryBan(e)
	case *events.ConnectFailure:
		s.handleConnectFailure(e)
	case *events.ClientOutdated:
		s.emit(account.ConnectFailed{Reason: account.NewReason(account.ReasonWAClientOutdated, "")})
	case *events.QRScannedWithoutMultidevice:
		s.log.Warn().Msg("the QR code was scanned by a phone without multi-device; codes keep coming")
	case *events.Message:
		s.handleInbound(e)
	case *events.StreamError:
		// The connection closes after it; Disconnected follows.
		s.log.Warn().Str("code", e.Code).Msg("unknown stream error from WhatsApp")
	}
}

// handlePairSuccess reports the link with the phone number from the pairing
// result, falling back to the device store, and retrying later if both lack it.
func (s *Session) handlePairSuccess(e *events.PairSuccess) {
	d := account.Device{
		JID:          jidString(e.ID),
		LID:          jidString(e.LID),
		Platform:     e.Platform,
		BusinessName: e.BusinessName,
	}
	d.PhoneNumber = account.PhoneFromJID(d.JID)
	if id := s.ownJID(); d.PhoneNumber == "" && id != nil {
		d.JID = id.String()
		d.PhoneNumber = account.PhoneFromJID(d.JID)
	}
	s.setDevice(d)
	s.log.Info().Str("jid", d.JID).Bool("phone_number", d.PhoneNumber != "").Msg("paired")
	s.emit(account.Paired{Device: d})
	if d.PhoneNumber == "" {
		s.retryPhoneNumber()
	}
}

func (s *Session) handlePairError(e *events.PairError) {
	msg := "unknown error"
	if e.Error != nil {
		msg = e.Error.Error()
	}
	s.emit(account.PairFailed{Message: msg})
}

func (s *Session) handleConnected() {
	d := deviceOf(s.cli.Store)
	if known := s.deviceInfo(); d.PhoneNumber == "" && known.PhoneNumber != "" {
		d.JID, d.PhoneNumber = known.JID, known.PhoneNumber
	}
	s.setDevice(d)
	s.emit(account.Connected{Device: d})
	if d.PhoneNumber == "" {
		s.retryPhoneNumber()
	}
}

func (s *Session) handlePushNameSetting(e *events.PushNameSetting) {
	if name := e.Action.GetName(); name != "" {
		d := s.deviceInfo()
		d.PushName = name
		s.setDevice(d)
		s.emit(account.PushNameChanged{PushName: name})
	}
}

// handleKeepAliveTimeout reports missed pings; when they have failed for
// longer than KeepAliveGiveUp the connection is dropped and handed to the
// service's reconnect backoff (whatsmeow's own forced reconnect is off).
func (s *Session) handleKeepAliveTimeout(e *events.KeepAliveTimeout) {
	s.emit(account.KeepAliveTimeout{ErrorCount: e.ErrorCount, LastSuccess: e.LastSuccess})
	if e.LastSuccess.IsZero() || time.Since(e.LastSuccess) <= s.m.opts.KeepAliveGiveUp {
		return
	}
	s.log.Warn().Time("last_success", e.LastSuccess).Msg("keep-alives failing too long; dropping the connection")
	s.drop(account.NewReason(account.ReasonWAKeepAliveTimeout,
		fmt.Sprintf("WhatsApp has not answered keep-alive pings since %s; reconnecting.", e.LastSuccess.UTC().Format(time.RFC3339))))
}

// handleDisconnected reports a lost connection (transient: the service
// reconnects), with the reason wagraph dropped it for, if it did.
func (s *Session) handleDisconnected() {
	r := account.NewReason(account.ReasonWADisconnected, "")
	s.mu.Lock()
	if s.dropReason != nil {
		r, s.dropReason = *s.dropReason, nil
	}
	s.mu.Unlock()
	s.emit(account.Disconnected{Reason: r})
}

// handleLoggedOut reports a device removed by the phone or by WhatsApp.
// whatsmeow has already deleted the stored device.
func (s *Session) handleLoggedOut(e *events.LoggedOut) {
	when := "while connected"
	if e.OnConnect {
		when = "when connecting"
	}
	s.setDevice(account.Device{})
	s.emit(account.LoggedOut{Reason: account.NewReason(account.ReasonWALoggedOut,
		fmt.Sprintf("WhatsApp logged this device out %s (%s); the session was deleted.", when, e.Reason))})
}

func (s *Session) handleTemporaryBan(e *events.TemporaryBan) {
	ban := account.TemporaryBan{Code: int(e.Code), Message: banText(e.Code)}
	if e.Expire > 0 {
		ban.Until = time.Now().Add(e.Expire)
	}
	s.emit(ban)
}

// banText is whatsmeow's description of a ban code without the code prefix.
func banText(code events.TempBanReason) string {
	return strings.TrimPrefix(code.String(), fmt.Sprintf("%d: ", int(code)))
}

// handleConnectFailure reports a refusal whatsmeow does not retry (it
// handles 5xx by reconnecting and maps logouts, bans and outdated clients to
// their own events).
func (s *Session) handleConnectFailure(e *events.ConnectFailure) {
	msg := fmt.Sprintf("WhatsApp refused the connection (%s)", e.Reason)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	s.emit(account.ConnectFailed{Reason: account.NewReason(account.ReasonWAConnectFailure, msg+".")})
}

func jidString(j types.JID) string {
	if j.IsEmpty() {
		return ""
	}
	return j.String()
}
