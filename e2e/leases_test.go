package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"wagraph/internal/apptest"
	"wagraph/internal/simserver"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
	"wagraph/internal/testenv"
	"wagraph/internal/testproc"
)

// Three wagraph processes share one Postgres, one Redis and one simulator.
// Accounts linked through any of them spread evenly, each connected on one
// process only; a mutation sent to a process that does not own the account
// acts on the owner; after kill -9 of one process its accounts are
// connected on the others within 30 s; SIGTERM of another hands its
// accounts over without a QR code. The simulator counts no replaced stream
// throughout: no account was ever connected twice.
//
// LEASE_E2E_ACCOUNTS=1000 runs it with more accounts, for a measurement.
func TestThreeInstancesShareTheAccounts(t *testing.T) {
	accounts := 60
	if n, err := strconv.Atoi(os.Getenv("LEASE_E2E_ACCOUNTS")); err == nil && n >= 3 {
		accounts = n
	}
	dbURL := storetest.URL(t, store.Postgres)
	redis := testenv.StartRedis(t)
	bin := buildWagraph(t)
	sim := startSimulator(t, bin)
	env := []string{"DATABASE_URL=" + dbURL, "REDIS_URL=" + redis.URL(), "SIMULATE=" + sim.URL(),
		"LOG_FORMAT=json", "LOG_LEVEL=info", "LEASE_TTL=10s", "LEASE_RENEW_INTERVAL=2s", "RESTORE_CONCURRENCY=16"}
	command(t, bin, env, "migrate")
	operator := strings.TrimSpace(command(t, bin, env, "token", "create", "--role", "OPERATOR", "--name", "e2e-operator"))
	db, err := store.Open(t.Context(), dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })

	procs := map[string]*process{}
	for _, name := range []string{"p1", "p2", "p3"} {
		procs[name] = startProcess(t, bin, append(env, "INSTANCE_ID="+name))
	}
	order := []*process{procs["p1"], procs["p2"], procs["p3"]}

	ids := make([]string, accounts)
	for i := range ids {
		ids[i] = order[i%3].createAccount(t, operator, fmt.Sprintf("Shared %d", i))
	}
	// Linked a few at a time, each through the process that created it.
	linkStart := time.Now()
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 6)
		errs = make(chan error, accounts)
	)
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			data, err := order[i%3].tryPost(operator, fmt.Sprintf(`mutation { startActivation(input: {accountId: %q, method: QR}) { account { activation { qr { code } } } } }`, id))
			if err != nil {
				errs <- fmt.Errorf("start activation %d: %w", i, err)
				return
			}
			qr, _ := apptest.Path(data, "startActivation", "account", "activation", "qr", "code").(string)
			if _, err := sim.ScanQR(t.Context(), qr); err != nil {
				errs <- fmt.Errorf("scan account %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitSettled(t, db, sim, ids, []string{"p1", "p2", "p3"}, 90*time.Second+time.Duration(accounts)*100*time.Millisecond)
	t.Logf("%d accounts linked and ACTIVE in %s", accounts, time.Since(linkStart).Round(100*time.Millisecond))
	owners := leaseOwners(t, db)
	t.Logf("accounts per instance: %v", owners)
	for _, name := range []string{"p1", "p2", "p3"} {
		if n := owners[name]; n < accounts*9/30 || n > accounts*11/30+1 {
			t.Fatalf("instance %s runs %d accounts, want about %d: %v", name, n, accounts/3, owners)
		}
	}

	// Messages: the send worker runs on any process and sends through the
	// session on the account's owner.
	var msgs []string
	for i := range 6 {
		from, to := ids[i], ids[i+6]
		var phone string
		if err := db.NewSelect().Table("accounts").Column("phone_number").Where("id = ?", to).Scan(t.Context(), &phone); err != nil {
			t.Fatal(err)
		}
		data := order[i%3].post(t, operator, fmt.Sprintf(`mutation { sendMessage(input: {accountId: %q, to: %q, text: "hello %d"}) { message { id } } }`, from, phone, i))
		msgs = append(msgs, apptest.Path(data, "sendMessage", "message", "id").(string))
	}
	waitFor(t, 60*time.Second, "the 6 messages SENT", func() bool {
		for _, id := range msgs {
			data, err := order[0].tryPost(operator, fmt.Sprintf(`{ message(id: %q) { status error { code message } } }`, id))
			if err != nil {
				t.Fatal(err)
			}
			if st := apptest.Path(data, "message", "status"); st == "FAILED" {
				t.Fatalf("message %s failed: %v", id, apptest.Path(data, "message", "error"))
			} else if st != "SENT" {
				return false
			}
		}
		return true
	})
	routed := 0
	for _, p := range order {
		routed += routedSends(t, p)
	}
	t.Logf("6 messages SENT; %d of them sent through another process's session", routed)

	// A reconnect sent to a process that does not own the account runs on
	// its owner: one more login, no replaced stream.
	target := ids[0]
	owner := leaseOwner(t, db, target)
	other := procs["p1"]
	if owner == "p1" {
		other = procs["p2"]
	}
	before := deviceOf(t, sim, db, target)
	other.post(t, operator, fmt.Sprintf(`mutation { reconnectAccount(input: {accountId: %q}) { account { id } } }`, target))
	waitFor(t, 30*time.Second, "the routed reconnect to log in on the owner", func() bool {
		d := deviceOf(t, sim, db, target)
		return d.Logins == before.Logins+1 && d.Connected
	})
	if got := leaseOwner(t, db, target); got != owner {
		t.Fatalf("the routed reconnect moved the account from %s to %s", owner, got)
	}

	// kill -9 of p3: its accounts are connected on p1 and p2 within 30 s.
	killed := time.Now()
	procs["p3"].kill(t)
	waitSettled(t, db, sim, ids, []string{"p1", "p2"}, 30*time.Second)
	t.Logf("kill -9 of p3: all %d accounts connected on p1 and p2 after %s; split %v", accounts, time.Since(killed).Round(100*time.Millisecond), leaseOwners(t, db))

	// SIGTERM of p2: it hands its accounts over; p1 logs them in with the
	// stored devices (no QR code: the scans counted stay the same).
	drained := time.Now()
	procs["p2"].stop(t)
	waitSettled(t, db, sim, ids, []string{"p1"}, 30*time.Second)
	t.Logf("SIGTERM of p2: all accounts connected on p1 after %s", time.Since(drained).Round(100*time.Millisecond))
	devs, err := sim.Devices(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if devs.Totals.Devices != accounts || devs.Totals.Replaced != 0 {
		t.Fatalf("simulator totals %+v: want %d devices (no new link) and no replaced stream", devs.Totals, accounts)
	}
	var active int
	if err := db.NewSelect().Table("accounts").Where("status = 'ACTIVE'").ColumnExpr("count(*)").Scan(t.Context(), &active); err != nil {
		t.Fatal(err)
	}
	if active != accounts {
		t.Fatalf("%d accounts ACTIVE, want %d", active, accounts)
	}
}

// waitSettled waits until every account's lease is held by one of owners,
// every account is ACTIVE, and the simulator has each connected once, with
// no stream ever replaced.
func waitSettled(t *testing.T, db *store.DB, sim *testproc.Simulator, ids []string, owners []string, wait time.Duration) {
	t.Helper()
	waitFor(t, wait, fmt.Sprintf("all %d accounts ACTIVE on %v", len(ids), owners), func() bool {
		ok, err := testproc.Settled(t.Context(), db, sim, ids, owners)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	})
}

func leaseOwners(t *testing.T, db *store.DB) map[string]int {
	t.Helper()
	owners, err := testproc.Owners(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	return owners
}

func leaseOwner(t *testing.T, db *store.DB, id string) string {
	t.Helper()
	owner, err := testproc.Owner(t.Context(), db, id)
	if err != nil {
		t.Fatal(err)
	}
	return owner
}

// deviceOf is the simulator's view of the account's linked device.
func deviceOf(t *testing.T, sim *testproc.Simulator, db *store.DB, id string) simserver.Device {
	t.Helper()
	var jid string
	if err := db.NewSelect().Table("accounts").Column("jid").Where("id = ?", id).Scan(t.Context(), &jid); err != nil {
		t.Fatal(err)
	}
	devs, err := sim.Devices(t.Context(), jid)
	if err != nil || len(devs.Devices) != 1 {
		t.Fatalf("simulator device of %s: %+v, %v", jid, devs, err)
	}
	return devs.Devices[0]
}

// waitFor polls cond every 200 ms until it holds, failing after wait.
func waitFor(t *testing.T, wait time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("not within %s: %s", wait, what)
		case <-tick.C:
		}
	}
}

// tryPost is post for goroutines: errors are returned, not fatal.
func (p *process) tryPost(token, query string) (map[string]any, error) {
	return p.Post(context.Background(), token, query)
}

// routedSends reads how many sends p routed to an owner successfully.
func routedSends(t *testing.T, p *process) int {
	t.Helper()
	resp, err := http.Get(p.Base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, resp.Body); err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(b.String()) {
		if rest, ok := strings.CutPrefix(line, `wagraph_routed_commands_total{kind="send",outcome="ok"} `); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(rest))
			return n
		}
	}
	return 0
}
