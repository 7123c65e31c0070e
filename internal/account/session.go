package account

import (
	"time"
)

// SessionRef names one session of one account. Every session gets a new
// SessionID, recorded on the account row, so events from a session that was
// replaced are recognised and ignored. Epoch is the lease epoch the session
// was recorded under (0 with one instance): its events are written fenced by
// it (fence.go), so a session of a stale owner changes nothing.
type SessionRef struct {
	AccountID string
	SessionID string
	Epoch     int64
}

// Device is what a session knows about its linked device.
type Device struct {
	JID string
	LID string
	// PhoneNumber is E.164, derived from JID; empty when not known yet.
	PhoneNumber  string
	PushName     string
	Platform     string
	BusinessName string
}

// SessionEvent is a domain event from a session. The concrete types below are
// all there is; the whatsapp package maps whatsmeow's events onto them.
type SessionEvent interface{ sessionEvent() }

// QRCode is a new QR code to show (pairing by QR).
type QRCode struct {
	Code      string
	ExpiresAt time.Time
}

// PairingCode is the code to type on the phone (pairing by phone number).
type PairingCode struct {
	Code      string
	ExpiresAt time.Time
}

// CodesExhausted says WhatsApp issued its last code and nobody used it in time.
type CodesExhausted struct{}

// Paired says the phone accepted the link and the device was stored. Device
// carries the phone number when WhatsApp sent it (it normally does).
type Paired struct{ Device Device }

// PairFailed says pairing failed after the scan.
type PairFailed struct{ Message string }

// Connected says the session is logged in and connected.
type Connected struct{ Device Device }

// PhoneNumberFound delivers a phone number that was missing at pairing time.
// Source says how it was found (for the extraction metric).
type PhoneNumberFound struct {
	PhoneNumber string
	JID         string
	Source      string
}

// PhoneNumberMissing says the session gave up looking for the phone number.
type PhoneNumberMissing struct{ Attempts int }

// PushNameChanged carries the account's WhatsApp display name.
type PushNameChanged struct{ PushName string }

// Disconnected is a transient loss of the connection; the supervisor
// reconnects with backoff. Reason says why (WA_DISCONNECTED, CONNECT_ERROR, ...).
type Disconnected struct{ Reason Reason }

// KeepAliveTimeout says WhatsApp stopped answering pings; the connection may
// still recover by itself.
type KeepAliveTimeout struct {
	ErrorCount  int
	LastSuccess time.Time
}

// KeepAliveRestored says pings are answered again.
type KeepAliveRestored struct{}

// LoggedOut says WhatsApp removed the device; the stored device is deleted.
type LoggedOut struct{ Reason Reason }

// StreamReplaced says another client took over the session; no automatic
// reconnect, or the two would keep kicking each other out.
type StreamReplaced struct{}

// TemporaryBan says WhatsApp banned the number until Until.
type TemporaryBan struct {
	Code    int
	Message string
	Until   time.Time
}

// ConnectFailed is a connection refusal that retrying will not fix.
type ConnectFailed struct{ Reason Reason }

func (QRCode) sessionEvent()             {}
func (PairingCode) sessionEvent()        {}
func (CodesExhausted) sessionEvent()     {}
func (Paired) sessionEvent()             {}
func (PairFailed) sessionEvent()         {}
func (Connected) sessionEvent()          {}
func (PhoneNumberFound) sessionEvent()   {}
func (PhoneNumberMissing) sessionEvent() {}
func (PushNameChanged) sessionEvent()    {}
func (Disconnected) sessionEvent()       {}
func (KeepAliveTimeout) sessionEvent()   {}
func (KeepAliveRestored) sessionEvent()  {}
func (LoggedOut) sessionEvent()          {}
func (StreamReplaced) sessionEvent()     {}
func (TemporaryBan) sessionEvent()       {}
func (ConnectFailed) sessionEvent()      {}
