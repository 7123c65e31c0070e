package account

import (
	"time"

	"wagraph/internal/bus"
)

// StatusEvent is published after every committed status change, and after
// every update of an account's details (Updated), on the account's own topic
// and on the topic for all accounts. A subscriber that sees a Revision not
// higher than one it already has can drop the event.
type StatusEvent struct {
	StatusChange
	// Revision orders every event of the account (Account.Revision); events
	// from a wagraph version before it was added lack it (see Order).
	Revision int64 `json:"revision,omitempty"`
	// Updated marks an update of the account's details that left its status
	// as it was (a rename, a new push name or phone number); StatusChange
	// then only repeats the current status.
	Updated bool `json:"updated,omitempty"`
	// PhoneNumber is the account's number after the change (E.164, may be empty).
	PhoneNumber string `json:"phoneNumber,omitempty"`
	// Account is the whole account as the change left it (for a deleted
	// account, its last state), so that a live view needs no query per event.
	// Events from a wagraph version before it was added lack it.
	Account *Account `json:"account,omitempty"`
	// Deleted is set on the last event of a deleted account.
	Deleted bool `json:"deleted,omitempty"`
	// Snapshot marks an event made from an account's current state for a new
	// subscriber (see StatusSource) rather than by a change. Such events are
	// never published; their StatusChange says only where the account is.
	Snapshot bool `json:"-"`
}

// Order is the event's place among the account's events: its Revision, or
// for an event without one its status Version (the two are equal until an
// account's first update).
func (ev StatusEvent) Order() int64 {
	if ev.Revision > 0 {
		return ev.Revision
	}
	return ev.Version
}

// QREvent is published on the account's QR topic while an activation runs:
// for each new QR code or pairing code, for each status move after the scan
// (AUTHENTICATING, WARMING), and once more with Done when the activation
// ends (ACTIVE, or back to PENDING after a timeout, a reset or a failure), so
// a page showing the code can follow it and knows when to stop.
type QREvent struct {
	AccountID string `json:"accountId"`
	// Version increases with every QR event of the account, across
	// activations, so a stream can drop stale ones.
	Version int64 `json:"version"`
	// StatusVersion is the account's status version when the event was made.
	StatusVersion int64 `json:"statusVersion"`
	// Code is the QR code text (method QR).
	Code string `json:"code,omitempty"`
	// PairingCode is the code to type on the phone (method PAIRING_CODE).
	PairingCode string `json:"pairingCode,omitempty"`
	// ExpiresAt is when this code stops being valid.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	// ActivationExpiresAt is when the whole activation is reset unless the
	// account is ACTIVE by then; zero once it ended.
	ActivationExpiresAt time.Time `json:"activationExpiresAt,omitzero"`
	// Status is the account's status when the event was made: AWAITING_SCAN
	// while codes are shown, then the activation's progress, and on the Done
	// event where the activation ended.
	Status Status `json:"status,omitempty"`
	// Done marks the last event of an activation.
	Done bool `json:"done,omitempty"`
	// Deleted is set on the Done event of an account deleted mid-activation.
	Deleted bool `json:"deleted,omitempty"`
}

// AllStatusTopic carries the status events of every account.
const AllStatusTopic bus.Topic[StatusEvent] = "account.status"

// StatusTopic carries the status events of one account.
func StatusTopic(accountID string) bus.Topic[StatusEvent] {
	return bus.Topic[StatusEvent]("account.status." + accountID)
}

// QRTopic carries the QR and pairing codes of one account's activation.
func QRTopic(accountID string) bus.Topic[QREvent] {
	return bus.Topic[QREvent]("account.qr." + accountID)
}
