// Command sessions measures one wagraph instance with many linked accounts
// in the shared WhatsApp simulator (`wagraph simulator`, SIMULATE=<address>):
// it links -n accounts through the control API's scans, restarts the
// instance, and reports how long until every account is ACTIVE again and
// the heap per idle session.
//
//	go run ./bench/sessions                  # 1,000 accounts, SQLite in a temp dir
//	go run ./bench/sessions -n 100 -database postgres://user:pass@host/scratch
//
// The simulator runs as a process of its own (built from this module, or
// -wagraph PATH), so the heap measured is wagraph's alone. With -database
// the accounts stay in that database: point it at a scratch one. The exit
// status is 1 unless every account was ACTIVE again within -limit.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/config"
	"wagraph/internal/whatsapp"
)

func main() {
	n := flag.Int("n", 1000, "how many accounts to link and restore")
	dbURL := flag.String("database", "", "Postgres URL of a scratch database (default: SQLite in a temporary directory)")
	linkConc := flag.Int("link-concurrency", 8, "accounts linked at once")
	restoreConc := flag.Int("restore-concurrency", 0, "RESTORE_CONCURRENCY of the instance (default: wagraph's default)")
	limit := flag.Duration("limit", 60*time.Second, "longest the restart may take until every account is ACTIVE")
	idle := flag.Duration("idle", 5*time.Second, "how long the sessions idle before the heap is measured")
	bin := flag.String("wagraph", "", "a built wagraph binary to run the simulator with (default: go build this module)")
	simURL := flag.String("simulate", "", "use the simulator already running at this address instead of starting one")
	verbose := flag.Bool("v", false, "log warnings")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	log := zerolog.Nop()
	if *verbose {
		log = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	}
	opts := options{N: *n, DatabaseURL: *dbURL, SimulatorURL: *simURL, LinkConcurrency: *linkConc,
		RestoreConcurrency: *restoreConc, Limit: *limit, Log: log,
		Progress: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
		}}
	if err := measure(ctx, opts, *bin, *idle, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sessions:", err)
		os.Exit(1)
	}
}

