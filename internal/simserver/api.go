// Package simserver runs the WhatsApp protocol simulator (internal/wasim) as
// a process of its own, `wagraph simulator`, with a small HTTP+JSON control
// API, and has the Go client for that API. Any number of wagraph instances
// point at one simulator with SIMULATE=<its address>: the client hands them
// the simulator's certificate root and TLS certificate and points their
// whatsmeow clients at its websocket, and tests and demos use the same
// client to create phones, scan QR codes, type pairing codes, add groups,
// inject faults and count connections.
//
// The control API has no authentication: it is for tests and demos on one
// machine and listens on 127.0.0.1 unless told otherwise. Never expose it.
// docs/simulator.md documents every endpoint.
package simserver

import (
	"errors"
	"fmt"
	"net/http"

	"wagraph/internal/wasim"
)

// Info is GET /v1/info: what a wagraph instance needs to connect to the
// simulator.
type Info struct {
	// WebsocketAddr is the host:port the WhatsApp websocket (TLS) listens
	// on. Clients dial the control API's host with this port.
	WebsocketAddr string `json:"websocketAddr"`
	// RootPublicKey is the Curve25519 key the Noise certificate chain is
	// signed with, which whatsmeow must trust (32 bytes, base64 in JSON).
	RootPublicKey []byte `json:"rootPublicKey"`
	// TLSCertificate is the websocket's self-signed certificate, PEM.
	TLSCertificate string `json:"tlsCertificate"`
}

// Phone is a simulated phone.
type Phone struct {
	// Number is E.164, e.g. +15550100001.
	Number string `json:"number"`
	// JID and LID are the account's phone-number and hidden-user JIDs.
	JID string `json:"jid"`
	LID string `json:"lid"`
}

// ScanRequest is POST /v1/scan: a phone scans a QR code.
type ScanRequest struct {
	// QR is the QR string whatsmeow emitted (account.activation.qr.code).
	QR string `json:"qr"`
	// Phone, when set, is the number of an existing simulated phone that
	// scans (one more device on its account); empty: a new phone.
	Phone string `json:"phone,omitempty"`
}

// PairingCodeRequest is POST /v1/pairing-code: the phone with the number
// types the code.
type PairingCodeRequest struct {
	PhoneNumber string `json:"phoneNumber"`
	Code        string `json:"code"`
}

// GroupRequest is POST /v1/groups: a group the owner's account is in.
type GroupRequest struct {
	// Owner is the account's JID (number@s.whatsapp.net) or number.
	Owner string `json:"owner"`
	Name  string `json:"name"`
	Topic string `json:"topic,omitempty"`
	// Participants besides the owner; each phone or LID JID (or number)
	// names a simulated phone, created when unknown.
	Participants []Participant `json:"participants,omitempty"`
	// AddressingMode is "pn" (the default) or "lid".
	AddressingMode string `json:"addressingMode,omitempty"`
}

// Participant is a member of a GroupRequest.
type Participant struct {
	Phone string `json:"phone,omitempty"`
	LID   string `json:"lid,omitempty"`
	Admin bool   `json:"admin,omitempty"`
}

// GroupResponse names the group created.
type GroupResponse struct {
	JID string `json:"jid"`
}

// FaultRequest is POST /v1/faults/{fault}. JID is a device JID (one device)
// or an account JID (all its devices). Code is the ban code (temp-ban) or
// the error code sends are acked with (reject-sends, 0 accepts again);
// Expiry is how long a temp-ban lasts, e.g. "10m".
type FaultRequest struct {
	JID    string `json:"jid"`
	Code   int    `json:"code,omitempty"`
	Expiry string `json:"expiry,omitempty"`
}

// Faults are the names POST /v1/faults/{fault} takes.
const (
	FaultDrop          = "drop"
	FaultLogOut        = "logout"
	FaultReplaceStream = "replace-stream"
	FaultTempBan       = "temp-ban"
	FaultLiftBan       = "lift-ban"
	FaultRejectSends   = "reject-sends"
)

// HandshakesRequest is POST /v1/handshakes: slow or refused connects for
// every client. Delay is a duration such as "2s" ("" or "0s": none).
type HandshakesRequest struct {
	Delay  string `json:"delay,omitempty"`
	Refuse bool   `json:"refuse"`
}

// Device is a linked device in GET /v1/devices.
type Device struct {
	JID       string `json:"jid"`
	LID       string `json:"lid"`
	Phone     string `json:"phone"`
	Connected bool   `json:"connected"`
	// Logins counts the device's logins since the simulator started;
	// Replaced those that replaced a connection of the device still open
	// (two clients running one session).
	Logins   int `json:"logins"`
	Replaced int `json:"replaced"`
}

// Devices is GET /v1/devices: the linked devices (of one account with
// ?jid=) and their sums.
type Devices struct {
	Devices []Device `json:"devices"`
	Totals  Totals   `json:"totals"`
}

// Totals sums a device list.
type Totals struct {
	Devices   int `json:"devices"`
	Connected int `json:"connected"`
	Logins    int `json:"logins"`
	Replaced  int `json:"replaced"`
}

// errorBody is every error response: {"error": {"code", "message"}}.
type errorBody struct {
	Error Error `json:"error"`
}

// Error is an error the control API answered with; the client returns it.
// errors.Is matches it with the wasim error of the same code, so callers
// can test errors.Is(err, wasim.ErrUnknownQR) across the process boundary.
type Error struct {
	// Status is the HTTP status.
	Status int `json:"-"`
	// Code is stable: the codes table below.
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("simulator: %s (%s, HTTP %d)", e.Message, e.Code, e.Status)
}

// Is matches the wasim sentinel error of the same code.
func (e *Error) Is(target error) bool {
	for _, c := range codes {
		if c.err == target {
			return c.code == e.Code
		}
	}
	return false
}

// Error codes besides the wasim errors'.
const (
	CodeBadRequest = "BAD_REQUEST"
	CodeTooLarge   = "TOO_LARGE"
	CodeNotFound   = "NOT_FOUND"
	CodeMethod     = "METHOD_NOT_ALLOWED"
	CodeInternal   = "INTERNAL"
)

// codes maps the simulator's errors to codes and HTTP statuses.
var codes = []struct {
	err    error
	code   string
	status int
}{
	{wasim.ErrBadQR, "BAD_QR", http.StatusBadRequest},
	{wasim.ErrUnknownQR, "UNKNOWN_QR", http.StatusNotFound},
	{wasim.ErrQRKeyMismatch, "QR_KEY_MISMATCH", http.StatusUnprocessableEntity},
	{wasim.ErrPairRejected, "PAIR_REJECTED", http.StatusUnprocessableEntity},
	{wasim.ErrBadDeviceSignature, "BAD_DEVICE_SIGNATURE", http.StatusUnprocessableEntity},
	{wasim.ErrNoPairingCode, "NO_PAIRING_CODE", http.StatusNotFound},
	{wasim.ErrWrongPairingCode, "WRONG_PAIRING_CODE", http.StatusUnprocessableEntity},
	{wasim.ErrNoDevice, "NO_DEVICE", http.StatusNotFound},
	{wasim.ErrNotConnected, "NOT_CONNECTED", http.StatusConflict},
	{wasim.ErrBadGroupSpec, "BAD_GROUP", http.StatusBadRequest},
}

// errorFor turns a simulator error into the API's error.
func errorFor(err error) *Error {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return &Error{Status: c.status, Code: c.code, Message: err.Error()}
		}
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: err.Error()}
}

// badRequest is a request the API cannot act on; msg says what to send.
func badRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: fmt.Sprintf(format, args...)}
}
