// Command pairings links many WhatsApp accounts in a row through wagraph's
// real path — account.Service, whatsapp.Manager and unmodified whatsmeow —
// against the in-process protocol simulator (internal/wasim), and prints how
// long each took from the scan until the phone number was known and until
// the account was ACTIVE.
//
//	go run ./bench/pairings                  # 100 pairings, SQLite in a temp dir
//	go run ./bench/pairings -n 20 -database postgres://user:pass@host/scratch
//
// With -database the accounts it creates stay in that database: point it at
// a scratch one. The exit status is 1 unless every pairing had the phone
// number and was ACTIVE within -limit of its scan.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/wasim"
	"wagraph/internal/whatsapp"
)

func main() {
	n := flag.Int("n", 100, "how many accounts to link, one after the other")
	dbURL := flag.String("database", "", "Postgres URL of a scratch database (default: SQLite in a temporary directory)")
	limit := flag.Duration("limit", 60*time.Second, "longest a pairing may take from the scan")
	verbose := flag.Bool("v", false, "print every pairing and log warnings")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// whatsmeow trusts one certificate root per process: the simulator's,
	// which the session manager sets up (whatsapp.Options.Simulator).
	root := wasim.NewRootKey()
	opts := options{N: *n, DatabaseURL: *dbURL, Limit: *limit, RootKey: root, Log: zerolog.Nop()}
	if *verbose {
		opts.Log = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	}
	if err := measure(ctx, opts, *verbose, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pairings:", err)
		os.Exit(1)
	}
}

// measure runs the pairings and writes the report to w; with verbose, a line
// per pairing too. An empty opts.DatabaseURL means SQLite in a temporary
// directory. It fails when any pairing missed the target.
func measure(ctx context.Context, opts options, verbose bool, w io.Writer) error {
	if opts.N <= 0 {
		return fmt.Errorf("-n must be positive")
	}
	dbName := "Postgres"
	if opts.DatabaseURL == "" {
		dir, err := os.MkdirTemp("", "wagraph-pairings-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		opts.DatabaseURL, dbName = "sqlite:"+filepath.Join(dir, "pairings.db"), "SQLite (temporary file)"
	}
	if verbose {
		opts.Progress = func(i int, p pairing) {
			fmt.Fprintf(w, "%4d  start %-8v phone %-8v active %-8v %s %s\n", i+1, ms(p.Start), ms(p.ToPhone), ms(p.ToActive), p.Phone, errText(p.Err))
		}
	}
	fmt.Fprintf(w, "wagraph pairings: %d in a row, %s, whatsmeow %s, simulator in-process\n", opts.N, dbName, whatsapp.WhatsmeowVersion())
	began := time.Now()
	results, err := run(ctx, opts)
	if err != nil && len(results) == 0 {
		return err
	}
	report(w, results, opts.Limit, time.Since(began))
	if err != nil {
		return err
	}
	if n := countFailed(results); n > 0 {
		return fmt.Errorf("%d of %d pairings missed the target", n, len(results))
	}
	return nil
}

// report prints the distributions and the target counts.
func report(w io.Writer, results []pairing, limit time.Duration, wall time.Duration) {
	var start, phone, active []time.Duration
	withPhone, onTime, wrong := 0, 0, 0
	for _, p := range results {
		if p.Start > 0 {
			start = append(start, p.Start)
		}
		if p.ToPhone > 0 {
			phone = append(phone, p.ToPhone)
		}
		if p.ToActive > 0 {
			active = append(active, p.ToActive)
		}
		if p.Phone != "" && p.ToPhone > 0 {
			withPhone++
		}
		if p.ok() {
			onTime++
		}
		if p.Phone != "" && p.Phone != p.Want {
			wrong++
		}
	}
	fmt.Fprintf(w, "\n%-30s %6s %8s %8s %8s %8s %8s\n", "", "n", "min", "p50", "p90", "p99", "max")
	row := func(name string, ds []time.Duration) {
		slices.Sort(ds)
		if len(ds) == 0 {
			fmt.Fprintf(w, "%-30s %6d\n", name, 0)
			return
		}
		fmt.Fprintf(w, "%-30s %6d %8v %8v %8v %8v %8v\n", name, len(ds),
			ms(ds[0]), ms(pct(ds, 50)), ms(pct(ds, 90)), ms(pct(ds, 99)), ms(ds[len(ds)-1]))
	}
	row("startActivation → first QR", start)
	row("scan → phone number known", phone)
	row("scan → ACTIVE", active)
	n := len(results)
	fmt.Fprintf(w, "\nwith the phone number:            %d/%d (%.0f%%)\n", withPhone, n, 100*float64(withPhone)/float64(n))
	fmt.Fprintf(w, "right number, ACTIVE within %-5s %d/%d (%.0f%%)\n", fmt.Sprintf("%gs:", limit.Seconds()), onTime, n, 100*float64(onTime)/float64(n))
	fmt.Fprintf(w, "wrong phone number:               %d\n", wrong)
	fmt.Fprintf(w, "wall time:                        %v\n", wall.Round(time.Millisecond))
	for _, p := range results {
		if p.Err != nil {
			fmt.Fprintf(w, "failed: account %s: %v\n", p.AccountID, p.Err)
		}
	}
}

// pct is the nearest-rank percentile of sorted durations.
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

func errText(err error) string {
	if err == nil {
		return ""
	}
	return "error: " + err.Error()
}

func countFailed(results []pairing) int {
	n := 0
	for _, p := range results {
		if !p.ok() {
			n++
		}
	}
	return n
}
