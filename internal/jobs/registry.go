package jobs

import (
	"sync"
	"time"

	"github.com/riverqueue/river"
)

// Registry collects the workers and periodic jobs of the domain packages
// before the River client is built. A domain package exposes a function
// that takes it, e.g.
//
//	func RegisterJobs(r *jobs.Registry, svc *Service) {
//		jobs.AddWorker(r, &repairPhoneWorker{svc: svc})
//		r.AddPeriodic(5*time.Minute, func() river.JobArgs { return RepairPhoneArgs{} }, true)
//	}
//
// and internal/app calls it before jobs.New.
type Registry struct {
	mu       sync.Mutex
	workers  *river.Workers
	periodic []*river.PeriodicJob
	kinds    []string
	sealed   bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{workers: river.NewWorkers()} }

// AddWorker registers the worker of one job kind (T's Kind()). A job's
// context ends after River's default timeout of one minute unless the
// worker's Timeout method returns another (-1 for none). Registering
// a kind twice, or after Service.Start, panics: a programming error found
// at start.
func AddWorker[T river.JobArgs](r *Registry, w river.Worker[T]) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mustBeOpen()
	river.AddWorker(r.workers, w)
	var args T
	r.kinds = append(r.kinds, args.Kind())
}

// AddPeriodic inserts the job newArgs returns every interval, on River's
// elected leader only, so several instances insert it once per period
// between them. runOnStart also inserts one when a leader is elected. The
// job is unique per period, so a leader change cannot insert it twice in one
// period. Its worker must be registered with AddWorker.
func (r *Registry) AddPeriodic(interval time.Duration, newArgs func() river.JobArgs, runOnStart bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mustBeOpen()
	r.periodic = append(r.periodic, river.NewPeriodicJob(
		river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) {
			return newArgs(), &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: interval}}
		},
		&river.PeriodicJobOpts{RunOnStart: runOnStart},
	))
}

// Kinds lists the job kinds registered so far.
func (r *Registry) Kinds() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.kinds...)
}

// seal ends registration (the client is starting) and returns the kinds.
func (r *Registry) seal() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sealed = true
	return append([]string(nil), r.kinds...)
}

func (r *Registry) mustBeOpen() {
	if r.sealed {
		panic("jobs: worker or periodic job registered after the jobs service started; register in the app's start-up, before jobs.Service.Start")
	}
}
