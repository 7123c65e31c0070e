package jobs_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"
	"github.com/uptrace/bun"

	"wagraph/internal/jobs"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// noteArgs is a test job kind: its worker records each run.
type noteArgs struct {
	Note string `json:"note"`
}

func (noteArgs) Kind() string { return "test_note" }

type noteWorker struct {
	river.WorkerDefaults[noteArgs]
	mu   sync.Mutex
	runs map[string]int
	done chan string
}

func newNoteWorker() *noteWorker {
	return &noteWorker{runs: map[string]int{}, done: make(chan string, 100)}
}

func (w *noteWorker) Work(ctx context.Context, job *river.Job[noteArgs]) error {
	w.mu.Lock()
	w.runs[job.Args.Note]++
	w.mu.Unlock()
	w.done <- job.Args.Note
	return nil
}

func (w *noteWorker) count(note string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.runs[note]
}

// startJobs starts a jobs service on db and returns it with River's events
// of finished jobs (completed, failed attempts, cancelled).
func startJobs(t *testing.T, db *store.DB, reg *jobs.Registry) (*jobs.Service, <-chan *river.Event) {
	t.Helper()
	svc, err := jobs.New(db, reg, jobs.Options{Logger: zerolog.New(zerolog.NewTestWriter(t)), Workers: 4, PollInterval: 50 * time.Millisecond, StopTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	events, cancel := svc.Client().Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled)
	t.Cleanup(cancel)
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := svc.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return svc, events
}

func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// A job enqueued in a transaction exists if and only if the transaction
// commits: a rolled-back one never runs, a committed one runs once.
func TestEnqueueInTransaction(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newNoteWorker()
		reg := jobs.NewRegistry()
		jobs.AddWorker(reg, w)
		svc, events := startJobs(t, db, reg)

		boom := errors.New("boom")
		err := db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
			if _, err := svc.Enqueue(ctx, tx, noteArgs{Note: "rolled back"}, nil); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v, want boom", err)
		}
		var committed *rivertype.JobRow
		err = db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
			committed, err = svc.Enqueue(ctx, tx, noteArgs{Note: "committed"}, nil)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := wait(t, w.done, "the committed job"); got != "committed" {
			t.Fatalf("first job run = %q, want the committed one", got)
		}
		page, err := svc.List(ctx, jobs.ListInput{})
		if err != nil {
			t.Fatal(err)
		}
		if page.TotalCount != 1 || page.Jobs[0].ID != committed.ID {
			t.Fatalf("jobs in the table = %+v, want only the committed one (id %d)", page.Jobs, committed.ID)
		}
		// Completed is final: River never works it again.
		ev := wait(t, events, "the committed job's completion")
		if ev.Job.ID != committed.ID || ev.Job.State != rivertype.JobStateCompleted || ev.Job.Attempt != 1 {
			t.Fatalf("event %s for job %d (%s, attempt %d), want job %d completed on attempt 1", ev.Kind, ev.Job.ID, ev.Job.State, ev.Job.Attempt, committed.ID)
		}
		if w.count("committed") != 1 || w.count("rolled back") != 0 {
			t.Fatalf("runs = %v, want committed once and rolled back never", w.runs)
		}
	})
}
