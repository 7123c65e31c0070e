package account

import (
	"context"
	"errors"
	"time"
)

// Sessions runs the live WhatsApp connections. The service depends on this
// interface, not on whatsmeow: internal/whatsapp implements it, tests use a
// fake, and a later multi-instance version can route each call to the
// instance that owns the account. Every operation that needs a live client
// goes through here.
type Sessions interface {
	// Start opens a session for the account and returns once it is under way:
	// with req.JID set it logs in with that stored device, otherwise it starts
	// pairing by req.Method. An account has at most one session; Start replaces
	// an older one. Events go to sink, tagged with req's SessionRef. ctx bounds
	// only the start-up, not the session. A missing device is ErrDeviceMissing.
	Start(ctx context.Context, req StartRequest, sink EventSink) error
	// Stop closes the account's session, if any, keeping its stored device.
	Stop(ctx context.Context, accountID string) error
	// Logout unlinks the device from WhatsApp when the session is connected,
	// then stops the session and deletes the stored device in any case.
	Logout(ctx context.Context, accountID, jid string) error
	// DeleteDevice deletes a stored device; a missing one is not an error.
	DeleteDevice(ctx context.Context, jid string) error
	// HasDevice reports whether a stored device exists for jid.
	HasDevice(ctx context.Context, jid string) (bool, error)
	// Live returns what the account's running session knows about its device,
	// and whether that session is logged in right now.
	Live(accountID string) (dev Device, connected bool)
}

// ErrDeviceMissing is returned by Sessions.Start when the stored device to log
// in with does not exist (deleted, or never saved).
var ErrDeviceMissing = errors.New("account: stored WhatsApp device not found")

// StartRequest says which session to start.
type StartRequest struct {
	SessionRef
	// JID is the stored device to log in with; empty starts a pairing.
	JID string
	// Method is how to pair (when JID is empty).
	Method Method
	// PhoneNumber is the E.164 number to request a pairing code for.
	PhoneNumber string
}

// SessionRef names one session of one account. Every Start gets a new
// SessionID, so events from a session that was replaced are recognised and
// ignored.
type SessionRef struct {
	AccountID string
	SessionID string
}

// EventSink receives a session's events in the order they happened.
type EventSink interface {
	HandleSessionEvent(ctx context.Context, ref SessionRef, evt SessionEvent) error
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

// Disconnected is a transient loss of the connection; the service reconnects
// with backoff. Reason says why (WA_DISCONNECTED, CONNECT_ERROR, ...).
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
