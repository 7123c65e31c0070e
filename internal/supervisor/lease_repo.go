package supervisor

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"wagraph/internal/account"
	"wagraph/internal/store"
)

// leaseRow is an account's lease as stored (migration account_leases).
type leaseRow struct {
	bun.BaseModel `bun:"table:account_leases"`

	AccountID  string         `bun:"account_id,pk"`
	Owner      sql.NullString `bun:"owner"`
	Epoch      int64          `bun:"epoch,notnull"`
	ExpiresAt  int64          `bun:"expires_at,notnull"`
	AcquiredAt int64          `bun:"acquired_at,notnull"`
}

// instanceRow is a running instance (migration instances).
type instanceRow struct {
	bun.BaseModel `bun:"table:instances"`

	ID          string `bun:"id,pk"`
	StartedAt   int64  `bun:"started_at,notnull"`
	HeartbeatAt int64  `bun:"heartbeat_at,notnull"`
	Draining    bool   `bun:"draining,notnull"`
}

// heldLease is a lease as an owner sees it.
type heldLease struct {
	AccountID string `bun:"account_id"`
	Epoch     int64  `bun:"epoch"`
}

// claimable is a lease nobody holds: released, or lapsed.
type claimable struct {
	AccountID string         `bun:"account_id"`
	Owner     sql.NullString `bun:"owner"`
	Epoch     int64          `bun:"epoch"`
	ExpiresAt int64          `bun:"expires_at"`
}

// leaseRepo reads and writes leases and instances. Times are Unix
// milliseconds. Every change of owner is a conditional UPDATE on the epoch
// read before, so two instances racing for one lease cannot both win, on
// either dialect, without row locks.
type leaseRepo struct{ db *store.DB }

func ms(t time.Time) int64 { return t.UnixMilli() }

// heartbeat records that instance id is alive at now (and whether it drains).
func (r leaseRepo) heartbeat(ctx context.Context, id string, started, now time.Time, draining bool) error {
	row := &instanceRow{ID: id, StartedAt: ms(started), HeartbeatAt: ms(now), Draining: draining}
	_, err := r.db.NewInsert().Model(row).
		On("CONFLICT (id) DO UPDATE").
		Set("heartbeat_at = EXCLUDED.heartbeat_at").
		Set("draining = EXCLUDED.draining").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("lease: heartbeat: %w", err)
	}
	return nil
}

// forget removes instance id (it has drained and stops).
func (r leaseRepo) forget(ctx context.Context, id string) error {
	_, err := r.db.NewDelete().Model((*instanceRow)(nil)).Where("id = ?", id).Exec(ctx)
	return err
}

// live lists the instances whose heartbeat is newer than since and that
// do not drain, and drops the rows of instances silent since before
// forgetBefore (they crashed long ago).
func (r leaseRepo) live(ctx context.Context, since, forgetBefore time.Time) ([]string, error) {
	if _, err := r.db.NewDelete().Model((*instanceRow)(nil)).Where("heartbeat_at < ?", ms(forgetBefore)).Exec(ctx); err != nil {
		return nil, fmt.Errorf("lease: forget dead instances: %w", err)
	}
	var ids []string
	err := r.db.NewSelect().Model((*instanceRow)(nil)).Column("id").
		Where("heartbeat_at > ?", ms(since)).Where("draining = ?", false).
		OrderExpr("id ASC").Scan(ctx, &ids)
	if err != nil {
		return nil, fmt.Errorf("lease: live instances: %w", err)
	}
	return ids, nil
}

// ownerLoad is how many accounts with a live session an owner holds; owner
// "" counts the released and lapsed leases.
type ownerLoad struct {
	Owner string `bun:"owner"`
	N     int    `bun:"n"`
}

// load counts the leases of accounts in a session status by valid owner at now.
func (r leaseRepo) load(ctx context.Context, now time.Time) (map[string]int, error) {
	var rows []ownerLoad
	err := r.db.NewSelect().
		TableExpr("account_leases AS l").
		Join("JOIN accounts AS a ON a.id = l.account_id").
		ColumnExpr("COALESCE(CASE WHEN l.expires_at > ? THEN l.owner END, '') AS owner", ms(now)).
		ColumnExpr("COUNT(*) AS n").
		Where("a.status IN (?)", bun.In(account.SessionStatuses)).
		GroupExpr("1").
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("lease: load: %w", err)
	}
	out := make(map[string]int, len(rows))
	for _, l := range rows {
		out[l.Owner] += l.N
	}
	return out, nil
}

// ensureRows gives every account in a session status a lease row (released,
// epoch 0) if it has none: accounts linked before leases existed, or
// created while one instance ran without them.
func (r leaseRepo) ensureRows(ctx context.Context) error {
	_, err := r.db.NewRaw(`INSERT INTO account_leases (account_id, owner, epoch, expires_at, acquired_at)
SELECT a.id, NULL, 0, 0, 0 FROM accounts AS a WHERE a.status IN (?)
  AND NOT EXISTS (SELECT 1 FROM account_leases AS l WHERE l.account_id = a.id)
ON CONFLICT (account_id) DO NOTHING`, bun.In(account.SessionStatuses)).Exec(ctx)
	if err != nil {
		return fmt.Errorf("lease: create missing leases: %w", err)
	}
	return nil
}