// measure runs the benchmark and writes the report to w.
func measure(ctx context.Context, opts options, bin string, idle time.Duration, w io.Writer) error {
	if opts.N <= 0 || opts.LinkConcurrency <= 0 || opts.RestoreConcurrency < 0 {
		return errors.New("-n and -link-concurrency must be positive")
	}
	if opts.RestoreConcurrency == 0 {
		opts.RestoreConcurrency = defaultRestoreConcurrency()
	}
	dbName := "Postgres"
	if opts.DatabaseURL == "" {
		dir, err := os.MkdirTemp("", "wagraph-sessions-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		opts.DatabaseURL, dbName = "sqlite:"+filepath.Join(dir, "sessions.db"), "SQLite (temporary file)"
	}
	simWhere := "shared simulator at " + opts.SimulatorURL
	if opts.SimulatorURL == "" {
		url, stopSim, err := startSimulator(ctx, bin)
		if err != nil {
			return err
		}
		defer stopSim()
		opts.SimulatorURL, simWhere = url, "`wagraph simulator` in its own process"
	}
	opts.Idle = idle
	fmt.Fprintf(w, "wagraph sessions: %d accounts, one instance, %s, RESTORE_CONCURRENCY=%d, whatsmeow %s, %s, %s, GOMAXPROCS=%d\n",
		opts.N, dbName, opts.RestoreConcurrency, whatsapp.WhatsmeowVersion(), simWhere, runtime.Version(), runtime.GOMAXPROCS(0))
	res, err := run(ctx, opts)
	if res != nil {
		report(w, res, opts.Limit)
	}
	if err != nil {
		return err
	}
	if res.Sim.Replaced > 0 {
		return fmt.Errorf("the simulator counted %d replaced streams", res.Sim.Replaced)
	}
	return nil
}

// defaultRestoreConcurrency is RESTORE_CONCURRENCY's documented default.
func defaultRestoreConcurrency() int {
	for _, s := range config.Settings {
		if s.Env == "RESTORE_CONCURRENCY" {
			n, _ := strconv.Atoi(s.Default)
			return n
		}
	}
	return 1
}

// report prints what the run measured.
func report(w io.Writer, r *result, limit time.Duration) {
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "  %-32s %s\n", label+":", fmt.Sprintf(format, args...))
	}
	fmt.Fprintf(w, "\nlinking (create, startActivation, control-API scan, ACTIVE)\n")
	line("linked", "%d/%d in %v (%.1f/s)", r.Linked, r.N, r.LinkWall.Round(time.Millisecond), float64(r.Linked)/max(r.LinkWall.Seconds(), 1e-9))
	row(w, "scan → ACTIVE", r.LinkEach)
	if r.NewTook == 0 {
		return
	}
	fmt.Fprintf(w, "\nrestart (from app.New until each account is ACTIVE again)\n")
	line("app.New returned after", "%v", r.NewTook.Round(time.Millisecond))
	row(w, "ACTIVE again after", r.ActiveAgain)
	last := time.Duration(0)
	if len(r.ActiveAgain) > 0 {
		last = r.ActiveAgain[len(r.ActiveAgain)-1]
	}
	verdict := "yes"
	if len(r.ActiveAgain) < r.Linked || last > limit {
		verdict = "NO"
	}
	line(fmt.Sprintf("all ACTIVE within %v", limit), "%s (%d/%d, the last after %v)", verdict, len(r.ActiveAgain), r.Linked, last.Round(time.Millisecond))
	if r.Idle.HeapAlloc == 0 {
		return
	}
	n := float64(r.Linked)
	fmt.Fprintf(w, "\nmemory after GC, sessions idle (runtime.MemStats)\n")
	line("heap, no session", "%s", mib(float64(r.Baseline.HeapAlloc)))
	line(fmt.Sprintf("heap, %d sessions", r.Linked), "%s", mib(float64(r.Idle.HeapAlloc)))
	line("heap per session", "%s (%s above the empty instance; goal: at most 5 MiB)",
		mib(float64(r.Idle.HeapAlloc)/n), mib((float64(r.Idle.HeapAlloc)-float64(r.Baseline.HeapAlloc))/n))
	line("heap in use per session", "%s (HeapInuse, spans included)", mib(float64(r.Idle.HeapInuse)/n))
	line("from the OS per session", "%s (Sys: heap, stacks, runtime)", mib(float64(r.Idle.Sys)/n))
	line("goroutines", "%d (%.1f per session)", r.Goroutines, float64(r.Goroutines)/n)
	fmt.Fprintf(w, "\nsimulator: %d devices, %d connected, %d logins, %d replaced streams\n",
		r.Sim.Devices, r.Sim.Connected, r.Sim.Logins, r.Sim.Replaced)
}

func row(w io.Writer, name string, ds []time.Duration) {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	if len(ds) == 0 {
		fmt.Fprintf(w, "  %-32s n=0\n", name+":")
		return
	}
	fmt.Fprintf(w, "  %-32s n=%d min %v p50 %v p90 %v p99 %v max %v\n", name+":", len(ds),
		ms(ds[0]), ms(pct(ds, 50)), ms(pct(ds, 90)), ms(pct(ds, 99)), ms(ds[len(ds)-1]))
}

func pct(sorted []time.Duration, p int) time.Duration {
	i := (p*len(sorted)+99)/100 - 1
	return sorted[max(i, 0)]
}

func ms(d time.Duration) time.Duration {
	if d >= 10*time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Microsecond)
}

func mib(b float64) string { return fmt.Sprintf("%.2f MiB", b/(1<<20)) }

// startSimulator runs `wagraph simulator` (bin, or this module built) on a
// free port and returns its control URL and how to stop it.
func startSimulator(ctx context.Context, bin string) (string, func(), error) {
	var cleanup []func()
	stop := func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}
	if bin == "" {
		dir, err := os.MkdirTemp("", "wagraph-bin-")
		if err != nil {
			return "", nil, err
		}
		cleanup = append(cleanup, func() { os.RemoveAll(dir) })
		bin = filepath.Join(dir, "wagraph")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "wagraph")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			stop()
			return "", nil, fmt.Errorf("go build wagraph: %w", err)
		}
	}
	cmd := exec.Command(bin, "simulator", "--listen", "127.0.0.1:0", "--log-level", "warn")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		stop()
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		stop()
		return "", nil, fmt.Errorf("start %s simulator: %w", bin, err)
	}
	cleanup = append(cleanup, func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	addr := regexp.MustCompile(`SIMULATE=(http://\S+)`)
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if m := addr.FindStringSubmatch(lines.Text()); m != nil {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return m[1], stop, nil
		}
	}
	stop()
	return "", nil, errors.New("the simulator exited without printing its address")
}
