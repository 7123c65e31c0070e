package account

// ReasonCode is a stable, machine-readable reason for an account's status.
// Codes that come from WhatsApp start with WA_ (the mautrix bridge spells the
// same ideas wa-logged-out, wa-stream-replaced, ...); the others are
// wagraph's own. docs/lifecycle.md lists them all with what to do.
type ReasonCode string

// The reason codes. Keep docs/lifecycle.md in step when adding one.
const (
	ReasonCreated            ReasonCode = "CREATED"
	ReasonActivationStarted  ReasonCode = "ACTIVATION_STARTED"
	ReasonPaired             ReasonCode = "PAIRED"
	ReasonLoggedIn           ReasonCode = "LOGGED_IN"
	ReasonConnected          ReasonCode = "CONNECTED"
	ReasonActivationTimeout  ReasonCode = "ACTIVATION_TIMEOUT"
	ReasonCodesExpired       ReasonCode = "ACTIVATION_CODES_EXPIRED"
	ReasonActivationFailed   ReasonCode = "ACTIVATION_FAILED"
	ReasonActivationStopped  ReasonCode = "ACTIVATION_INTERRUPTED"
	ReasonPairFailed         ReasonCode = "PAIR_FAILED"
	ReasonResetByUser        ReasonCode = "RESET_BY_USER"
	ReasonRestoring          ReasonCode = "RESTORING"
	ReasonReconnectByUser    ReasonCode = "RECONNECT_BY_USER"
	ReasonBanExpired         ReasonCode = "BAN_EXPIRED"
	ReasonConnectError       ReasonCode = "CONNECT_ERROR"
	ReasonReconnectLimit     ReasonCode = "RECONNECT_LIMIT"
	ReasonLoggedOutByUser    ReasonCode = "LOGGED_OUT_BY_USER"
	ReasonSessionMissing     ReasonCode = "SESSION_MISSING"
	ReasonSessionExpired     ReasonCode = "SESSION_EXPIRED"
	ReasonWADisconnected     ReasonCode = "WA_DISCONNECTED"
	ReasonWAKeepAliveTimeout ReasonCode = "WA_KEEPALIVE_TIMEOUT"
	ReasonWALoggedOut        ReasonCode = "WA_LOGGED_OUT"
	ReasonWAStreamReplaced   ReasonCode = "WA_STREAM_REPLACED"
	ReasonWATemporaryBan     ReasonCode = "WA_TEMPORARY_BAN"
	ReasonWAClientOutdated   ReasonCode = "WA_CLIENT_OUTDATED"
	ReasonWAConnectFailure   ReasonCode = "WA_CONNECT_FAILURE"
)

type reasonText struct {
	message    string
	suggestion string
}

