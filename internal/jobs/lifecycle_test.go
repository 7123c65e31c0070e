package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"wagraph/internal/jobs"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

type tickArgs struct{}

func (tickArgs) Kind() string { return "test_tick" }

type tickWorker struct {
	river.WorkerDefaults[tickArgs]
	instance string
	ran      chan string
}

func (w *tickWorker) Work(ctx context.Context, job *river.Job[tickArgs]) error {
	w.ran <- w.instance
	return nil
}

// Two instances on one Postgres: River elects one leader, which alone
// inserts the periodic job, so it runs once per period, not once per
// instance.
func TestPeriodicJobRunsOncePerPeriodAcrossInstances(t *testing.T) {
	ctx := context.Background()
	url := storetest.URL(t, store.Postgres)
	const period = time.Second
	ran := make(chan string, 100)
	var services []*jobs.Service
	for _, name := range []string{"a", "b"} {
		db, err := store.Open(ctx, url, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		reg := jobs.NewRegistry()
		jobs.AddWorker(reg, &tickWorker{instance: name, ran: ran})
		reg.AddPeriodic(period, func() river.JobArgs { return tickArgs{} }, true)
		svc, _ := startJobs(t, db, reg)
		services = append(services, svc)
	}
	const runs = 4
	for range runs {
		wait(t, ran, "a periodic run")
	}
	for _, svc := range services {
		if err := svc.Close(); err != nil {
			t.Fatal(err)
		}
	}
	page, err := services[0].List(ctx, jobs.ListInput{Filter: jobs.Filter{Kind: "test_tick"}, First: new(100)})
	if err != nil {
		t.Fatal(err)
	}
	periods := map[time.Time]int64{}
	for _, j := range page.Jobs {
		p := j.CreatedAt.Truncate(period)
		if other, dup := periods[p]; dup {
			t.Fatalf("jobs %d and %d inserted in the same period %s; want one per period", other, j.ID, p)
		}
		periods[p] = j.ID
	}
	if len(page.Jobs) < runs {
		t.Fatalf("%d jobs listed, want at least the %d that ran", len(page.Jobs), runs)
	}
}

type blockArgs struct{}

func (blockArgs) Kind() string { return "test_block" }

// blockWorker signals when it starts, then finishes when released or gives
// up when its context is cancelled.
type blockWorker struct {
	river.WorkerDefaults[blockArgs]
	started chan struct{}
	release chan struct{}
}

func (w *blockWorker) Work(ctx context.Context, job *river.Job[blockArgs]) error {
	w.started <- struct{}{}
	select {
	case <-w.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close lets a running job finish; one that does not finish in time has its
// context cancelled and is released for a retry, which another instance
// then runs to completion.
func TestCloseFinishesOrReleasesRunningJobs(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		newService := func(w *blockWorker) *jobs.Service {
			reg := jobs.NewRegistry()
			jobs.AddWorker(reg, w)
			svc, err := jobs.New(db, reg, jobs.Options{Logger: zerolog.New(zerolog.NewTestWriter(t)), Workers: 2, PollInterval: 50 * time.Millisecond, StopTimeout: 1500 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if err := svc.Start(ctx); err != nil {
				t.Fatal(err)
			}
			return svc
		}

		finishing := &blockWorker{started: make(chan struct{}, 1), release: make(chan struct{})}
		svc := newService(finishing)
		job, err := svc.Enqueue(ctx, db, blockArgs{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		wait(t, finishing.started, "the job to start")
		closed := make(chan error, 1)
		go func() { closed <- svc.Close() }()
		close(finishing.release)
		if err := wait(t, closed, "Close"); err != nil {
			t.Fatalf("Close with a job that finishes: %v", err)
		}
		if row, err := svc.Client().JobGet(ctx, job.ID); err != nil || row.State != rivertype.JobStateCompleted {
			t.Fatalf("job after a graceful stop: %v, %v; want completed", row.State, err)
		}

		stuck := &blockWorker{started: make(chan struct{}, 1), release: make(chan struct{})}
		svc = newService(stuck)
		job, err = svc.Enqueue(ctx, db, blockArgs{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		wait(t, stuck.started, "the job to start")
		if err := svc.Close(); err != nil {
			t.Fatalf("Close with a job that only stops when cancelled: %v", err)
		}
		row, err := svc.Client().JobGet(ctx, job.ID)
		if err != nil || (row.State != rivertype.JobStateRetryable && row.State != rivertype.JobStateAvailable) {
			t.Fatalf("job cancelled by stop: %v, %v; want released for a retry", row.State, err)
		}

		// Another instance picks it up and finishes it.
		next := &blockWorker{started: make(chan struct{}, 1), release: make(chan struct{})}
		close(next.release)
		svc = newService(next)
		defer svc.Close()
		events, cancel := svc.Client().Subscribe(river.EventKindJobCompleted)
		defer cancel()
		wait(t, next.started, "the released job to run again")
		if ev := wait(t, events, "the released job to complete"); ev.Job.ID != job.ID {
			t.Fatalf("completed job %d, want the released job %d", ev.Job.ID, job.ID)
		}
	})
}

// A rescue delay shorter than River's default job timeout (one minute) is
// accepted: jobs then time out at the rescue delay, so a job River takes
// for stuck is past its deadline, never alive. (River refuses a client
// whose rescue delay is below the job timeout.)
func TestShortRescueDelayLowersTheJobTimeout(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	if _, err := jobs.New(db, jobs.NewRegistry(), jobs.Options{RescueAfter: 5 * time.Second}); err != nil {
		t.Fatalf("jobs.New with a 5s rescue delay: %v", err)
	}
}
