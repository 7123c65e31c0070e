// Package apperr is wagraph's one catalog of coded errors. Every error a client
// can see has a stable machine-readable code, a message that says what happened,
// a suggestion that says what to do next, and whether retrying may help.
package apperr

import (
	"errors"
	"fmt"
	"time"
)

// Code is a stable, machine-readable error code; clients switch on it.
type Code string

// The catalog. Add a code here together with its default suggestion below.
const (
	Unauthenticated   Code = "UNAUTHENTICATED"
	Forbidden         Code = "FORBIDDEN"
	NotFound          Code = "NOT_FOUND"
	InvalidInput      Code = "INVALID_INPUT"
	Conflict          Code = "CONFLICT"
	InvalidTransition Code = "INVALID_TRANSITION"
	RateLimited       Code = "RATE_LIMITED"
	Unavailable       Code = "UNAVAILABLE"
	QueryTooComplex   Code = "QUERY_TOO_COMPLEX"
	SubscriptionLimit Code = "SUBSCRIPTION_LIMIT"
	SubscriberTooSlow Code = "SUBSCRIBER_TOO_SLOW"
	SchemaTooNew      Code = "SCHEMA_TOO_NEW"
	SchemaNotMigrated Code = "SCHEMA_NOT_MIGRATED"
	// BadRequest: the HTTP request itself is not a GraphQL request this
	// server can read (method, content type, body, parameters).
	BadRequest Code = "BAD_REQUEST"
	Internal   Code = "INTERNAL"
)

// ActivationInProgress refuses to start an account's activation in another
// way while one is still waiting for its first code (a double click).
const ActivationInProgress Code = "ACTIVATION_IN_PROGRESS"

// Sending messages (internal/message).
const (
	// AccountNotActive: the account has no live WhatsApp session to send with.
	AccountNotActive Code = "ACCOUNT_NOT_ACTIVE"
	// RecipientNotOnWhatsApp: the number has no WhatsApp account.
	RecipientNotOnWhatsApp Code = "RECIPIENT_NOT_ON_WHATSAPP"
	// OptedOut: the recipient opted out of messages.
	OptedOut Code = "OPTED_OUT"
	// SendFailed: WhatsApp refused the message (its error code is in the
	// message).
	SendFailed Code = "SEND_FAILED"
)

type entry struct {
	suggestion string
	retryable  bool
}

var catalog = map[Code]entry{
	Unauthenticated:   {"Send an API token as 'Authorization: Bearer <token>' (websockets: in the connection_init payload as Authorization or authToken). Create one with 'wagraph token create --role OPERATOR'.", false},
	Forbidden:         {"Use a token with a role that allows this operation (VIEWER reads, OPERATOR changes, ADMIN deletes and manages tokens).", false},
	NotFound:          {"Check the id; list the existing items to find the one you meant.", false},
	InvalidInput:      {"Correct the named field and send the request again.", false},
	Conflict:          {"Reload the item to see its current state, then try again.", false},
	InvalidTransition: {"Check the account's current status; use resetAccount to start over from any state.", false},
	RateLimited:       {"Wait retryAfterSeconds before trying again, or spread the work over more accounts.", true},
	Unavailable:       {"A dependency is down or restarting; try again shortly and check /readyz.", true},
	QueryTooComplex:   {"Ask for fewer fields or smaller pages (lower 'first'), or split the query.", false},
	SubscriptionLimit: {"Close subscriptions you no longer need on this connection, or open another connection.", false},
	SubscriberTooSlow: {"The client did not read events fast enough and missed some; resubscribe to get a fresh snapshot.", true},
	SchemaTooNew:      {"The database was migrated by a newer wagraph; run that version or restore a matching backup.", false},
	SchemaNotMigrated: {"Run 'wagraph migrate' (or start without MIGRATE_ON_START=false) to bring the database up to date.", false},
	BadRequest:        {"Send POST with 'Content-Type: application/json' and a JSON object body {\"query\": \"...\", \"variables\": {...}}, or GET with ?query=...&variables=<URL-encoded JSON object> for queries.", false},
	Internal:          {"Something unexpected failed; retry, and if it persists report the requestId to the operators.", true},

	AccountNotActive:       {"Link the account (startActivation) or wait until it is ACTIVE again; accountStatusChanged shows when.", true},
	RecipientNotOnWhatsApp: {"Check the number (E.164 with country code); this number has no WhatsApp account, so nothing can be sent to it.", false},
	OptedOut:               {"The contact asked not to be messaged; clear the opt-out with updateContact only if they agreed again.", false},
	SendFailed:             {"WhatsApp refused the message; see the code in the message and docs/sending.md for what it means.", false},

	ActivationInProgress: {"Wait for the code of the activation in progress (the qrCodeUpdated subscription shows it); start again once it shows to switch method or number.", true},
}

// Error is a coded error meant to be shown to a client.
type Error struct {
	Code       Code
	Message    string
	Suggestion string
	Retryable  bool
	// RetryAfter is set for rate limits: how long the client should wait.
	RetryAfter time.Duration
	// Field names the input field at fault, for INVALID_INPUT.
	Field string
	// Err is the underlying cause; it is logged, never shown.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, apperr.New(code, "")) match on the code alone.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == ""
}

// New returns an error with the catalog's suggestion for code.
func New(code Code, message string) *Error {
	ent, ok := catalog[code]
	if !ok {
		ent = catalog[Internal]
	}
	return &Error{Code: code, Message: message, Suggestion: ent.suggestion, Retryable: ent.retryable}
}

// Newf is New with a formatted message.
func Newf(code Code, format string, args ...any) *Error {
	return New(code, fmt.Sprintf(format, args...))
}

// Wrap returns a coded error whose cause is err.
func Wrap(err error, code Code, message string) *Error {
	e := New(code, message)
	e.Err = err
	return e
}

// Invalid reports bad input in one field, with a suggestion that says how to fix it.
func Invalid(field, message, suggestion string) *Error {
	e := New(InvalidInput, message)
	e.Field = field
	if suggestion != "" {
		e.Suggestion = suggestion
	}
	return e
}

// WithSuggestion returns a copy of e with a more specific suggestion.
func (e *Error) WithSuggestion(s string) *Error {
	c := *e
	c.Suggestion = s
	return &c
}

// Suggestion returns the catalog's default suggestion for code.
func Suggestion(code Code) string { return catalog[code].suggestion }

// As returns the coded error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// CodeOf returns err's code, INTERNAL when err carries none.
func CodeOf(err error) Code {
	if e, ok := As(err); ok {
		return e.Code
	}
	return Internal
}

// Codes lists every code in the catalog, for docs and tests.
func Codes() []Code {
	out := make([]Code, 0, len(catalog))
	for c := range catalog {
		out = append(out, c)
	}
	return out
}
