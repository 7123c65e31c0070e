package sending

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"wagraph/internal/apperr"
	"wagraph/internal/jobs"
)

var errNoBus = apperr.New(apperr.Unavailable, "live rate-limit updates are not configured on this server")

// PauseSweepArgs is the periodic job that runs ExpirePauses.
type PauseSweepArgs struct{}

// Kind implements river.JobArgs.
func (PauseSweepArgs) Kind() string { return "sweep_send_pauses" }

type pauseSweepWorker struct {
	river.WorkerDefaults[PauseSweepArgs]
	p *Policy
}

func (w *pauseSweepWorker) Work(ctx context.Context, _ *river.Job[PauseSweepArgs]) error {
	_, err := w.p.ExpirePauses(ctx)
	return err
}

// RegisterJobs registers the pause sweep as a periodic job every interval
// (River's leader runs it once per period across instances). Pauses end by
// themselves without it; it tells live gauges and tidies the table.
func (p *Policy) RegisterJobs(r *jobs.Registry, interval time.Duration) {
	jobs.AddWorker(r, &pauseSweepWorker{p: p})
	r.AddPeriodic(interval, func() river.JobArgs { return PauseSweepArgs{} }, true)
}
