package jobs

import (
	"context"
	"fmt"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"
)

// EnqueueMany inserts many jobs inside tx in bulk (one statement per call
// on Postgres and SQLite), so they exist if and only if tx commits. It
// returns how many were inserted.
func (s *Service) EnqueueMany(ctx context.Context, tx bun.Tx, params []river.InsertManyParams) (int, error) {
	if len(params) == 0 {
		return 0, nil
	}
	n, err := s.client.InsertManyFastTx(ctx, tx.Tx, params)
	if err != nil {
		return 0, fmt.Errorf("jobs: enqueue %d jobs: %w", len(params), err)
	}
	return n, nil
}
