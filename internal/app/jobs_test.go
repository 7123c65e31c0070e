package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"wagraph/internal/account"
	"wagraph/internal/app"
	"wagraph/internal/apptest"
	"wagraph/internal/auth"
	"wagraph/internal/jobs"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// chainArgs is a test job kind whose worker writes to the app's tables and
// enqueues its successor in the same transaction, until told to stop: a
// steady stream of background writes, as scrapes and sends will make.
type chainArgs struct {
	Chain int `json:"chain"`
	Step  int `json:"step"`
}

func (chainArgs) Kind() string { return "test_chain" }

type chainWorker struct {
	river.WorkerDefaults[chainArgs]
	app     atomic.Pointer[app.App]
	stop    atomic.Bool
	worked  atomic.Int64
	started chan struct{}
	once    sync.Once
}

func (w *chainWorker) Work(ctx context.Context, job *river.Job[chainArgs]) error {
	w.worked.Add(1)
	w.once.Do(func() { close(w.started) })
	if w.stop.Load() {
		return nil
	}
	a := w.app.Load()
	id := fmt.Sprintf("chain-%d-%d", job.Args.Chain, job.Args.Step)
	return a.DB.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO api_tokens (id, name, role, secret_hash, created_at) VALUES (?, 'chain', 'VIEWER', ?, CURRENT_TIMESTAMP)", id, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM api_tokens WHERE id = ?", id); err != nil {
			return err
		}
		_, err := a.Jobs.Enqueue(ctx, tx, chainArgs{Chain: job.Args.Chain, Step: job.Args.Step + 1}, nil)
		return err
	})
}

