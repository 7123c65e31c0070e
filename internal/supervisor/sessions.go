package supervisor

import (
	"context"
	"errors"
	"time"

	"wagraph/internal/account"
)

// Sessions runs the live WhatsApp connections. The supervisor depends on this
// interface, not on whatsmeow: internal/whatsapp implements it, tests use a
// fake, and a later multi-instance version can route each call to the
// instance that owns the account. Every operation that needs a live client
// goes through here. Its events go to the EventSink it was built with.
type Sessions interface {
	// Start opens a session for the account and returns once it is under way:
	// with req.JID set it logs in with that stored device (first is nil),
	// otherwise it starts pairing by req.Method and returns the first code,
	// an account.QRCode or account.PairingCode; later codes and everything
	// else arrive as events tagged with req's SessionRef. An account has at
	// most one session; Start replaces an older one, and a Start that fails
	// leaves no session of its own behind (and touches no other). ctx bounds
	// only the start-up, not the session. A missing device is
	// ErrDeviceMissing.
	Start(ctx context.Context, req StartRequest) (first account.SessionEvent, err error)
	// Stop closes the account's session, if any, keeping its stored device.
	Stop(ctx context.Context, accountID string) error
	// Logout unlinks the device from WhatsApp when the session is connected,
	// then stops the session and deletes the stored device in any case.
	Logout(ctx context.Context, accountID, jid string) error
	// DeleteDevice deletes a stored device; a missing one is not an error.
	DeleteDevice(ctx context.Context, jid string) error
	// HasDevice reports whether a stored device exists for jid.
	HasDevice(ctx context.Context, jid string) (bool, error)
	// StoredDevice reads the device stored under jid, or else under lid,
	// from the device store every instance shares; a zero Device when none
	// is stored.
	StoredDevice(ctx context.Context, jid, lid string) (account.Device, error)
	// Live returns what the account's running session knows about its device,
	// and whether that session is logged in right now.
	Live(accountID string) (dev account.Device, connected bool)
	// Close ends every session (their devices stay stored) and waits for
	// their goroutines, within ctx.
	Close(ctx context.Context) error
}

// ErrDeviceMissing is returned by Sessions.Start when the stored device to log
// in with does not exist (deleted, or never saved).
var ErrDeviceMissing = errors.New("supervisor: stored WhatsApp device not found")

// StartRequest says which session to start.
type StartRequest struct {
	account.SessionRef
	// JID is the stored device to log in with; empty starts a pairing.
	JID string
	// Method is how to pair (when JID is empty).
	Method account.Method
	// PhoneNumber is the E.164 number to request a pairing code for.
	PhoneNumber string
}

// EventSink receives a session's events in the order they happened. The
// Supervisor is the sink of the Sessions it builds.
type EventSink interface {
	HandleSessionEvent(ctx context.Context, ref account.SessionRef, evt account.SessionEvent) error
}

// Clock tells the time and runs functions later. Tests pass a fake one and
// drive timeouts and backoff by advancing it instead of sleeping.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d; stop cancels it and
	// reports whether it did so before f started.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns the current time.
func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc runs f after d using time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}
