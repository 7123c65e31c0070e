package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"wagraph/internal/simserver"
	"wagraph/internal/store"
	"wagraph/internal/testproc"
)

// options configure one run.
type options struct {
	// Bin is the built wagraph binary.
	Bin string
	// DatabaseURL is a scratch Postgres database, migrated here.
	DatabaseURL string
	// RedisURL is the instances' Redis; instance ids are unique per run,
	// so runs sharing a Redis do not route to each other.
	RedisURL string
	// Accounts are linked, Instances share them.
	Accounts, Instances int
	// LinkConcurrency is how many accounts are linked at once.
	LinkConcurrency int
	// LeaseTTL, RenewInterval and RestoreConcurrency are the instances'
	// LEASE_TTL, LEASE_RENEW_INTERVAL and RESTORE_CONCURRENCY (zero:
	// wagraph's defaults).
	LeaseTTL, RenewInterval time.Duration
	RestoreConcurrency      int
	// Limit bounds each wait: linking, and the failover itself.
	Limit time.Duration
	// ColdStart, after the failover, stops every instance (SIGTERM) and
	// starts as many new ones together, and measures the restart and its
	// spread.
	ColdStart bool
	// Progress, when set, hears about each phase.
	Progress func(format string, args ...any)
}

// result is what one run measured.
type result struct {
	Accounts, Instances int
	// Linking: wall time until every account was ACTIVE and placed.
	LinkWall time.Duration
	// Before is the spread (accounts per instance) when all were linked.
	Before map[string]int
	// Victim is the instance killed (the one with the most accounts) and
	// Moved how many accounts it ran.
	Victim string
	Moved  int
	// Each is, per moved account, the time from the kill until it was
	// ACTIVE, held by a surviving instance and connected in the simulator;
	// All is when the last one was.
	Each []time.Duration
	All  time.Duration
	// After is the spread once every account was ACTIVE elsewhere.
	After map[string]int
	// Cold start: every instance stopped, as many started together; how
	// long until every account was ACTIVE on them, and the spread then.
	ColdStart       time.Duration
	ColdStartSpread map[string]int
	// Sim is what the simulator counted at the end.
	Sim simserver.Totals
}

// run starts the simulator and the instances, links the accounts, kills
// the busiest instance and measures how long its accounts take to be
// ACTIVE elsewhere. It stops everything it started.
func run(ctx context.Context, o options) (*result, error) {
	progress := o.Progress
	if progress == nil {
		progress = func(string, ...any) {}
	}
	sim, err := testproc.StartSimulator(ctx, o.Bin)
	if err != nil {
		return nil, err
	}
	defer sim.Stop()
	var tag [3]byte
	_, _ = rand.Read(tag[:])
	env := []string{"DATABASE_URL=" + o.DatabaseURL, "REDIS_URL=" + o.RedisURL, "SIMULATE=" + sim.URL(),
		"LOG_FORMAT=json", "LOG_LEVEL=info",
		// Every status change of a thousand accounts reaches each
		// instance's bus at once: no subscriber may be cut off.
		"PUBSUB_BUFFER=" + strconv.Itoa(max(1024, 8*o.Accounts))}
	for k, v := range map[string]string{"LEASE_TTL": dur(o.LeaseTTL), "LEASE_RENEW_INTERVAL": dur(o.RenewInterval), "RESTORE_CONCURRENCY": num(o.RestoreConcurrency)} {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	if _, err := testproc.Command(ctx, o.Bin, env, "migrate"); err != nil {
		return nil, err
	}
	out, err := testproc.Command(ctx, o.Bin, env, "token", "create", "--role", "OPERATOR", "--name", "bench-failover")
	if err != nil {
		return nil, err
	}
	token := strings.TrimSpace(out)
	db, err := store.Open(ctx, o.DatabaseURL, store.Options{MaxOpenConns: 4})
	if err != nil {
		return nil, err
	}
	defer db.Close()

	// The instances start together, as after a deploy of all of them.
	names := make([]string, o.Instances)
	servers := make([]*testproc.Server, o.Instances)
	byName := map[string]*testproc.Server{}
	errs := make([]error, o.Instances)
	var wg sync.WaitGroup
	for i := range servers {
		names[i] = fmt.Sprintf("failover-%s-%d", hex.EncodeToString(tag[:]), i+1)
		wg.Go(func() {
			servers[i], errs[i] = testproc.StartServer(ctx, o.Bin, append(slices.Clone(env), "INSTANCE_ID="+names[i]), 60*time.Second)
		})
	}
	wg.Wait()
	defer func() {
		for _, s := range servers {
			if s != nil {
				_ = s.Stop(30 * time.Second)
			}
		}
	}()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i, s := range servers {
		byName[names[i]] = s
	}
	progress("%d instances up", o.Instances)

	// Each account is created and linked through instance i%n; placement
	// puts its session on the least-loaded instance.
	res := &result{Accounts: o.Accounts, Instances: o.Instances}
	linkStart := time.Now()
	ids, err := link(ctx, servers, sim, token, o.Accounts, o.LinkConcurrency)
	if err != nil {
		return nil, err
	}
	if err := waitUntil(ctx, o.Limit, "every account ACTIVE", func() (bool, error) {
		return testproc.Settled(ctx, db, sim, ids, names)
	}); err != nil {
		return nil, err
	}
	res.LinkWall = time.Since(linkStart)
	if res.Before, err = testproc.Owners(ctx, db); err != nil {
		return nil, err
	}
	progress("%d accounts ACTIVE after %s: %v", o.Accounts, res.LinkWall.Round(time.Millisecond), res.Before)

	// kill -9 of the busiest instance.
	for _, name := range names {
		if res.Victim == "" || res.Before[name] > res.Before[res.Victim] {
			res.Victim = name
		}
	}
	var moved []struct {
		ID  string `bun:"account_id"`
		JID string `bun:"jid"`
	}
	err = db.NewSelect().Table("account_leases").Join("JOIN accounts AS a ON a.id = account_leases.account_id").
		ColumnExpr("account_leases.account_id, a.jid").Where("account_leases.owner = ?", res.Victim).Scan(ctx, &moved)
	if err != nil {
		return nil, err
	}
	res.Moved = len(moved)
	survivors := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == res.Victim })
	jidOf := map[string]string{}
	for _, m := range moved {
		jidOf[m.ID] = m.JID
	}
	progress("kill -9 of %s (%d accounts)", res.Victim, res.Moved)
	killed := time.Now()
	if err := byName[res.Victim].Kill(); err != nil {
		return nil, fmt.Errorf("kill -9 %s: %w", res.Victim, err)
	}
	err = waitUntil(ctx, o.Limit, fmt.Sprintf("the %d accounts of %s ACTIVE elsewhere", res.Moved, res.Victim), func() (bool, error) {
		now := time.Since(killed)
		devs, err := sim.Devices(ctx, "")
		if err != nil {
			return false, err
		}
		if devs.Totals.Replaced != 0 {
			return false, fmt.Errorf("the simulator saw %d replaced streams: an account was connected twice", devs.Totals.Replaced)
		}
		connected := map[string]bool{}
		for _, d := range devs.Devices {
			connected[d.JID] = d.Connected
		}
		placed, err := testproc.Placed(ctx, db, slices.Collect(maps.Keys(jidOf)), survivors)
		if err != nil {
			return false, err
		}
		for _, id := range placed {
			if connected[jidOf[id]] {
				delete(jidOf, id)
				res.Each = append(res.Each, now)
			}
		}
		return len(jidOf) == 0, nil
	})
	if err != nil {
		return res, err
	}
	res.All = time.Since(killed)
	if res.After, err = testproc.Owners(ctx, db); err != nil {
		return res, err
	}
	progress("all ACTIVE elsewhere after %s: %v", res.All.Round(time.Millisecond), res.After)
	if o.ColdStart {
		if err := coldStart(ctx, o, env, db, sim, servers, ids, res); err != nil {
			return res, err
		}
	}
	devs, err := sim.Devices(ctx, "")
	if err != nil {
		return res, err
	}
	res.Sim = devs.Totals
	return res, nil
}

