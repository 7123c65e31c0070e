package jobs_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"wagraph/internal/apperr"
	"wagraph/internal/jobs"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

type failArgs struct{}

func (failArgs) Kind() string { return "test_fail" }

type failWorker struct {
	river.WorkerDefaults[failArgs]
}

func (failWorker) Work(ctx context.Context, job *river.Job[failArgs]) error {
	return errors.New("the remote end said no")
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Operators list jobs by kind and state, page through them, see a failed
// job's error (also logged), and retry or cancel jobs.
func TestOperatorView(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		logs := &syncBuffer{}
		reg := jobs.NewRegistry()
		notes := newNoteWorker()
		jobs.AddWorker(reg, notes)
		jobs.AddWorker(reg, failWorker{})
		svc, err := jobs.New(db, reg, jobs.Options{Logger: zerolog.New(logs), Workers: 2, PollInterval: 50 * time.Millisecond, StopTimeout: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = svc.Close() })

		// Scheduled in the future, so they wait while the client runs.
		later := &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)}
		var ids []int64
		for _, n := range []string{"one", "two", "three"} {
			j, err := svc.Enqueue(ctx, db, noteArgs{Note: n}, later)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, j.ID)
		}
		failed, err := svc.Enqueue(ctx, db, failArgs{}, &river.InsertOpts{MaxAttempts: 1})
		if err != nil {
			t.Fatal(err)
		}
		events, cancel := svc.Client().Subscribe(river.EventKindJobFailed)
		defer cancel()
		if err := svc.Start(ctx); err != nil {
			t.Fatal(err)
		}
		ev := wait(t, events, "the failing job")
		if ev.Job.ID != failed.ID || ev.Job.State != rivertype.JobStateDiscarded {
			t.Fatalf("failed event for job %d in state %s, want job %d discarded", ev.Job.ID, ev.Job.State, failed.ID)
		}
		if l := logs.String(); !strings.Contains(l, "the remote end said no") || !strings.Contains(l, `"job_kind":"test_fail"`) {
			t.Fatalf("failed job not logged with its error: %s", l)
		}

		page, err := svc.List(ctx, jobs.ListInput{Filter: jobs.Filter{Kind: "test_fail", State: "DISCARDED"}})
		if err != nil {
			t.Fatal(err)
		}
		if page.TotalCount != 1 || len(page.Jobs) != 1 || len(page.Jobs[0].Errors) != 1 ||
			page.Jobs[0].Errors[0].Error != "the remote end said no" || page.Jobs[0].FinalizedAt == nil {
			t.Fatalf("discarded jobs = %+v", page)
		}

		// Newest first, two per page.
		first := 2
		page, err = svc.List(ctx, jobs.ListInput{Filter: jobs.Filter{Kind: "test_note"}, First: &first})
		if err != nil {
			t.Fatal(err)
		}
		if page.TotalCount != 3 || !page.HasNextPage || len(page.Jobs) != 2 || page.Jobs[0].ID != ids[2] || page.Jobs[1].ID != ids[1] {
			t.Fatalf("first page = %+v, want jobs %d, %d and more", page, ids[2], ids[1])
		}
		page, err = svc.List(ctx, jobs.ListInput{Filter: jobs.Filter{Kind: "test_note"}, First: &first, After: jobs.Cursor(page.Jobs[1].ID)})
		if err != nil {
			t.Fatal(err)
		}
		if page.HasNextPage || len(page.Jobs) != 1 || page.Jobs[0].ID != ids[0] {
			t.Fatalf("second page = %+v, want job %d and no more", page, ids[0])
		}

		cancelled, err := svc.Cancel(ctx, ids[0])
		if err != nil || cancelled.State != rivertype.JobStateCancelled {
			t.Fatalf("Cancel = %+v, %v", cancelled, err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for n := range notes.done {
				if n == "two" {
					return
				}
			}
		}()
		retried, err := svc.Retry(ctx, ids[1])
		if err != nil || retried.State != rivertype.JobStateAvailable {
			t.Fatalf("Retry = %+v, %v", retried, err)
		}
		wait(t, done, "the retried job to run")

		counts, err := svc.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{"test_fail/discarded": true, "test_note/cancelled": true, "test_note/scheduled": true}
		for _, c := range counts {
			key := c.Kind + "/" + c.State
			if want[key] && c.N == 1 {
				delete(want, key)
			}
		}
		if len(want) > 0 {
			t.Fatalf("counts = %+v, missing %v", counts, want)
		}
	})
}

func TestOperatorInputErrors(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	svc, err := jobs.New(db, nil, jobs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tooMany := jobs.MaxPageSize + 1
	for name, in := range map[string]jobs.ListInput{
		"state": {Filter: jobs.Filter{State: "sleeping"}},
		"first": {First: &tooMany},
		"after": {After: "not-a-cursor"},
	} {
		_, err := svc.List(ctx, in)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Code != apperr.InvalidInput || ae.Field != name || ae.Suggestion == "" {
			t.Errorf("List with a bad %s = %v, want INVALID_INPUT on %s with a suggestion", name, err, name)
		}
	}
	if _, err := svc.Retry(ctx, 424242); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("Retry of a missing job = %v, want NOT_FOUND", err)
	}
	if _, err := svc.Cancel(ctx, 424242); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("Cancel of a missing job = %v, want NOT_FOUND", err)
	}
}
