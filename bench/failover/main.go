// Command failover measures how fast the accounts of a crashed instance run
// again elsewhere: it starts the shared WhatsApp simulator (`wagraph
// simulator`) and -instances wagraph processes (the built binary) on one
// scratch Postgres database and one Redis, links -accounts accounts so they
// are ACTIVE and spread, kills the instance with the most accounts with
// SIGKILL, and reports the time until every one of its accounts is ACTIVE
// on another instance (per account and for all), the spread before and
// after, and the simulator's count of replaced streams (an account
// connected twice; must be 0). Then (-cold-start) it stops every instance
// and starts as many new ones together: the time until every account is
// ACTIVE again, and how evenly they split them.
//
//	go run ./bench/failover                    # 1,000 accounts, 3 instances
//	go run ./bench/failover -accounts 200 -lease-ttl 10s
//
// The database is created from -database (default TEST_DATABASE_URL; the
// user must be allowed to create databases) and dropped at the end. Redis
// is -redis (default REDIS_URL): the instances get names unique to the
// run, so they route nothing to other users of that Redis. The exit status
// is 1 when the failover took longer than -goal, or failed.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"wagraph/internal/store"
	"wagraph/internal/testproc"
)

func main() {
	accounts := flag.Int("accounts", 1000, "accounts linked and shared by the instances")
	instances := flag.Int("instances", 3, "wagraph processes sharing the accounts")
	dbURL := flag.String("database", os.Getenv("TEST_DATABASE_URL"), "Postgres URL whose user may create databases; a scratch database is made there and dropped")
	redisURL := flag.String("redis", os.Getenv("REDIS_URL"), "Redis URL of the instances")
	ttl := flag.Duration("lease-ttl", 0, "LEASE_TTL of the instances (default: wagraph's, 15s)")
	renew := flag.Duration("lease-renew", 0, "LEASE_RENEW_INTERVAL of the instances (default: wagraph's, TTL/5)")
	restoreConc := flag.Int("restore-concurrency", 0, "RESTORE_CONCURRENCY of the instances (default: wagraph's)")
	linkConc := flag.Int("link-concurrency", 8, "accounts linked at once")
	goal := flag.Duration("goal", 30*time.Second, "longest the failover may take: from kill -9 until all its accounts are ACTIVE elsewhere")
	limit := flag.Duration("limit", 10*time.Minute, "longest any wait (linking, failover) may take before the run fails")
	cold := flag.Bool("cold-start", true, "then stop every instance and start as many together: time until all ACTIVE, and the spread")
	bin := flag.String("wagraph", "", "a built wagraph binary (default: go build this module)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	o := options{Bin: *bin, RedisURL: *redisURL, Accounts: *accounts, Instances: *instances,
		LinkConcurrency: *linkConc, LeaseTTL: *ttl, RenewInterval: *renew, RestoreConcurrency: *restoreConc, Limit: *limit, ColdStart: *cold,
		Progress: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
		}}
	if err := measure(ctx, o, *dbURL, *goal, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "failover:", err)
		os.Exit(1)
	}
}

// measure prepares the binary and the scratch database, runs the
// benchmark, and writes the report to w; an error when the failover failed
// or missed goal.
func measure(ctx context.Context, o options, adminURL string, goal time.Duration, w io.Writer) error {
	switch {
	case o.Accounts < o.Instances || o.Instances < 2 || o.LinkConcurrency <= 0:
		return errors.New("-instances must be at least 2, -accounts at least -instances, -link-concurrency positive")
	case adminURL == "" || !strings.HasPrefix(adminURL, "postgres"):
		return errors.New("-database (or TEST_DATABASE_URL) must be a postgres:// URL: several instances need Postgres")
	case o.RedisURL == "":
		return errors.New("-redis (or REDIS_URL) is required: several instances need Redis")
	}
	if o.Bin == "" {
		dir, err := os.MkdirTemp("", "wagraph-failover-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if o.Bin, err = testproc.Build(ctx, moduleDir(), dir); err != nil {
			return err
		}
	}
	dbURL, drop, err := scratchDatabase(ctx, adminURL)
	if err != nil {
		return err
	}
	defer drop()
	o.DatabaseURL = dbURL
	fmt.Fprintf(w, "wagraph failover: %d accounts, %d instances (built binary), one Postgres, one Redis, `wagraph simulator`; LEASE_TTL=%s LEASE_RENEW_INTERVAL=%s RESTORE_CONCURRENCY=%s; %s, %d CPUs\n",
		o.Accounts, o.Instances, orDefault(dur(o.LeaseTTL)), orDefault(dur(o.RenewInterval)), orDefault(num(o.RestoreConcurrency)), runtime.Version(), runtime.NumCPU())
	res, err := run(ctx, o)
	if res != nil {
		report(w, res, goal)
	}
	if err != nil {
		return err
	}
	if res.Sim.Replaced > 0 {
		return fmt.Errorf("the simulator counted %d replaced streams", res.Sim.Replaced)
	}
	if res.All > goal {
		return fmt.Errorf("failover took %s, above the goal of %s", res.All.Round(time.Millisecond), goal)
	}
	return nil
}

