package account

import (
	"wagraph/internal/apperr"
)

// transitions is the whole state machine: for each status, the statuses an
// account may move to. Everything that changes a status goes through
// checkTransition, so this table is the one place to read or change the rules.
//
// Self-moves are listed where a new reason is worth a history entry (a reset
// of a PENDING account, a restarted activation, a reconnect on request).
// PENDING is reachable from everywhere: reset and activation timeout.
var transitions = map[Status][]Status{
	StatusPending: {
		StatusAwaitingScan, // startActivation
		StatusPending,      // reset
	},
	StatusAwaitingScan: {
		StatusAwaitingScan,   // startActivation again (new method or fresh codes)
		StatusAuthenticating, // the phone scanned the code
		StatusPending,        // timeout, codes ran out, pairing failed, reset
	},
	StatusAuthenticating: {
		StatusWarming,   // logged in after the post-pairing restart
		StatusPending,   // timeout, pairing failed, reset
		StatusLoggedOut, // logout, WhatsApp removed the device
		StatusBanned,    // temporary ban on login
		StatusFailed,    // client outdated, reconnect limit
	},
	StatusWarming: {
		StatusActive, // phone number confirmed
		StatusPending,
		StatusLoggedOut,
		StatusBanned,
		StatusFailed,
	},
	StatusActive: {
		StatusDisconnected, // keep-alive timeout, stream replaced
		StatusReconnecting, // connection lost, reconnect on request
		StatusLoggedOut,
		StatusBanned,
		StatusExpired, // idle too long (found on restore)
		StatusFailed,
		StatusPending,
	},
	StatusDisconnected: {
		StatusActive,       // keep-alive restored
		StatusDisconnected, // a different reason (e.g. stream replaced after a keep-alive timeout)
		StatusReconnecting,
		StatusLoggedOut,
		StatusBanned,
		StatusExpired,
		StatusFailed,
		StatusPending,
	},
	StatusReconnecting: {
		StatusActive,
		StatusReconnecting, // reconnect on request while retrying
		StatusDisconnected, // stream replaced: stop retrying
		StatusLoggedOut,
		StatusBanned,
		StatusExpired,
		StatusFailed, // reconnect limit, client outdated
		StatusPending,
	},
	StatusLoggedOut: {
		StatusAwaitingScan,
		StatusPending,
	},
	StatusBanned: {
		StatusReconnecting, // the ban ended, reconnect on request
		StatusLoggedOut,
		StatusExpired,
		StatusPending,
	},
	StatusExpired: {
		StatusReconnecting, // try the old session once more
		StatusAwaitingScan, // link again
		StatusLoggedOut,
		StatusPending,
	},
	StatusFailed: {
		StatusReconnecting,
		StatusAwaitingScan,
		StatusLoggedOut,
		StatusPending,
	},
}

// CanTransition reports whether an account may move from one status to another.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// checkTransition returns an INVALID_TRANSITION error, with a suggestion that
// fits the attempted move, unless from → to is allowed.
func checkTransition(from, to Status) error {
	if CanTransition(from, to) {
		return nil
	}
	e := apperr.Newf(apperr.InvalidTransition, "the account is %s and cannot move to %s", from, to)
	switch to {
	case StatusAwaitingScan:
		return e.WithSuggestion("The account is already linked or linking; log it out or reset it before starting a new activation.")
	case StatusReconnecting:
		return e.WithSuggestion("Only a linked account can reconnect; start an activation to link it.")
	case StatusLoggedOut:
		return e.WithSuggestion("Nothing is linked to log out; use resetAccount to cancel an activation.")
	}
	return e
}
