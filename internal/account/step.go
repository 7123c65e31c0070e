package account

import "time"

// Step is what a committed lifecycle change asks of the runtime that runs
// the account's live session (internal/supervisor). The domain decides what
// happens to an account; the supervisor does it: stops or starts sessions
// and arms or cancels timers. A zero Step asks for nothing.
type Step struct {
	// Account is the account after the change; nil when nothing changed.
	Account *Account
	// Skipped says the change did not apply: the account had moved on (to
	// another session, or out of the state the change was for).
	Skipped bool

	// StopSession ends the account's session, keeping its stored device,
	// and cancels its timers.
	StopSession bool
	// DropSession ends the account's session and cancels its timers, then
	// unlinks and deletes the stored device DropJID (when set).
	DropSession bool
	DropJID     string

	// Connect starts a session that logs in with the stored device
	// ConnectJID under Connect (a new session id already recorded).
	Connect    *SessionRef
	ConnectJID string

	// Retry schedules reconnect attempt RetryAttempt of the session Retry
	// after the runtime's backoff for that attempt.
	Retry        *SessionRef
	RetryAttempt int
	// CancelRetry cancels a scheduled reconnect (the account reconnects now).
	CancelRetry bool

	// ActivationDeadline arms the activation timeout of ActivationRef.
	ActivationDeadline time.Time
	ActivationRef      SessionRef
	// ActivationDone cancels the activation timeout: the account is ACTIVE.
	ActivationDone bool
}

// then merges a later step into s: the later account wins, and the
// runtime does what either asks.
func (s Step) then(n Step) Step {
	if n.Account != nil {
		s.Account = n.Account
	}
	s.Skipped = s.Skipped && n.Skipped
	s.StopSession = s.StopSession || n.StopSession
	if n.DropSession {
		s.DropSession, s.DropJID = true, n.DropJID
	}
	if n.Connect != nil {
		s.Connect, s.ConnectJID = n.Connect, n.ConnectJID
	}
	if n.Retry != nil {
		s.Retry, s.RetryAttempt = n.Retry, n.RetryAttempt
	}
	s.CancelRetry = s.CancelRetry || n.CancelRetry
	if !n.ActivationDeadline.IsZero() {
		s.ActivationDeadline, s.ActivationRef = n.ActivationDeadline, n.ActivationRef
	}
	s.ActivationDone = s.ActivationDone || n.ActivationDone
	return s
}

// stepOf is the step of a committed (or skipped) modify.
func (s *Service) stepOf(res modified) Step {
	if res.skipped || res.row == nil {
		return Step{Skipped: true}
	}
	return Step{Account: res.row.toAccount(s.opts.SessionIdleLimit)}
}