// coldStart stops the running instances together (each drains), starts
// as many new ones together, and measures until every account is ACTIVE
// on them; servers gets the new ones, for the caller to stop.
func coldStart(ctx context.Context, o options, env []string, db *store.DB, sim *testproc.Simulator, servers []*testproc.Server, ids []string, res *result) error {
	var wg sync.WaitGroup
	for i, s := range servers {
		if s == nil {
			continue
		}
		select {
		case <-s.Exited():
			servers[i] = nil
			continue
		default:
		}
		wg.Go(func() { _ = s.Stop(60 * time.Second) })
		servers[i] = nil
	}
	wg.Wait()
	var tag [3]byte
	_, _ = rand.Read(tag[:])
	names := make([]string, o.Instances)
	errs := make([]error, o.Instances)
	started := time.Now()
	for i := range names {
		names[i] = fmt.Sprintf("failover-%s-%d", hex.EncodeToString(tag[:]), i+1)
		wg.Go(func() {
			servers[i], errs[i] = testproc.StartServer(ctx, o.Bin, append(slices.Clone(env), "INSTANCE_ID="+names[i]), 60*time.Second)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := waitUntil(ctx, o.Limit, "every account ACTIVE after the cold start", func() (bool, error) {
		return testproc.Settled(ctx, db, sim, ids, names)
	}); err != nil {
		return err
	}
	res.ColdStart = time.Since(started)
	var err error
	res.ColdStartSpread, err = testproc.Owners(ctx, db)
	return err
}

// link creates n accounts and links them, conc at a time, each through
// instance i%len(servers).
func link(ctx context.Context, servers []*testproc.Server, sim *testproc.Simulator, token string, n, conc int) ([]string, error) {
	ids := make([]string, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s := servers[i%len(servers)]
			id, err := s.CreateAccount(ctx, token, fmt.Sprintf("Failover %d", i))
			if err == nil {
				ids[i] = id
				err = s.Link(ctx, sim, token, id)
			}
			if err != nil {
				errs <- fmt.Errorf("account %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return ids, errors.Join(all...)
}

// waitUntil polls cond every 100 ms until it holds, an error, or limit.
func waitUntil(ctx context.Context, limit time.Duration, what string, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not within %s: %s", limit, what)
		case <-tick.C:
		}
	}
}

func dur(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return d.String()
}

func num(n int) string {
	if n <= 0 {
		return ""
	}
	return strconv.Itoa(n)
}
