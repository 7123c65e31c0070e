// Command scrapegroups scrapes one account's groups through wagraph's real
// path — the scrape River job, whatsapp.Manager and unmodified whatsmeow —
// against the in-process protocol simulator, and prints how long it took
// and how many group calls reached WhatsApp.
//
//	go run ./bench/scrapegroups                        # 500 groups of 1,000, SQLite in a temp dir
//	go run ./bench/scrapegroups -groups 50 -members 200 -database postgres://user:pass@host/scratch
//
// Each group shares -overlap of its members with the next, so contacts are
// fewer than members; every -lid-every-th group lists its members by LID.
// With -database the rows stay in that database: point it at a scratch one.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/wasim"
	"wagraph/internal/whatsapp"
)

func main() {
	var opts options
	flag.IntVar(&opts.Groups, "groups", 500, "groups the account is in")
	flag.IntVar(&opts.Members, "members", 1000, "members per group, the account not counted")
	flag.Float64Var(&opts.Overlap, "overlap", 0.2, "share of a group's members also in the next group")
	flag.IntVar(&opts.LIDEvery, "lid-every", 5, "every n-th group lists its members by LID (0: none)")
	flag.DurationVar(&opts.Interval, "interval", time.Millisecond, "SCRAPE_GROUP_INTERVAL (the server default is 2s; 1ms measures wagraph itself)")
	flag.StringVar(&opts.DatabaseURL, "database", "", "Postgres URL of a scratch database (default: SQLite in a temporary directory)")
	logLevel := flag.String("log", "disabled", "log level of wagraph's and whatsmeow's logs on stderr (warn, info, debug)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run (simulator included) to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opts.RootKey = wasim.NewRootKey()
	level, err := zerolog.ParseLevel(*logLevel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scrapegroups: -log:", err)
		os.Exit(2)
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	opts.Log = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05.000"}).Level(level).With().Timestamp().Logger()
	if err := measure(ctx, opts, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "scrapegroups:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func measure(ctx context.Context, opts options, w io.Writer) error {
	if opts.Groups <= 0 || opts.Members <= 0 {
		return fmt.Errorf("-groups and -members must be positive")
	}
	dbName := "Postgres"
	if opts.DatabaseURL == "" {
		dir, err := os.MkdirTemp("", "wagraph-scrape-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		opts.DatabaseURL, dbName = "sqlite:"+filepath.Join(dir, "scrape.db"), "SQLite (temporary file)"
	}
	fmt.Fprintf(w, "wagraph scrape: %d groups of %d members (overlap %.0f%%), %s, whatsmeow %s, simulator in-process, interval %v\n",
		opts.Groups, opts.Members, 100*opts.Overlap, dbName, whatsapp.WhatsmeowVersion(), opts.Interval)
	res, err := run(ctx, opts)
	if res != nil {
		j := res.Job
		fmt.Fprintf(w, "groups in the simulator:  %v\n", res.Setup.Round(time.Millisecond))
		fmt.Fprintf(w, "scrape (enqueue → DONE):  %v\n", res.Scrape.Round(time.Millisecond))
		fmt.Fprintf(w, "  of which group list:    %v (enqueue → groups stored)\n", res.List.Round(time.Millisecond))
		fmt.Fprintf(w, "WhatsApp group calls:     %d (1 list + %d groups)\n", res.Calls, j.GroupsDone)
		fmt.Fprintf(w, "members written:          %d (%.0f/s)\n", j.MembersSeen, float64(j.MembersSeen)/res.Scrape.Seconds())
		fmt.Fprintf(w, "contacts created:         %d (in the base: %d), merged %d, without number %d, errors %d\n",
			j.ContactsCreated, res.Contacts, j.ContactsMerged, j.MembersWithoutPhone, j.Errors)
	}
	return err
}
