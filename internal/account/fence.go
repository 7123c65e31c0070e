package account

import (
	"context"
	"errors"
)

// Fencing. When several instances share the database, each linked account
// is run by one of them under a lease (internal/supervisor, lease.go) whose
// epoch grows by one whenever another instance takes the account over. The
// instance that runs an account writes its session state with the epoch it
// holds (WithEpoch, or SessionRef.Epoch for a session's own events), and
// modify adds "the lease still has this epoch" to the row's UPDATE: a stale
// owner, one whose lease was taken over while it was paused or cut off, has
// its write refused with ErrStaleEpoch and must stop its session. Epoch 0
// (one instance, no leases) adds no condition: the UPDATE is as it always was.

// ErrStaleEpoch refuses a session-state write made under a lease epoch that
// is no longer the account's: another instance took the account over.
var ErrStaleEpoch = errors.New("account: the lease epoch is stale; another instance runs this account now")

type epochKey struct{}

// WithEpoch returns ctx carrying the lease epoch under which this instance
// writes the account's session state; 0 means unfenced.
func WithEpoch(ctx context.Context, epoch int64) context.Context {
	return context.WithValue(ctx, epochKey{}, epoch)
}

// EpochFrom returns the lease epoch ctx carries (WithEpoch), 0 when none.
func EpochFrom(ctx context.Context) int64 {
	e, _ := ctx.Value(epochKey{}).(int64)
	return e
}

// newRef is a new session of account id, recorded under the epoch ctx
// carries, so that the session's events are fenced by the same epoch.
func newRef(ctx context.Context, id string) SessionRef {
	return SessionRef{AccountID: id, SessionID: newID(), Epoch: EpochFrom(ctx)}
}
