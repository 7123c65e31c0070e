// Package message sends WhatsApp messages from the accounts: one message
// (sendMessage) or a batch to many contacts (queueMessages), each message a
// durable River job that asks the account's send limits (internal/sending)
// before it goes and waits, without failing, until they allow it. A message
// goes QUEUED → SENDING → SENT or FAILED, or CANCELED while it still waits.
//
// The live WhatsApp client is reached through the Sender port (implemented
// by internal/whatsapp), the limits through Admitter (*sending.Policy), and
// the outcome of every send attempt is reported to Outcomes (the pauses and
// ban signals of internal/sending). docs/sending.md describes the whole.
package message

import (
	"context"
	"time"

	"wagraph/internal/contact"
	"wagraph/internal/sending"
)

// Status is where a message is on its way.
type Status string

const (
	// Queued: waiting for its turn (its start time, the limits, a pause or
	// the account's connection).
	Queued Status = "QUEUED"
	// Sending: admitted and handed to WhatsApp; the answer is not recorded
	// yet.
	Sending Status = "SENDING"
	// Sent: WhatsApp accepted it (WAMessageID, SentAt).
	Sent Status = "SENT"
	// Failed: it will not be sent (Error says why).
	Failed Status = "FAILED"
	// Canceled: canceled before it was sent.
	Canceled Status = "CANCELED"
)

// Statuses lists every status.
var Statuses = []Status{Queued, Sending, Sent, Failed, Canceled}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// Done reports whether a message in status s is finished.
func (s Status) Done() bool { return s == Sent || s == Failed || s == Canceled }

// Message is one message from an account to one recipient.
type Message struct {
	ID        string
	AccountID string
	// BatchID is the batch it belongs to; empty for sendMessage.
	BatchID string
	// To is the recipient's number in E.164; ContactID the contact, when
	// the recipient was given as one or is one.
	To        string
	ContactID string
	Text      string
	Status    Status
	// WAMessageID is WhatsApp's id of the message, chosen when it is
	// handed to WhatsApp.
	WAMessageID string
	SentAt      time.Time
	// Error is why it failed; nil unless Failed.
	Error *Failure
	// Wait is why a queued message is waiting and until when; nil when it
	// is not held back.
	Wait           *Wait
	IdempotencyKey string
	// Attempts counts the times it was handed to WhatsApp.
	Attempts  int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Failure is why a message failed, as a client sees it.
type Failure struct {
	Code       string
	Message    string
	Suggestion string
}

// Wait is why a queued message has not gone yet.
type Wait struct {
	// Code is RATE_LIMITED, SENDING_PAUSED or ACCOUNT_NOT_ACTIVE.
	Code  string
	Until time.Time
}

// Sent is WhatsApp's answer to a send.
type SentResult struct {
	// At is the server's timestamp of the message.
	At time.Time
}

// Sender reaches WhatsApp through the account's live session
// (internal/whatsapp implements it).
type Sender interface {
	// Send sends text to the number to (E.164) from the account, as the
	// message with WhatsApp id waID. Errors: apperr ACCOUNT_NOT_ACTIVE when
	// the account has no live session; one with a ServerCode() int method
	// when WhatsApp refused the message (463, ...); anything else is
	// transient.
	Send(ctx context.Context, accountID, to, text, waID string) (SentResult, error)
	// IsOnWhatsApp reports, for each number (E.164), whether it has a
	// WhatsApp account.
	IsOnWhatsApp(ctx context.Context, accountID string, phones []string) (map[string]bool, error)
}

// Admitter decides and counts one send against the account's limits
// (*sending.Policy).
type Admitter interface {
	Admit(ctx context.Context, accountID string, newChat bool) (sending.Admission, error)
}

// Outcomes hears the result of every send attempt, so that the account's
// sending can be paused on ban signals (*sending.Policy): failureCode 0 is
// a message WhatsApp accepted, otherwise WhatsApp's error code (463, ...),
// or -1 for a failure without one (a timeout, a lost connection).
type Outcomes interface {
	RecordSendResult(ctx context.Context, accountID string, failureCode int) error
}

// Contacts is what the queue reads of the contact base (*contact.Service).
type Contacts interface {
	Get(ctx context.Context, id string) (*contact.Contact, error)
	ByPhone(ctx context.Context, phone string) (*contact.Contact, error)
	Recipients(ctx context.Context, sel contact.Selection, max int) ([]*contact.Contact, error)
}

// serverCoder is an error carrying WhatsApp's error code.
type serverCoder interface{ ServerCode() int }
