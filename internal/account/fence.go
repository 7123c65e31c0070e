package account

import (
	"context"
	"errors"
	"fmt"

	"github.com/uptrace/bun"
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

// checkEpoch refuses, with ErrStaleEpoch, work under an epoch (ctx) that
// is no longer the lease's. modify asks it when it writes nothing, so that
// the skipped event of a session replaced by a new owner tells its
// instance too; a write asks it in its UPDATE (accountRepo.update).
func checkEpoch(ctx context.Context, db bun.IDB, id string) error {
	epoch := EpochFrom(ctx)
	if epoch == 0 {
		return nil
	}
	n, err := db.NewSelect().Table("account_leases").
		Where("account_id = ?", id).Where("epoch = ?", epoch).Count(ctx)
	if err != nil {
		return fmt.Errorf("account: check lease of %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("account: %s under epoch %d: %w", id, epoch, ErrStaleEpoch)
	}
	return nil
}
