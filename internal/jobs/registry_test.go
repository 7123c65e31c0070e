package jobs_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"wagraph/internal/apperr"
	"wagraph/internal/jobs"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

type panicArgs struct{}

func (panicArgs) Kind() string { return "test_panic" }

// Registration is open until Start and refused after; a worker that panics
// is logged with its panic, and enqueueing through something that is not a
// transaction or the database is refused.
func TestRegistryAndMisuse(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, store.SQLite)
	logs := &syncBuffer{}
	reg := jobs.NewRegistry()
	svc, err := jobs.New(db, reg, jobs.Options{Logger: zerolog.New(logs), PollInterval: 50 * time.Millisecond, StopTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// Registered after New, before Start: the order app.New uses.
	jobs.AddWorker(reg, river.WorkFunc(func(ctx context.Context, job *river.Job[panicArgs]) error { panic("worker bug") }))
	if got := reg.Kinds(); len(got) != 1 || got[0] != "test_panic" {
		t.Fatalf("Kinds = %v", got)
	}
	events, cancel := svc.Client().Subscribe(river.EventKindJobFailed)
	defer cancel()
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer svc.Close()

	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(string), "before jobs.Service.Start") {
				t.Errorf("AddPeriodic after Start: recovered %v, want a panic that says when to register", r)
			}
		}()
		reg.AddPeriodic(time.Minute, func() river.JobArgs { return panicArgs{} }, false)
	}()

	if _, err := svc.Enqueue(ctx, db, panicArgs{}, &river.InsertOpts{MaxAttempts: 1}); err != nil {
		t.Fatal(err)
	}
	wait(t, events, "the panicking job")
	if l := logs.String(); !strings.Contains(l, "worker bug") || !strings.Contains(l, `"stack"`) {
		t.Fatalf("panic not logged with its value and stack: %s", l)
	}

	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := svc.Enqueue(ctx, conn, panicArgs{}, nil); err == nil || !strings.Contains(err.Error(), "pass a bun.Tx or the database") {
		t.Fatalf("Enqueue through a bun.Conn = %v, want a refusal", err)
	}
	for _, bad := range []string{"", "x", "-3", "0"} {
		if _, err := jobs.ParseID(bad); apperr.CodeOf(err) != apperr.InvalidInput {
			t.Errorf("ParseID(%q) = %v, want INVALID_INPUT", bad, err)
		}
	}
	if id, err := jobs.ParseID("42"); id != 42 || err != nil {
		t.Errorf("ParseID(42) = %d, %v", id, err)
	}
}

type laneArgs struct{}

func (laneArgs) Kind() string { return "test_lane" }

// A queue added to the registry gets workers of its own: its jobs run
// while every worker of the default queue is busy. Adding it twice is a
// programming error.
func TestAddedQueuesHaveTheirOwnWorkers(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, store.SQLite)
	reg := jobs.NewRegistry()
	svc, err := jobs.New(db, reg, jobs.Options{Logger: zerolog.Nop(), Workers: 1, PollInterval: 20 * time.Millisecond, StopTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	jobs.AddWorker(reg, river.WorkFunc(func(ctx context.Context, job *river.Job[panicArgs]) error {
		select { // holds the default queue's only worker
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}))
	ran := make(chan struct{}, 1)
	jobs.AddWorker(reg, river.WorkFunc(func(ctx context.Context, job *river.Job[laneArgs]) error {
		ran <- struct{}{}
		return nil
	}))
	reg.AddQueue("lane_a", 1)
	func() {
		defer func() {
			if r := recover(); r == nil {
				t.Error("AddQueue twice did not panic")
			}
		}()
		reg.AddQueue("lane_a", 2)
	}()
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	defer close(release)
	if _, err := svc.Enqueue(ctx, db, panicArgs{}, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the blocker takes the default worker
	if _, err := svc.Enqueue(ctx, db, laneArgs{}, &river.InsertOpts{Queue: "lane_a"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("the job in the added queue did not run while the default queue was busy")
	}
}
