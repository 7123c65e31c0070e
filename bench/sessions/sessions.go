package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/account"
	"wagraph/internal/app"
	"wagraph/internal/config"
	"wagraph/internal/pubsub"
	"wagraph/internal/simserver"
)

// options configure one run.
type options struct {
	// N is how many accounts are linked and restored.
	N int
	// DatabaseURL is wagraph's database; it is migrated at start.
	DatabaseURL string
	// SimulatorURL is the control API of the running shared simulator.
	SimulatorURL string
	// LinkConcurrency is how many accounts are linked at once.
	LinkConcurrency int
	// RestoreConcurrency is wagraph's RESTORE_CONCURRENCY.
	RestoreConcurrency int
	// Limit is how long the restart may take until every account is ACTIVE.
	Limit time.Duration
	// Idle is how long the restored sessions idle before the heap is read.
	Idle time.Duration
	Log  zerolog.Logger
	// Progress, when set, hears about each phase.
	Progress func(format string, args ...any)
}

// result is what one run measured.
type result struct {
	N int
	// Linking: wall time and, per account, scan until ACTIVE.
	Linked   int
	LinkWall time.Duration
	LinkEach []time.Duration
	// Heap after GC: of an instance with no session, and of the restarted
	// one with every session idle.
	Baseline, Idle runtime.MemStats
	Goroutines     int
	// Restart: app.New returned (restore decided, connecting begun), the
	// supervisor's restore finished, and each account ACTIVE again, all
	// measured from the start of app.New.
	NewTook, RestoredTook time.Duration
	ActiveAgain           []time.Duration
	// Sim is what the simulator counted after the restart.
	Sim simserver.Totals
}

// instance builds a wagraph app as the server does, pointed at the shared
// simulator.
func instance(ctx context.Context, opts options) (*app.App, error) {
	env := map[string]string{
		"DATABASE_URL":        opts.DatabaseURL,
		"SIMULATE":            opts.SimulatorURL,
		"RESTORE_CONCURRENCY": strconv.Itoa(opts.RestoreConcurrency),
		// One subscriber follows every account's status: it must not be
		// cut off as too slow when a thousand change at once.
		"PUBSUB_BUFFER": strconv.Itoa(8 * opts.N),
		"LOG_LEVEL":     "warn",
	}
	cfg, err := config.Load(nil, func(k string) string { return env[k] })
	if err != nil {
		return nil, err
	}
	return app.New(ctx, cfg, opts.Log)
}

