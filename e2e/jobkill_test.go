package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// A River job interrupted by kill -9 of the server runs again after a
// restart and completes. The job is the real sweep_phone_numbers: over a
// fleet of accounts left without a phone number (DISCONNECTED by another
// client, so restore leaves them alone) it runs long enough to be killed
// mid-run. The restarted instance becomes leader, River's rescuer finds
// the job stuck (JOB_RESCUE_AFTER), and the job's second attempt repairs
// the rest.
func TestJobKilledMidRunRunsAgainAfterRestart(t *testing.T) {
	dbURL := storetest.URL(t, store.Postgres)
	bin := buildWagraph(t)
	env := []string{
		"DATABASE_URL=" + dbURL, "LOG_FORMAT=json", "LOG_LEVEL=info",
		// One sweep per hour: the periodic insert at start is the only one,
		// and the restart's start-up insert is a duplicate of it in its period.
		"SWEEP_PHONE_NUMBERS_INTERVAL=1h",
		"JOB_RESCUE_AFTER=10s",
	}
	command(t, bin, env, "migrate")

	ctx := context.Background()
	db, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	const fleet = 4000
	if _, err := db.ExecContext(ctx, `
		INSERT INTO accounts (id, name, status, reason_code, reason_message, version, revision, jid, created_at, updated_at)
		SELECT 'fleet-' || g, 'Fleet ' || g, 'DISCONNECTED', 'WA_STREAM_REPLACED', 'Another client took over.', 1, 1,
		       (15550000000 + g)::text || ':1@s.whatsapp.net', now(), now()
		FROM generate_series(1, ?) AS g`, fleet); err != nil {
		t.Fatal(err)
	}
	repaired := func() int {
		var n int
		if err := db.NewRaw("SELECT count(*) FROM accounts WHERE id LIKE 'fleet-%' AND phone_number IS NOT NULL").Scan(ctx, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	type jobRow struct {
		ID      int64  `bun:"id"`
		State   string `bun:"state"`
		Attempt int    `bun:"attempt"`
	}
	sweepJobs := func() []jobRow {
		var rows []jobRow
		if err := db.NewRaw("SELECT id, state, attempt FROM river_job WHERE kind = 'sweep_phone_numbers' ORDER BY id").Scan(ctx, &rows); err != nil {
			t.Fatal(err)
		}
		return rows
	}

	first := startProcess(t, bin, env)
	first.waitLog(t, "phone number repaired by the phone number sweep", 60*time.Second)
	first.kill(t)

	jobs := sweepJobs()
	if len(jobs) != 1 || jobs[0].State != "running" || jobs[0].Attempt != 1 {
		t.Fatalf("after the kill: sweep jobs %+v, want one running in its first attempt", jobs)
	}
	killed := jobs[0].ID
	atKill := repaired()
	if atKill == 0 || atKill == fleet {
		t.Fatalf("%d of %d accounts repaired at the kill; want the sweep killed mid-run", atKill, fleet)
	}

	second := startProcess(t, bin, env)
	// The second attempt logs its summary when it has repaired the rest;
	// a graceful stop then lets River record the completion.
	second.waitLog(t, `"message":"phone number sweep"`, 120*time.Second)
	second.stop(t)
	jobs = sweepJobs()
	if len(jobs) == 0 || jobs[0].State != "completed" {
		t.Fatalf("the killed job did not complete after the restart: %+v\n%s", jobs, second.Logs)
	}
	if jobs[0].ID != killed || jobs[0].Attempt < 2 {
		t.Fatalf("completed job %+v, want job %d in a later attempt", jobs[0], killed)
	}
	if n := repaired(); n != fleet {
		t.Fatalf("%d of %d accounts repaired after the rerun", n, fleet)
	}
	t.Logf("job %d killed with %d of %d accounts repaired; completed after the restart in attempt %d", killed, atKill, fleet, jobs[0].Attempt)
}

// waitLog waits until the process has logged a line containing s.
func (p *process) waitLog(t *testing.T, s string, wait time.Duration) {
	t.Helper()
	if err := p.WaitLog(t.Context(), wait, s); err != nil {
		t.Fatal(err)
	}
}

// stop ends the process with SIGTERM and waits for it to exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.Stop(30 * time.Second); err != nil {
		t.Fatalf("%v:\n%s", err, p.Logs)
	}
}

// kill ends the process with SIGKILL, as a crash or an OOM kill would.
func (p *process) kill(t *testing.T) {
	t.Helper()
	if err := p.Kill(); err != nil {
		t.Fatal(fmt.Errorf("kill -9: %w", err))
	}
}