// reasonCatalog holds each code's default message and its suggestion. Events
// may replace the message with a more specific one; the suggestion always
// comes from here.
var reasonCatalog = map[ReasonCode]reasonText{
	ReasonCreated: {"The account was created and is not linked to a phone yet.",
		"Start an activation with a QR code or a pairing code."},
	ReasonActivationStarted: {"Waiting for the phone to scan the QR code or enter the pairing code.",
		"On the phone open WhatsApp → Settings → Linked devices → Link a device, then scan the QR code (or choose 'Link with phone number instead' and type the pairing code)."},
	ReasonPaired: {"The phone accepted the link; logging in.",
		"Wait a few seconds; the account becomes ACTIVE by itself."},
	ReasonLoggedIn: {"Logged in; confirming the phone number and finishing the first sync.",
		"Wait a few seconds; the account becomes ACTIVE by itself."},
	ReasonConnected: {"Connected to WhatsApp.", ""},
	ReasonActivationTimeout: {"The activation did not finish in time and was reset.",
		"Start the activation again and scan the code within a few minutes; keep the phone online until the account is ACTIVE."},
	ReasonCodesExpired: {"No phone scanned the QR code (or entered the pairing code) before WhatsApp stopped issuing codes.",
		"Start the activation again and scan the code within about two minutes."},
	ReasonActivationFailed: {"The activation could not be started.",
		"Check that wagraph can reach WhatsApp (see /readyz and the server log), then start the activation again."},
	ReasonActivationStopped: {"The activation was interrupted before it finished (connection lost or wagraph restarted).",
		"Start the activation again."},
	ReasonPairFailed: {"WhatsApp rejected the link during pairing.",
		"Start the activation again; if it keeps failing, unlink old devices on the phone (Linked devices) and update WhatsApp."},
	ReasonResetByUser: {"The account was reset on request; its link and session were removed.",
		"Start an activation to link it again."},
	ReasonRestoring: {"Restoring the saved session after wagraph started.",
		"Wait a few seconds; the account becomes ACTIVE by itself."},
	ReasonReconnectByUser: {"Reconnecting on request.",
		"Wait a few seconds; the account becomes ACTIVE by itself."},
	ReasonBanExpired: {"The temporary ban has ended; reconnecting.",
		"Wait a few seconds; send less to people who do not have the number saved to avoid another ban."},
	ReasonConnectError: {"Could not connect to WhatsApp; retrying with backoff.",
		"Nothing to do if it recovers; check the network and /readyz if it keeps failing."},
	ReasonReconnectLimit: {"Gave up reconnecting after too many attempts in a row.",
		"Check the phone is online and the account still appears under Linked devices, then use reconnectAccount; if the link is gone, reset the account and link it again."},
	ReasonLoggedOutByUser: {"Logged out on request; the linked device was removed.",
		"Start an activation to link the account again."},
	ReasonSessionMissing: {"The saved WhatsApp session for this account was not found, so it cannot reconnect.",
		"Start an activation to link the account again."},
	ReasonSessionExpired: {"The session was idle for too long and WhatsApp has most likely unlinked it.",
		"Try reconnectAccount once; if it does not become ACTIVE, reset the account and link it again."},
	ReasonWADisconnected: {"The connection to WhatsApp was lost; reconnecting.",
		"Nothing to do if it recovers; if it keeps dropping, check the network."},
	ReasonWAKeepAliveTimeout: {"WhatsApp stopped answering keep-alive pings; waiting for the connection to recover.",
		"Nothing to do if it recovers within a few minutes; otherwise use reconnectAccount."},
	ReasonWALoggedOut: {"WhatsApp logged this device out (it was removed on the phone or by WhatsApp); the session was deleted.",
		"Start an activation to link the account again."},
	ReasonWAStreamReplaced: {"Another client connected with this account's session, so WhatsApp closed this connection.",
		"Make sure no other wagraph instance or tool uses this session, then use reconnectAccount."},
	ReasonWATemporaryBan: {"WhatsApp temporarily banned this number.",
		"Wait until the ban ends; wagraph reconnects by itself then. Send less to people who do not have the number saved."},
	ReasonWAClientOutdated: {"WhatsApp rejected the client version as outdated.",
		"Upgrade wagraph (it bundles the WhatsApp client library), then use reconnectAccount."},
	ReasonWAConnectFailure: {"WhatsApp refused the connection.",
		"Use reconnectAccount later; if it keeps failing, reset the account and link it again."},
}

// ReasonCodes lists every reason code, for docs and tests.
func ReasonCodes() []ReasonCode {
	out := make([]ReasonCode, 0, len(reasonCatalog))
	for c := range reasonCatalog {
		out = append(out, c)
	}
	return out
}

// NewReason returns the reason for code with its catalog suggestion; an empty
// message takes the catalog's default.
func NewReason(code ReasonCode, message string) Reason {
	t := reasonCatalog[code]
	if message == "" {
		message = t.message
	}
	return Reason{Code: code, Message: message, Suggestion: t.suggestion}
}

// reason is NewReason with the default message.
func reason(code ReasonCode) Reason { return NewReason(code, "") }
