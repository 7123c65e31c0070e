package testproc

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// What the shared database says about the instances: who runs which
// account (account_leases) and in what status (accounts).

// Owners counts the accounts whose lease each instance holds now (valid,
// not expired).
func Owners(ctx context.Context, db bun.IDB) (map[string]int, error) {
	var rows []struct {
		Owner string `bun:"owner"`
		N     int    `bun:"n"`
	}
	err := db.NewSelect().Table("account_leases").ColumnExpr("owner, count(*) AS n").
		Where("owner IS NOT NULL").Where("expires_at > ?", time.Now().UnixMilli()).
		GroupExpr("owner").Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("lease owners: %w", err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.Owner] = r.N
	}
	return out, nil
}

// Owner is the instance holding the account's lease ("" when none).
func Owner(ctx context.Context, db bun.IDB, id string) (string, error) {
	var owner *string
	if err := db.NewSelect().Table("account_leases").Column("owner").Where("account_id = ?", id).Scan(ctx, &owner); err != nil {
		return "", fmt.Errorf("lease owner of %s: %w", id, err)
	}
	if owner == nil {
		return "", nil
	}
	return *owner, nil
}

// Placed lists, of ids, the accounts that are ACTIVE with a valid lease
// held by one of owners.
func Placed(ctx context.Context, db bun.IDB, ids, owners []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var out []string
	err := db.NewSelect().Table("account_leases").Join("JOIN accounts AS a ON a.id = account_leases.account_id").
		Column("account_leases.account_id").Where("a.status = 'ACTIVE'").
		Where("account_leases.account_id IN (?)", bun.In(ids)).
		Where("account_leases.owner IN (?)", bun.In(owners)).
		Where("account_leases.expires_at > ?", time.Now().UnixMilli()).Scan(ctx, &out)
	if err != nil {
		return nil, fmt.Errorf("accounts placed: %w", err)
	}
	return out, nil
}

// Settled reports whether every one of ids is ACTIVE on one of owners and
// connected once in the simulator; a replaced stream (an account connected
// twice) is an error.
func Settled(ctx context.Context, db bun.IDB, sim *Simulator, ids, owners []string) (bool, error) {
	devs, err := sim.Devices(ctx, "")
	if err != nil {
		return false, err
	}
	if devs.Totals.Replaced != 0 {
		return false, fmt.Errorf("the simulator saw %d replaced streams: an account was connected twice", devs.Totals.Replaced)
	}
	if devs.Totals.Connected != len(ids) {
		return false, nil
	}
	placed, err := Placed(ctx, db, ids, owners)
	return len(placed) == len(ids), err
}