// On SQLite, River's workers and the API share one database file. With
// River writing continuously, 100 concurrent mutations must all succeed:
// no "database is locked" or busy error reaches a client.
func TestSQLiteNoBusyErrorsWithJobsRunning(t *testing.T) {
	w := &chainWorker{started: make(chan struct{})}
	s := apptest.StartConfig(t, apptest.Config(t, nil), app.WithJobs(func(r *jobs.Registry) { jobs.AddWorker(r, w) }))
	w.app.Store(s.App)
	ctx := context.Background()
	const chains = 32
	for c := range chains {
		if _, err := s.App.Jobs.Enqueue(ctx, s.App.DB, chainArgs{Chain: c}, nil); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-w.started:
	case <-time.After(30 * time.Second):
		t.Fatal("no job started")
	}

	c := s.Client(apptest.Bearer(s.Token(t, auth.Operator)))
	before := w.worked.Load()
	// Waves of 100 concurrent mutations until River has worked jobs in
	// between: on SQLite River polls, so a fast wave can finish before the
	// next job of a chain is fetched.
	const wave, maxWaves = 100, 30
	mutations := 0
	errs := make(chan error, wave*maxWaves)
	for n := 0; n < maxWaves && (n == 0 || w.worked.Load() == before); n++ {
		var wg sync.WaitGroup
		for i := range wave {
			wg.Go(func() {
				var resp struct {
					CreateAccount struct{ Account struct{ ID string } }
				}
				err := c.Post(fmt.Sprintf(`mutation { createAccount(input: {name: "load %d-%d"}) { account { id } } }`, n, i), &resp)
				if err == nil && resp.CreateAccount.Account.ID == "" {
					err = errors.New("no account id in the answer")
				}
				if err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		mutations += wave
	}
	during := w.worked.Load() - before
	w.stop.Store(true)
	close(errs)
	var busy, other []string
	for err := range errs {
		msg := err.Error()
		if strings.Contains(msg, "locked") || strings.Contains(strings.ToLower(msg), "busy") {
			busy = append(busy, msg)
		} else {
			other = append(other, msg)
		}
	}
	t.Logf("%d mutations while River worked %d jobs; %d busy errors, %d other errors", mutations, during, len(busy), len(other))
	if len(busy) > 0 || len(other) > 0 {
		t.Fatalf("busy errors: %v\nother errors: %v", busy, other)
	}
	if during == 0 {
		t.Fatal("no job ran while the mutations did; the test proved nothing")
	}
	if strings.Contains(s.Logs.String(), "database is locked") {
		t.Fatal("the server logged \"database is locked\"")
	}
}

// Operators see jobs (ADMIN only), page through them, and retry or cancel
// them through GraphQL.
func TestJobsQueryAndMutations(t *testing.T) {
	s := apptest.StartConfig(t, apptest.Config(t, nil), app.WithJobs(func(r *jobs.Registry) {
		jobs.AddWorker(r, river.WorkFunc(func(ctx context.Context, job *river.Job[chainArgs]) error { return nil }))
	}))
	ctx := context.Background()
	later := &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)}
	var ids []int64
	for i := range 3 {
		j, err := s.App.Jobs.Enqueue(ctx, s.App.DB, chainArgs{Chain: i}, later)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	admin := s.Client(apptest.Bearer(s.Token(t, auth.Admin)))
	operator := s.Client(apptest.Bearer(s.Token(t, auth.Operator)))

	const query = `query($after: String) { jobs(filter: {kind: "test_chain", state: SCHEDULED}, first: 2, after: $after) {
		totalCount pageInfo { hasNextPage endCursor }
		edges { cursor node { id kind state queue attempts maxAttempts errors { attempt at message } createdAt scheduledAt attemptedAt finalizedAt } } } }`
	if got := apptest.Post(t, operator, query).Only(t).Code(); got != "FORBIDDEN" {
		t.Fatalf("jobs as OPERATOR: %s, want FORBIDDEN", got)
	}
	data := apptest.Post(t, admin, query).NoErrors(t)
	conn := apptest.Path(data, "jobs").(map[string]any)
	edges := conn["edges"].([]any)
	if conn["totalCount"] != float64(3) || len(edges) != 2 || apptest.Path(conn, "pageInfo", "hasNextPage") != true {
		t.Fatalf("first page: %v", conn)
	}
	node := edges[0].(map[string]any)["node"].(map[string]any)
	if node["id"] != fmt.Sprint(ids[2]) || node["state"] != "SCHEDULED" || node["kind"] != "test_chain" ||
		node["attempts"] != float64(0) || node["attemptedAt"] != nil || len(node["errors"].([]any)) != 0 {
		t.Fatalf("newest job: %v", node)
	}
	after, _ := json.Marshal(apptest.Path(conn, "pageInfo", "endCursor"))
	data = apptest.Post(t, admin, query, func(r *client.Request) { r.Variables = map[string]any{"after": json.RawMessage(after)} }).NoErrors(t)
	if edges := apptest.Path(data, "jobs", "edges").([]any); len(edges) != 1 || apptest.Path(edges[0], "node", "id") != fmt.Sprint(ids[0]) {
		t.Fatalf("second page: %v", data)
	}

	data = apptest.Post(t, admin, fmt.Sprintf(`mutation { cancelJob(input: {id: "%d"}) { job { state finalizedAt } } }`, ids[0])).NoErrors(t)
	if apptest.Path(data, "cancelJob", "job", "state") != "CANCELLED" || apptest.Path(data, "cancelJob", "job", "finalizedAt") == nil {
		t.Fatalf("cancelJob: %v", data)
	}
	data = apptest.Post(t, admin, fmt.Sprintf(`mutation { retryJob(input: {id: "%d"}) { job { state } } }`, ids[1])).NoErrors(t)
	if state := apptest.Path(data, "retryJob", "job", "state"); state != "AVAILABLE" && state != "RUNNING" && state != "COMPLETED" {
		t.Fatalf("retryJob: %v", data)
	}

	for _, tt := range []struct{ query, code string }{
		{`mutation { retryJob(input: {id: "999999"}) { job { id } } }`, "NOT_FOUND"},
		{`mutation { cancelJob(input: {id: "x"}) { job { id } } }`, "INVALID_INPUT"},
		{`{ jobs(first: 101) { totalCount } }`, "INVALID_INPUT"},
		{`{ jobs(after: "nope") { totalCount } }`, "INVALID_INPUT"},
	} {
		if e := apptest.Post(t, admin, tt.query).Only(t); e.Code() != tt.code || e.Suggestion() == "" {
			t.Errorf("%s: %s (%q), want %s with a suggestion", tt.query, e.Code(), e.Message, tt.code)
		}
	}

	resp, body := s.Get(t, "/metrics")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `wagraph_jobs{kind="test_chain",state="cancelled"} 1`) {
		t.Fatalf("/metrics lacks the job counts:\n%s", body)
	}
}

type tickArgs struct{}

func (tickArgs) Kind() string { return "test_tick" }

// Two app instances on one Postgres run a periodic job once per period
// between them: only River's elected leader inserts it.
func TestPeriodicJobOncePerPeriodAcrossInstances(t *testing.T) {
	dbURL := storetest.URL(t, store.Postgres)
	const period = time.Second
	ran := make(chan string, 100)
	var servers []*apptest.Server
	for _, name := range []string{"a", "b"} {
		s := apptest.StartConfig(t, apptest.Config(t, apptest.Env{"DATABASE_URL": dbURL}), app.WithJobs(func(r *jobs.Registry) {
			jobs.AddWorker(r, river.WorkFunc(func(ctx context.Context, job *river.Job[tickArgs]) error {
				ran <- name
				return nil
			}))
			r.AddPeriodic(period, func() river.JobArgs { return tickArgs{} }, true)
		}))
		servers = append(servers, s)
	}
	const runs = 4
	for range runs {
		select {
		case <-ran:
		case <-time.After(60 * time.Second):
			t.Fatal("the periodic job stopped running")
		}
	}
	for _, s := range servers {
		if err := s.App.Jobs.Close(); err != nil {
			t.Fatal(err)
		}
	}
	page, err := servers[0].App.Jobs.List(context.Background(), jobs.ListInput{Filter: jobs.Filter{Kind: "test_tick"}, First: new(100)})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[time.Time]int64{}
	for _, j := range page.Jobs {
		p := j.CreatedAt.Truncate(period)
		if other, dup := seen[p]; dup {
			t.Fatalf("jobs %d and %d inserted in the period starting %s; want one per period", other, j.ID, p)
		}
		seen[p] = j.ID
	}
	if len(page.Jobs) < runs {
		t.Fatalf("%d jobs, want at least the %d that ran", len(page.Jobs), runs)
	}
}

// Two app instances on one Postgres run the phone-number repair sweep once
// per period between them (River's leader inserts it; either instance may
// work it), and it repairs an account whichever instance runs its session.
func TestPhoneSweepOncePerPeriodAcrossInstances(t *testing.T) {
	dbURL := storetest.URL(t, store.Postgres)
	const period = time.Second
	env := apptest.Env{"DATABASE_URL": dbURL, "SWEEP_PHONE_NUMBERS_INTERVAL": period.String()}
	var servers []*apptest.Server
	completed := make(chan *river.Event, 100)
	for range 2 {
		s := apptest.StartConfig(t, apptest.Config(t, env))
		events, cancel := s.App.Jobs.Client().Subscribe(river.EventKindJobCompleted)
		t.Cleanup(cancel)
		go func() { // ends when cancel closes events
			for ev := range events {
				if ev.Job.Kind == "sweep_phone_numbers" {
					completed <- ev
				}
			}
		}()
		servers = append(servers, s)
	}
	ctx := context.Background()
	lost, err := servers[0].App.Accounts.Create(ctx, account.CreateInput{Name: "Lost number"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := servers[0].App.DB.NewUpdate().Table("accounts").
		Set("status = ?", account.StatusActive).Set("jid = ?", "15550100201:3@s.whatsapp.net").Set("phone_number = NULL").
		Where("id = ?", lost.ID).Exec(ctx); err != nil {
		t.Fatal(err)
	}

	const runs = 4
	ran := map[int64]int{}
	for range runs {
		select {
		case ev := <-completed:
			ran[ev.Job.ID]++
		case <-time.After(60 * time.Second):
			t.Fatalf("the phone sweep stopped running; runs so far %v", ran)
		}
	}
	for _, s := range servers {
		if err := s.App.Jobs.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for id, n := range ran {
		if n != 1 {
			t.Fatalf("sweep job %d ran %d times, want once", id, n)
		}
	}
	page, err := servers[0].App.Jobs.List(ctx, jobs.ListInput{Filter: jobs.Filter{Kind: "sweep_phone_numbers"}, First: new(100)})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[time.Time]int64{}
	for _, j := range page.Jobs {
		p := j.CreatedAt.Truncate(period)
		if other, dup := seen[p]; dup {
			t.Fatalf("sweep jobs %d and %d inserted in the period starting %s; want one per period", other, j.ID, p)
		}
		seen[p] = j.ID
	}
	if len(page.Jobs) < runs {
		t.Fatalf("%d sweep jobs, want at least the %d that ran", len(page.Jobs), runs)
	}
	got, err := servers[1].App.Accounts.Get(ctx, lost.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PhoneNumber != "+15550100201" {
		t.Fatalf("phone number after the sweeps: %q", got.PhoneNumber)
	}
}
