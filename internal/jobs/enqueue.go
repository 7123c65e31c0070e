package jobs

import (
	"context"
	"fmt"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/uptrace/bun"

	"wagraph/internal/store"
)

// Enqueue inserts a job through db: inside the transaction when db is a
// bun.Tx (the job is inserted if and only if the transaction commits, which
// is how a service should enqueue the work for rows it writes), on its own
// otherwise. opts may be nil.
func (s *Service) Enqueue(ctx context.Context, db bun.IDB, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobRow, error) {
	var (
		res *rivertype.JobInsertResult
		err error
	)
	switch db := db.(type) {
	case bun.Tx:
		res, err = s.client.InsertTx(ctx, db.Tx, args, opts)
	case *bun.Tx:
		res, err = s.client.InsertTx(ctx, db.Tx, args, opts)
	case *bun.DB, *store.DB:
		res, err = s.client.Insert(ctx, args, opts)
	default:
		return nil, fmt.Errorf("jobs: enqueue %s through a %T: pass a bun.Tx or the database", args.Kind(), db)
	}
	if err != nil {
		return nil, fmt.Errorf("jobs: enqueue %s: %w", args.Kind(), err)
	}
	return res.Job, nil
}
