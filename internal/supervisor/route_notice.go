package supervisor

import "context"

// Lease notices: an instance that releases leases (a SIGTERM drain, a
// rebalance) tells the others at once over the bus, so they claim them
// now instead of at their next renewal, up to LEASE_RENEW_INTERVAL later.
// A lost notice costs only that wait: the renewal still claims them.

// releasedTopic carries "leases were released" to every instance.
const releasedTopic = "wagraph.leases.released"

// leaseNotifier is a Router that can also broadcast lease notices
// (BusRouter does).
type leaseNotifier interface {
	// NotifyReleased tells every instance that leases were released.
	NotifyReleased(ctx context.Context) error
	// OnReleased sets what this instance does when it hears so.
	OnReleased(fn func())
}

// NotifyReleased implements leaseNotifier.
func (r *BusRouter) NotifyReleased(ctx context.Context) error {
	return r.bus.Publish(ctx, releasedTopic, []byte(r.self))
}

// OnReleased implements leaseNotifier; fn runs in the router's listener
// and must not block.
func (r *BusRouter) OnReleased(fn func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.released = fn
}

func (r *BusRouter) noticeReleased() {
	r.mu.Lock()
	fn := r.released
	r.mu.Unlock()
	if fn != nil {
		fn()
	}
}
