package supervisor

import (
	"context"

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

type timeoutSweepWorker struct {
	river.WorkerDefaults[TimeoutSweepArgs]
	s *Supervisor
}

func (w *timeoutSweepWorker) Work(ctx context.Context, _ *river.Job[TimeoutSweepArgs]) error {
	return w.s.SweepTimeouts(ctx)
}

type phoneSweepWorker struct {
	river.WorkerDefaults[PhoneSweepArgs]
	s *Supervisor
}

func (w *phoneSweepWorker) Work(ctx context.Context, _ *river.Job[PhoneSweepArgs]) error {
	_, err := w.s.SweepPhoneNumbers(ctx)
	return err
}

// RegisterJobs registers the sweeps as periodic jobs: River's elected leader
// inserts each once per period (TimeoutCheckInterval, PhoneSweepInterval)
// and on election, so several instances run each once per period between
// them, and a sweep interrupted by a crash is rescued and run again. A
// sweep has the jobs' default timeout; one cut short by it, by a shutdown
// or by a crash keeps what it did, and its retry does the rest.
func (s *Supervisor) RegisterJobs(r *jobs.Registry) {
	jobs.AddWorker(r, &timeoutSweepWorker{s: s})
	r.AddPeriodic(s.opts.TimeoutCheckInterval, func() river.JobArgs { return TimeoutSweepArgs{} }, true)
	jobs.AddWorker(r, &phoneSweepWorker{s: s})
	r.AddPeriodic(s.opts.PhoneSweepInterval, func() river.JobArgs { return PhoneSweepArgs{} }, true)
}
