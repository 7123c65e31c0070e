package account

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// historyRow is one status change as stored in account_status_history.
type historyRow struct {
	bun.BaseModel `bun:"table:account_status_history"`

	AccountID     string    `bun:"account_id,pk"`
	Version       int64     `bun:"version,pk"`
	FromStatus    Status    `bun:"from_status,notnull"`
	ToStatus      Status    `bun:"to_status,notnull"`
	ReasonCode    string    `bun:"reason_code,notnull"`
	ReasonMessage string    `bun:"reason_message,notnull"`
	At            time.Time `bun:"at,notnull"`
}

func (h *historyRow) toChange() StatusChange {
	return StatusChange{
		AccountID: h.AccountID,
		Version:   h.Version,
		From:      h.FromStatus,
		To:        h.ToStatus,
		Reason:    NewReason(ReasonCode(h.ReasonCode), h.ReasonMessage),
		At:        h.At,
	}
}

// historyRepo reads and writes account_status_history.
type historyRepo struct{}

func (historyRepo) insert(ctx context.Context, db bun.IDB, c StatusChange) error {
	row := &historyRow{
		AccountID:     c.AccountID,
		Version:       c.Version,
		FromStatus:    c.From,
		ToStatus:      c.To,
		ReasonCode:    string(c.Reason.Code),
		ReasonMessage: c.Reason.Message,
		At:            c.At,
	}
	if _, err := db.NewInsert().Model(row).Exec(ctx); err != nil {
		return fmt.Errorf("account: insert history %s v%d: %w", c.AccountID, c.Version, err)
	}
	return nil
}

// list returns an account's changes newest first, those older than
// beforeVersion when it is positive, at most limit of them.
func (historyRepo) list(ctx context.Context, db bun.IDB, accountID string, beforeVersion int64, limit int) ([]StatusChange, error) {
	var rows []historyRow
	q := db.NewSelect().Model(&rows).Where("account_id = ?", accountID)
	if beforeVersion > 0 {
		q = q.Where("version < ?", beforeVersion)
	}
	q = q.OrderExpr("version DESC")
	if limit > 0 {
		q = q.Limit(int64(limit))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("account: list history %s: %w", accountID, err)
	}
	out := make([]StatusChange, len(rows))
	for i := range rows {
		out[i] = rows[i].toChange()
	}
	return out, nil
}