// report prints what the run measured.
func report(w io.Writer, r *result, goal time.Duration) {
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "  %-34s %s\n", label+":", fmt.Sprintf(format, args...))
	}
	if r.LinkWall > 0 {
		line("linked and ACTIVE", "%d accounts in %s", r.Accounts, r.LinkWall.Round(time.Millisecond))
		line("spread", "%s", spread(r.Before))
	}
	if r.Victim == "" {
		return
	}
	fmt.Fprintf(w, "\nkill -9 of %s, which ran %d accounts\n", r.Victim, r.Moved)
	row(w, "ACTIVE elsewhere after", r.Each)
	verdict := "yes"
	if len(r.Each) < r.Moved || r.All > goal || r.All == 0 {
		verdict = "NO"
	}
	line(fmt.Sprintf("all ACTIVE elsewhere within %s", goal), "%s (%d/%d, the last after %s)", verdict, len(r.Each), r.Moved, r.All.Round(time.Millisecond))
	if r.After != nil {
		line("spread after", "%s", spread(r.After))
	}
	if r.ColdStart > 0 {
		fmt.Fprintf(w, "\ncold start: every instance stopped (SIGTERM), %d started together\n", r.Instances)
		line("all ACTIVE again after", "%s", r.ColdStart.Round(time.Millisecond))
		line("spread", "%s", spread(r.ColdStartSpread))
	}
	fmt.Fprintf(w, "\nsimulator: %d devices, %d connected, %d logins, %d replaced streams\n",
		r.Sim.Devices, r.Sim.Connected, r.Sim.Logins, r.Sim.Replaced)
}

func spread(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func row(w io.Writer, name string, ds []time.Duration) {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	if len(ds) == 0 {
		fmt.Fprintf(w, "  %-34s n=0\n", name+":")
		return
	}
	fmt.Fprintf(w, "  %-34s n=%d min %v p50 %v p90 %v p99 %v max %v\n", name+":", len(ds),
		ds[0].Round(time.Millisecond), pct(ds, 50).Round(time.Millisecond), pct(ds, 90).Round(time.Millisecond),
		pct(ds, 99).Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond))
}

func pct(sorted []time.Duration, p int) time.Duration {
	i := (p*len(sorted)+99)/100 - 1
	return sorted[max(i, 0)]
}

func orDefault(s string) string {
	if s == "" {
		return "default"
	}
	return s
}

// moduleDir is the directory of this module's go.mod.
func moduleDir() string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "."
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// scratchDatabase creates a database next to the one adminURL names and
// returns its URL and how to drop it.
func scratchDatabase(ctx context.Context, adminURL string) (string, func(), error) {
	admin, err := store.Open(ctx, adminURL, store.Options{MaxOpenConns: 2})
	if err != nil {
		return "", nil, fmt.Errorf("connect to %s: %w", redactURL(adminURL), err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "wagraph_failover_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		_ = admin.Close()
		return "", nil, fmt.Errorf("create the scratch database: %w", err)
	}
	drop := func() {
		_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		_ = admin.Close()
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		drop()
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "the database"
	}
	return u.Redacted()
}