// run links opts.N accounts through one instance, restarts it and waits
// until every account is ACTIVE again, measuring the heap on the way.
func run(ctx context.Context, opts options) (*result, error) {
	sim, err := simserver.Dial(ctx, opts.SimulatorURL)
	if err != nil {
		return nil, err
	}
	res := &result{N: opts.N}
	progress := opts.Progress
	if progress == nil {
		progress = func(string, ...any) {}
	}

	a, err := instance(ctx, opts)
	if err != nil {
		return nil, err
	}
	res.Baseline = memAfterGC()
	progress("linking %d accounts, %d at a time", opts.N, opts.LinkConcurrency)
	began := time.Now()
	versions, each, err := linkAll(ctx, a, sim, opts, progress)
	res.LinkWall, res.LinkEach, res.Linked = time.Since(began), each, len(versions)
	a.Close()
	if err != nil {
		return res, err
	}
	progress("linked %d in %v; restarting", len(versions), res.LinkWall.Round(time.Millisecond))

	start := time.Now()
	a, err = instance(ctx, opts)
	if err != nil {
		return res, fmt.Errorf("restart: %w", err)
	}
	defer a.Close()
	res.NewTook = time.Since(start)
	res.ActiveAgain, err = waitActiveAgain(ctx, a, versions, start, opts.Limit)
	<-a.Supervisor.Restored()
	res.RestoredTook = time.Since(start) // at most the last ACTIVE: restore ends with the last connect
	if err != nil {
		return res, err
	}
	progress("all ACTIVE again after %v; idling %v before measuring the heap", res.ActiveAgain[len(res.ActiveAgain)-1].Round(time.Millisecond), opts.Idle)
	select {
	case <-time.After(opts.Idle):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	res.Idle = memAfterGC()
	res.Goroutines = runtime.NumGoroutine()
	devs, err := sim.Devices(ctx, "")
	if err != nil {
		return res, err
	}
	res.Sim = devs.Totals
	return res, nil
}

// linkAll links opts.N new accounts, LinkConcurrency at a time: each one
// starts a QR activation and a new simulated phone scans the first code
// through the control API. It returns each account's status version once
// ACTIVE, and how long each took from the scan.
func linkAll(ctx context.Context, a *app.App, sim *simserver.Client, opts options, progress func(string, ...any)) (map[string]int64, []time.Duration, error) {
	var (
		mu       sync.Mutex
		versions = map[string]int64{}
		each     []time.Duration
		errs     []error
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	for range opts.LinkConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				id, v, took, err := linkOne(ctx, a, sim, fmt.Sprintf("bench %d", i+1))
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("account %d: %w", i+1, err))
					cancel() // one failure spoils the measurement
				} else {
					versions[id] = v
					each = append(each, took)
					if len(versions)%100 == 0 {
						progress("linked %d", len(versions))
					}
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for i := range opts.N {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return versions, each, errors.Join(errs...)
}

// linkOne creates an account, links it and waits until it is ACTIVE.
func linkOne(ctx context.Context, a *app.App, sim *simserver.Client, name string) (string, int64, time.Duration, error) {
	acc, err := a.Accounts.Create(ctx, account.CreateInput{Name: name})
	if err != nil {
		return "", 0, 0, err
	}
	events, err := a.Bus.Subscribe(ctx, string(account.StatusTopic(acc.ID)))
	if err != nil {
		return "", 0, 0, err
	}
	defer events.Close()
	acc, err = a.Supervisor.StartActivation(ctx, account.StartActivationInput{AccountID: acc.ID, Method: account.MethodQR})
	if err != nil {
		return "", 0, 0, err
	}
	if acc.Activation == nil || acc.Activation.QR == nil {
		return "", 0, 0, errors.New("startActivation returned without a QR code")
	}
	scanned := time.Now()
	if _, err := sim.ScanQR(ctx, acc.Activation.QR.Code); err != nil {
		return "", 0, 0, fmt.Errorf("scan: %w", err)
	}
	timeout := time.NewTimer(60 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case m, ok := <-events.C():
			if !ok {
				return "", 0, 0, fmt.Errorf("status events ended: %w", events.Err())
			}
			ev, err := pubsub.Decode[account.StatusEvent](m)
			if err != nil || ev.Version <= acc.Version {
				continue
			}
			if ev.To == account.StatusActive {
				return acc.ID, ev.Version, time.Since(scanned), nil
			}
			if !ev.To.Activating() {
				return "", 0, 0, fmt.Errorf("went to %s (%s) instead of ACTIVE", ev.To, ev.Reason.Code)
			}
		case <-timeout.C:
			return "", 0, 0, errors.New("not ACTIVE within 60s of the scan")
		case <-ctx.Done():
			return "", 0, 0, ctx.Err()
		}
	}
}

// waitActiveAgain waits until every linked account is ACTIVE in a newer
// version than when it was linked (so after the restart's reconnect), and
// returns how long after start each one got there, sorted.
func waitActiveAgain(ctx context.Context, a *app.App, linked map[string]int64, start time.Time, limit time.Duration) ([]time.Duration, error) {
	events, err := a.Bus.Subscribe(ctx, string(account.AllStatusTopic))
	if err != nil {
		return nil, err
	}
	defer events.Close()
	var times []time.Duration
	waiting := map[string]int64{}
	for id, v := range linked {
		waiting[id] = v
	}
	// Subscribed first, then read: what is ACTIVE already is counted now
	// (at the time of reading), the rest by its event.
	first := account.MaxPageSize
	in := account.ListInput{First: &first}
	for {
		page, err := a.Accounts.List(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, acc := range page.Accounts {
			if v, ok := waiting[acc.ID]; ok && acc.Status == account.StatusActive && acc.Version > v {
				delete(waiting, acc.ID)
				times = append(times, time.Since(start))
			}
		}
		if !page.HasNextPage || len(page.Accounts) == 0 {
			break
		}
		in.AfterID = page.Accounts[len(page.Accounts)-1].ID
	}
	deadline := time.NewTimer(limit - time.Since(start))
	defer deadline.Stop()
	for len(waiting) > 0 {
		select {
		case m, ok := <-events.C():
			if !ok {
				return times, fmt.Errorf("status events ended: %w", events.Err())
			}
			ev, err := pubsub.Decode[account.StatusEvent](m)
			if err != nil {
				continue
			}
			if v, ok := waiting[ev.AccountID]; ok && ev.To == account.StatusActive && ev.Version > v {
				delete(waiting, ev.AccountID)
				times = append(times, time.Since(start))
			}
		case <-deadline.C:
			return times, fmt.Errorf("%d of %d accounts not ACTIVE again within %v of the restart", len(waiting), len(linked), limit)
		case <-ctx.Done():
			return times, ctx.Err()
		}
	}
	return times, nil
}

// memAfterGC reads the memory statistics after two full collections, so
// the heap holds live data only.
func memAfterGC() runtime.MemStats {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m
}
