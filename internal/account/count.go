package account

import (
	"context"
	"fmt"
)

// CountByStatus counts the accounts in each status (statuses without
// accounts are left out), for the accounts gauge.
func (s *Service) CountByStatus(ctx context.Context) (map[Status]int, error) {
	var rows []struct {
		Status Status `bun:"status"`
		N      int    `bun:"n"`
	}
	err := s.db.NewSelect().Table("accounts").Column("status").ColumnExpr("count(*) AS n").Group("status").Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("account: count by status: %w", err)
	}
	out := make(map[Status]int, len(rows))
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out, nil
}
