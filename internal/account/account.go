// Package account is the lifecycle domain of the WhatsApp accounts wagraph
// manages: their types, the statuses and the moves allowed between them
// (transitions.go), the reason codes, the repositories, the queries, and the
// live streams (live.go) that subscriptions read.
//
// Every change goes through modify: it locks the account row, checks the
// move against the transition table, writes the row and a history row (with
// a per-account increasing version) in one transaction, and publishes a
// StatusEvent on the bus after commit. The package runs nothing by itself:
// no goroutine, no timer, no live session. What a change asks of the live
// session (stop it, connect it, retry later, arm a timeout) comes back as a
// Step, which internal/supervisor carries out; session events reach
// Service.RecordSessionEvent through the supervisor.
package account

import (
	"time"
)

// Status is where an account is in its lifecycle.
type Status string

// The statuses. PENDING → AWAITING_SCAN → AUTHENTICATING → WARMING → ACTIVE is
// the activation path; the rest describe a linked account that lost its
// connection or its link. transitions.go says which moves are allowed.
const (
	StatusPending        Status = "PENDING"
	StatusAwaitingScan   Status = "AWAITING_SCAN"
	StatusAuthenticating Status = "AUTHENTICATING"
	StatusWarming        Status = "WARMING"
	StatusActive         Status = "ACTIVE"
	StatusDisconnected   Status = "DISCONNECTED"
	StatusReconnecting   Status = "RECONNECTING"
	StatusLoggedOut      Status = "LOGGED_OUT"
	StatusBanned         Status = "BANNED"
	StatusExpired        Status = "EXPIRED"
	StatusFailed         Status = "FAILED"
)

// Statuses lists every status, in lifecycle order.
var Statuses = []Status{
	StatusPending, StatusAwaitingScan, StatusAuthenticating, StatusWarming, StatusActive,
	StatusDisconnected, StatusReconnecting, StatusLoggedOut, StatusBanned, StatusExpired, StatusFailed,
}

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	for _, k := range Statuses {
		if s == k {
			return true
		}
	}
	return false
}

// Activating reports whether s is part of an activation in progress; such an
// account is reset when the activation timeout passes.
func (s Status) Activating() bool {
	return s == StatusAwaitingScan || s == StatusAuthenticating || s == StatusWarming
}

// Method is how an account is linked to a phone.
type Method string

const (
	// MethodQR shows a QR code that the phone scans (Linked devices → Link a device).
	MethodQR Method = "QR"
	// MethodPairingCode shows an 8-character code that the phone's owner types
	// in after choosing "Link with phone number instead".
	MethodPairingCode Method = "PAIRING_CODE"
)

// Valid reports whether m is a known method.
func (m Method) Valid() bool { return m == MethodQR || m == MethodPairingCode }

// Reason says why an account is in its status: a stable code for programs, a
// message for people, and what to do about it.
type Reason struct {
	Code       ReasonCode `json:"code"`
	Message    string     `json:"message"`
	Suggestion string     `json:"suggestion,omitempty"`
}

// Account is one WhatsApp account managed by wagraph. The JSON form travels
// on the event bus inside StatusEvent, so instances of different versions
// must keep understanding it: add fields, do not rename them.
type Account struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status Status `json:"status"`
	Reason Reason `json:"reason"`
	// Version increases by one with every status change; history rows carry
	// the version they produced.
	Version int64 `json:"version"`
	// Revision increases by one with every published change: a status
	// change, or an update of the account's details (name, push name, phone
	// number). Live views order events by it.
	Revision int64 `json:"revision,omitempty"`

	// PhoneNumber is the linked phone's number in E.164 (+14155550123); empty
	// until the account is paired.
	PhoneNumber string `json:"phoneNumber,omitempty"`
	// JID is the linked device's WhatsApp ID (phone@s.whatsapp.net with a
	// device number); it keys the whatsmeow device store.
	JID          string `json:"jid,omitempty"`
	LID          string `json:"lid,omitempty"`
	PushName     string `json:"pushName,omitempty"`
	Platform     string `json:"platform,omitempty"`
	BusinessName string `json:"businessName,omitempty"`

	// Activation is set while an activation is in progress.
	Activation *Activation `json:"activation,omitempty"`
	// BannedUntil is when a temporary ban ends (BANNED only).
	BannedUntil time.Time `json:"bannedUntil,omitzero"`

	LastConnectedAt time.Time `json:"lastConnectedAt,omitzero"`
	LastActiveAt    time.Time `json:"lastActiveAt,omitzero"`
	// SessionExpiresAt is when the linked session is treated as expired if it
	// stays idle: LastActiveAt plus the idle limit (14 days by default).
	SessionExpiresAt time.Time `json:"sessionExpiresAt,omitzero"`

	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Activation is an activation in progress.
type Activation struct {
	Method    Method    `json:"method"`
	StartedAt time.Time `json:"startedAt"`
	// ExpiresAt is when the account is reset unless it reached ACTIVE.
	ExpiresAt time.Time `json:"expiresAt"`
	// QR is the QR code to show now (method QR, AWAITING_SCAN only; nil until
	// the first code arrives).
	QR *QR `json:"qr,omitempty"`
	// PairingCode is the code to type on the phone (method PAIRING_CODE).
	PairingCode string `json:"pairingCode,omitempty"`
	// PhoneNumber is the number the pairing code was requested for (E.164).
	PhoneNumber string `json:"phoneNumber,omitempty"`
}

// SecondsRemaining is how long the activation has left at now, never negative.
func (a *Activation) SecondsRemaining(now time.Time) int {
	d := a.ExpiresAt.Sub(now)
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

// QR is one QR code of an activation; WhatsApp rotates them.
type QR struct {
	// Code is the text to encode in the QR image.
	Code string `json:"code"`
	// ExpiresAt is when the next code replaces this one.
	ExpiresAt time.Time `json:"expiresAt"`
}

// StatusChange is one entry of an account's status history.
type StatusChange struct {
	AccountID string    `json:"accountId"`
	Version   int64     `json:"version"`
	From      Status    `json:"from,omitempty"` // empty for the creation entry
	To        Status    `json:"to"`
	Reason    Reason    `json:"reason"`
	At        time.Time `json:"at"`
}
