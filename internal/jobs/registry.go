package jobs

import (
	"maps"
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
	queues   map[string]int // queues besides River's default, with their workers
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

// AddQueue adds a River queue with workers of its own, besides the default
// queue that JOB_WORKERS works. A domain package adds queues for jobs that
// must not wait behind the rest (the send lanes, internal/message). Queue
// names are fixed by the code: a job in a queue no instance works would
// wait forever. Adding a name twice, or after Service.Start, panics.
func (r *Registry) AddQueue(name string, workers int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mustBeOpen()
	if _, dup := r.queues[name]; dup || name == river.QueueDefault {
		panic("jobs: queue " + name + " added twice")
	}
	if r.queues == nil {
		r.queues = map[string]int{}
	}
	r.queues[name] = max(workers, 1)
}

// Kinds lists the job kinds registered so far.
func (r *Registry) Kinds() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.kinds...)
}

// seal ends registration (the client is starting) and returns the kinds
// and the added queues.
func (r *Registry) seal() ([]string, map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sealed = true
	return append([]string(nil), r.kinds...), maps.Clone(r.queues)
}

func (r *Registry) mustBeOpen() {
	if r.sealed {
		panic("jobs: worker or periodic job registered after the jobs service started; register in the app's start-up, before jobs.Service.Start")
	}
}