// claimables lists leases of accounts in a session status that nobody
// holds at now, longest unheld first, at most limit.
func (r leaseRepo) claimables(ctx context.Context, now time.Time, limit int) ([]claimable, error) {
	var out []claimable
	err := r.db.NewSelect().
		TableExpr("account_leases AS l").
		Join("JOIN accounts AS a ON a.id = l.account_id").
		ColumnExpr("l.account_id, l.owner, l.epoch, l.expires_at").
		Where("a.status IN (?)", bun.In(account.SessionStatuses)).
		Where("(l.owner IS NULL OR l.expires_at <= ?)", ms(now)).
		OrderExpr("l.expires_at ASC, l.account_id ASC").
		Limit(int64(limit)).
		Scan(ctx, &out)
	if err != nil {
		return nil, fmt.Errorf("lease: claimable leases: %w", err)
	}
	return out, nil
}

// claim takes over a lease read with epoch, if nobody took it meanwhile and
// it is still unheld: the epoch grows by one. It reports whether it won.
func (r leaseRepo) claim(ctx context.Context, accountID, owner string, epoch int64, now, expires time.Time) (bool, error) {
	res, err := r.db.NewUpdate().Model((*leaseRow)(nil)).
		Set("owner = ?", owner).Set("epoch = epoch + 1").
		Set("expires_at = ?", ms(expires)).Set("acquired_at = ?", ms(now)).
		Where("account_id = ?", accountID).Where("epoch = ?", epoch).
		Where("(owner IS NULL OR expires_at <= ?)", ms(now)).
		Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("lease: claim %s: %w", accountID, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// create inserts a first lease for an account that has none, held by owner
// with epoch 1; it reports false when a row exists already.
func (r leaseRepo) create(ctx context.Context, accountID, owner string, now, expires time.Time) (bool, error) {
	row := &leaseRow{AccountID: accountID, Owner: sql.NullString{String: owner, Valid: true}, Epoch: 1, ExpiresAt: ms(expires), AcquiredAt: ms(now)}
	res, err := r.db.NewInsert().Model(row).On("CONFLICT (account_id) DO NOTHING").Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("lease: create %s: %w", accountID, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// get reads an account's lease; nil when it has none.
func (r leaseRepo) get(ctx context.Context, accountID string) (*leaseRow, error) {
	row := new(leaseRow)
	err := r.db.NewSelect().Model(row).Where("account_id = ?", accountID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lease: read %s: %w", accountID, err)
	}
	return row, nil
}

// renew extends every lease owner holds to expires, in one statement, and
// returns them.
func (r leaseRepo) renew(ctx context.Context, owner string, expires time.Time) ([]heldLease, error) {
	var out []heldLease
	_, err := r.db.NewUpdate().Model((*leaseRow)(nil)).
		Set("expires_at = ?", ms(expires)).
		Where("owner = ?", owner).
		Returning("account_id, epoch").
		Exec(ctx, &out)
	if err != nil {
		return nil, fmt.Errorf("lease: renew: %w", err)
	}
	return out, nil
}

// rebirth takes back, with a new epoch, the leases an earlier process with
// the same instance id still holds, so any session that process left
// behind is fenced off; it returns them.
func (r leaseRepo) rebirth(ctx context.Context, owner string, now, expires time.Time) ([]heldLease, error) {
	var out []heldLease
	_, err := r.db.NewUpdate().Model((*leaseRow)(nil)).
		Set("epoch = epoch + 1").Set("expires_at = ?", ms(expires)).Set("acquired_at = ?", ms(now)).
		Where("owner = ?", owner).
		Returning("account_id, epoch").
		Exec(ctx, &out)
	if err != nil {
		return nil, fmt.Errorf("lease: take back own leases: %w", err)
	}
	return out, nil
}

// release gives up owner's leases of ids (all of them when ids is nil):
// they are unheld at once, for another instance to claim.
func (r leaseRepo) release(ctx context.Context, owner string, ids []string, now time.Time) (int, error) {
	q := r.db.NewUpdate().Model((*leaseRow)(nil)).
		Set("owner = NULL").Set("expires_at = ?", ms(now)).
		Where("owner = ?", owner)
	if ids != nil {
		if len(ids) == 0 {
			return 0, nil
		}
		q = q.Where("account_id IN (?)", bun.In(ids))
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("lease: release: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// movable lists up to limit accounts whose lease owner holds and whose
// session can move without loss: linked ones, not activations in progress.
func (r leaseRepo) movable(ctx context.Context, owner string, limit int) ([]string, error) {
	var ids []string
	err := r.db.NewSelect().
		TableExpr("account_leases AS l").
		Join("JOIN accounts AS a ON a.id = l.account_id").
		ColumnExpr("l.account_id").
		Where("l.owner = ?", owner).
		Where("a.status IN (?)", bun.In([]account.Status{account.StatusActive, account.StatusDisconnected, account.StatusReconnecting, account.StatusBanned})).
		OrderExpr("l.acquired_at DESC, l.account_id ASC").
		Limit(int64(limit)).
		Scan(ctx, &ids)
	if err != nil {
		return nil, fmt.Errorf("lease: accounts to hand over: %w", err)
	}
	return ids, nil
}

// nextLapse is the earliest expiry after now of a lease of an account in a
// session status held by another owner than self; ok is false when none.
func (r leaseRepo) nextLapse(ctx context.Context, self string, now time.Time) (at time.Time, ok bool, err error) {
	var next sql.NullInt64
	err = r.db.NewSelect().
		TableExpr("account_leases AS l").
		Join("JOIN accounts AS a ON a.id = l.account_id").
		ColumnExpr("MIN(l.expires_at)").
		Where("a.status IN (?)", bun.In(account.SessionStatuses)).
		Where("l.owner IS NOT NULL").Where("l.owner <> ?", self).
		Where("l.expires_at > ?", ms(now)).
		Scan(ctx, &next)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("lease: next lapse: %w", err)
	}
	return time.UnixMilli(next.Int64), next.Valid, nil
}
