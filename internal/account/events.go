package account

import (
	"time"

	"wagraph/internal/pubsub"
)

// StatusEvent is published after every status change has been committed, on
// the account's own topic and on the topic for all accounts. A subscriber that
// sees a Version lower than one it already has can drop the event.
type StatusEvent struct {
	StatusChange
	// PhoneNumber is the account's number after the change (E.164, may be empty).
	PhoneNumber string `json:"phoneNumber,omitempty"`
	// Deleted is set on the last event of a deleted account.
	Deleted bool `json:"deleted,omitempty"`
}

// QREvent is published on the account's QR topic for each new QR code or
// pairing code of an activation, and once more (Done) when the activation
// leaves AWAITING_SCAN, so a page showing the code knows to stop.
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
	// Done marks the end of the activation's codes; Status says where the
	// account went (AUTHENTICATING after a scan, PENDING after a timeout...).
	Done   bool   `json:"done,omitempty"`
	Status Status `json:"status,omitempty"`
}

// AllStatusTopic carries the status events of every account.
const AllStatusTopic pubsub.Topic[StatusEvent] = "account.status"

// StatusTopic carries the status events of one account.
func StatusTopic(accountID string) pubsub.Topic[StatusEvent] {
	return pubsub.Topic[StatusEvent]("account.status." + accountID)
}

// QRTopic carries the QR and pairing codes of one account's activation.
func QRTopic(accountID string) pubsub.Topic[QREvent] {
	return pubsub.Topic[QREvent]("account.qr." + accountID)
}
