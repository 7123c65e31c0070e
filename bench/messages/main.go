// Command messages drains batches of messages through wagraph's send
// queue — message.Service's River jobs, the limits, whatsapp.Manager and
// unmodified whatsmeow — against the in-process protocol simulator, whose
// phones decrypt every message, and prints messages per second.
//
//	go run ./bench/messages                     # 50 accounts × 200 recipients = 10,000 messages, SQLite
//	go run ./bench/messages -database postgres://user:pass@host/scratch
//
// The limits are raised out of the way (the pacing is what the limiter
// tests measure); what is measured is the queue: a job per message, the
// admission, the WhatsApp lookup (cached, one query per 50 recipients), the
// send with its Signal encryption, and the writes that record it. The exit
// status is 1 when the rate is below -goal.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/message"
	"wagraph/internal/wasim"
)

func main() {
	accounts := flag.Int("accounts", 50, "accounts sending, one batch each")
	recipients := flag.Int("recipients", 200, "recipients of each batch")
	workers := flag.Int("workers", 10, "jobs of River's default queue at once (JOB_WORKERS)")
	laneWorkers := flag.Int("lane-workers", message.DefaultLaneWorkers, "send jobs at once in each of the send lanes (SEND_LANE_WORKERS)")
	pool := flag.Int("pool", 0, "database connections (0: the server's default, 8 for SQLite and 20 for Postgres)")
	dbURL := flag.String("database", "", "Postgres URL of a scratch database (default: SQLite in a temporary directory)")
	goal := flag.Float64("goal", 500, "messages per second to reach")
	verbose := flag.Bool("v", false, "log warnings")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the drain to this file")
	traceFile := flag.String("trace", "", "write an execution trace of the drain to this file (go tool trace)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opts := options{Accounts: *accounts, Recipients: *recipients, Workers: *workers, LaneWorkers: *laneWorkers, DatabaseURL: *dbURL, Pool: *pool, RootKey: wasim.NewRootKey(), Log: zerolog.Nop()}
	if *verbose {
		opts.Log = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	}
	if opts.DatabaseURL == "" {
		dir, err := os.MkdirTemp("", "wagraph-bench-messages")
		if err != nil {
			fmt.Fprintln(os.Stderr, "messages:", err)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
		opts.DatabaseURL = "sqlite:" + filepath.Join(dir, "bench.db")
	}
	for _, out := range []struct {
		path string
		to   *io.Writer
	}{{*cpuProfile, &opts.Profile}, {*traceFile, &opts.Trace}} {
		if out.path == "" {
			continue
		}
		f, err := os.Create(out.path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "messages:", err)
			os.Exit(1)
		}
		defer f.Close()
		*out.to = f
	}
	res, err := run(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "messages:", err)
		os.Exit(1)
	}
	fmt.Printf("%d messages from %d accounts to %d recipients each, %d send lanes × %d workers, GOMAXPROCS %d\n",
		res.Messages, *accounts, *recipients, message.Lanes, *laneWorkers, runtime.GOMAXPROCS(0))
	fmt.Printf("queued in %v; drained in %v: %.0f messages/s (goal %.0f); the phones decrypted %d; CPU %.2f ms per message (%.2f cores)\n",
		res.Queue.Round(1e6), res.Drain.Round(1e6), res.rate(), *goal, res.Delivered,
		float64(res.CPU)/float64(time.Millisecond)/float64(max(res.Sent, 1)), res.CPU.Seconds()/res.Drain.Seconds())
	if res.rate() < *goal || res.Delivered != res.Messages {
		os.Exit(1)
	}
}
