package supervisor_test

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"wagraph/internal/account"
	"wagraph/internal/jobs"
	"wagraph/internal/store"
	"wagraph/internal/supervisor"
)

// The sweeps are River periodic jobs: registered by the supervisor, inserted
// by the leader every period and worked through River on SQLite, where they
// do what the sweeps do (lift an ended ban, repair a lost phone number).
func TestSweepsRunPeriodicallyAsRiverJobsOnSQLite(t *testing.T) {
	const period = time.Second
	e := newEnv(t, store.SQLite, account.Options{}, supervisor.Options{TimeoutCheckInterval: period, PhoneSweepInterval: period})
	ctx := context.Background()

	banned := e.activate("Banned", "15550100101:1@s.whatsapp.net")
	e.sessions.emit(t, banned.ID, account.TemporaryBan{Code: 102, Until: e.clock.Now().Add(time.Hour)})
	e.wantStatus(banned.ID, account.StatusBanned, "")
	e.clock.Advance(time.Hour) // the ban is over; no timer lifts it, the sweep does
	e.wantStatus(banned.ID, account.StatusBanned, "")
	lost := e.activate("Lost number", "15550100102:1@s.whatsapp.net")
	if _, err := e.db.NewUpdate().Table("accounts").Set("phone_number = NULL").Where("id = ?", lost.ID).Exec(ctx); err != nil {
		t.Fatal(err)
	}

	reg := jobs.NewRegistry()
	e.sup.RegisterJobs(reg)
	if got, want := reg.Kinds(), []string{"sweep_timeouts", "sweep_phone_numbers"}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("registered kinds %v, want %v", got, want)
	}
	svc, err := jobs.New(e.db, reg, jobs.Options{Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel), Workers: 2, PollInterval: 50 * time.Millisecond, StopTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	events, cancel := svc.Client().Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed)
	defer cancel()
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := svc.Close(); err != nil {
			t.Errorf("close jobs: %v", err)
		}
	}()

	completed := map[string]map[int64]bool{"sweep_timeouts": {}, "sweep_phone_numbers": {}}
	deadline := time.After(60 * time.Second)
	for len(completed["sweep_timeouts"]) < 2 || len(completed["sweep_phone_numbers"]) < 2 {
		select {
		case ev := <-events:
			if ev.Kind != river.EventKindJobCompleted {
				t.Fatalf("job %s %d ended %s: %v", ev.Job.Kind, ev.Job.ID, ev.Kind, ev.Job.Errors)
			}
			completed[ev.Job.Kind][ev.Job.ID] = true
		case <-deadline:
			t.Fatalf("sweeps completed by River so far: %v; want two runs of each", completed)
		}
	}
	e.wantStatus(banned.ID, account.StatusActive, account.ReasonConnected)
	if got := e.get(lost.ID); got.PhoneNumber != "+15550100102" {
		t.Fatalf("phone number not repaired by the job: %q", got.PhoneNumber)
	}
}
