package account

// Metrics receives the lifecycle's counters. The service calls it on every
// event worth counting; the server wires it to Prometheus, tests and the
// default use NopMetrics. Implementations must be safe for concurrent use.
type Metrics interface {
	// Transition counts a committed status change.
	Transition(from, to Status, reason ReasonCode)
	// PhoneExtracted counts one attempt to learn an account's phone number by
	// its result: "pair_success" (in the pairing event), "connected" (at
	// login), "retry" (the session's retry found it), "sweep_repaired",
	// "sweep_missing", "missing" (the session gave up).
	PhoneExtracted(result string)
	// ActivationTimedOut counts activations reset by the timeout.
	ActivationTimedOut()
	// ReconnectScheduled counts reconnect attempts scheduled with backoff.
	ReconnectScheduled()
	// Restored counts accounts looked at on start by outcome: "connecting",
	// "session_missing", "session_expired", "interrupted", "timed_out",
	// "banned", "left_disconnected", "skipped", "error".
	Restored(result string)
}

// NopMetrics counts nothing.
type NopMetrics struct{}

func (NopMetrics) Transition(Status, Status, ReasonCode) {}
func (NopMetrics) PhoneExtracted(string)                 {}
func (NopMetrics) ActivationTimedOut()                   {}
func (NopMetrics) ReconnectScheduled()                   {}
func (NopMetrics) Restored(string)                       {}
