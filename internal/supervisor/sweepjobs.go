package supervisor

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"wagraph/internal/jobs"
)

// TimeoutSweepArgs is the periodic job that runs SweepTimeouts.
type TimeoutSweepArgs struct{}

// Kind implements river.JobArgs.
func (TimeoutSweepArgs) Kind() string { return "sweep_timeouts" }

// PhoneSweepArgs is the periodic job that runs SweepPhoneNumbers.
type PhoneSweepArgs struct{}

// Kind implements river.JobArgs.
func (PhoneSweepArgs) Kind() string { return "sweep_phone_numbers" }

// sweepTimeout bounds one run of a sweep; JOB_RESCUE_AFTER must be longer,
// or River would rescue a sweep that is still running.
const sweepTimeout = 10 * time.Minute

type timeoutSweepWorker struct {
	river.WorkerDefaults[TimeoutSweepArgs]
	s *Supervisor
}

func (w *timeoutSweepWorker) Timeout(*river.Job[TimeoutSweepArgs]) time.Duration {
	return sweepTimeout
}

func (w *timeoutSweepWorker) Work(ctx context.Context, _ *river.Job[TimeoutSweepArgs]) error {
	return w.s.SweepTimeouts(ctx)
}

type phoneSweepWorker struct {
	river.WorkerDefaults[PhoneSweepArgs]
	s *Supervisor
}

func (w *phoneSweepWorker) Timeout(*river.Job[PhoneSweepArgs]) time.Duration {
	return sweepTimeout
}

func (w *phoneSweepWorker) Work(ctx context.Context, _ *river.Job[PhoneSweepArgs]) error {
	_, err := w.s.SweepPhoneNumbers(ctx)
	return err
}

// RegisterJobs registers the sweeps as periodic jobs: River's elected leader
// inserts each once per period (TimeoutCheckInterval, PhoneSweepInterval)
// and on election, so several instances run each once per period between
// them, and a sweep interrupted by a crash is rescued and run again.
func (s *Supervisor) RegisterJobs(r *jobs.Registry) {
	jobs.AddWorker(r, &timeoutSweepWorker{s: s})
	r.AddPeriodic(s.opts.TimeoutCheckInterval, func() river.JobArgs { return TimeoutSweepArgs{} }, true)
	jobs.AddWorker(r, &phoneSweepWorker{s: s})
	r.AddPeriodic(s.opts.PhoneSweepInterval, func() river.JobArgs { return PhoneSweepArgs{} }, true)
}
