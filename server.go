// Command wagraph is a GraphQL API for running many WhatsApp accounts.
//
//	wagraph [--listen ADDR] [--simulate]   serve (the default)
//	wagraph migrate                         apply database migrations and exit
//	wagraph simulator [--listen ADDR]       run the WhatsApp simulator for SIMULATE=ADDR
//	wagraph token create --role ROLE [--name NAME]
//	                                        create an API token and print it once
//	wagraph help                            print the usage (also --help, -h)
//
// Configuration comes from the environment; README.md lists every setting.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/app"
	"wagraph/internal/auth"
	"wagraph/internal/config"
	"wagraph/internal/observe"
	"wagraph/internal/store"
)

// gcPercent is the garbage collector's target (GOGC) unless the environment
// sets one. A busy instance's heap is mostly long-lived websocket state, so
// Go's default of 100 makes it collect often for little garbage, and the
// collections' assists show as latency spikes in live views: with 5,000
// websockets, the median p99 of five runs went from 7.6 to 5.2 ms at 200
// (docs/benchmarks.md).
const gcPercent = 200

// tuneGC sets the collector's target to gcPercent unless GOGC is set.
func tuneGC(lookupEnv func(string) (string, bool)) {
	if _, set := lookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
}

func main() {
	tuneGC(os.LookupEnv)
	ctx, stop := interruptContext(func() {
		fmt.Fprintln(os.Stderr, "wagraph: second signal: exiting now")
		os.Exit(1)
	})
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "wagraph:", err)
		os.Exit(1)
	}
}

// interruptContext returns a context cancelled by the first SIGINT or
// SIGTERM, which starts a graceful shutdown (see serveUntilDone); a second
// signal calls force. stop stops listening for signals.
func interruptContext(force func()) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	stopped := make(chan struct{})
	go func() {
		for _, onSignal := range []func(){cancel, force} {
			select {
			case <-sigs:
				onSignal()
			case <-stopped:
				return
			}
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(stopped)
			cancel()
		})
	}
}

// run executes one command until it is done or ctx is cancelled (main cancels
// it on SIGINT/SIGTERM; tests cancel it themselves).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if wantsHelp(args) {
		fmt.Fprint(stdout, usage)
		return nil
	}
	cmd := ""
	if len(args) > 0 && (args[0] == "migrate" || args[0] == "token" || args[0] == "serve" || args[0] == "simulator") {
		cmd, args = args[0], args[1:]
	} else if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		// The flag package would ignore it and start the server instead.
		return fmt.Errorf("unknown command %q; run `wagraph help` for the commands", args[0])
	}
	switch cmd {
	case "migrate":
		return migrate(ctx, args, stderr)
	case "token":
		return token(ctx, args, stdout, stderr)
	case "simulator":
		return simulator(ctx, args, stdout, stderr)
	default:
		return serve(ctx, args, stdout, stderr)
	}
}

// usage is what `wagraph help`, `--help` and `-h` print.
const usage = `wagraph is a GraphQL API for running many WhatsApp accounts.

Usage:
  wagraph [serve] [--listen ADDR] [--log-level LEVEL] [--simulate]
        serve the console on /, GraphQL on /graphql and GraphiQL on /graphiql
        (the default command);
        --simulate runs the built-in WhatsApp simulator instead of WhatsApp;
        SIMULATE=ADDR uses a shared one started with ` + "`wagraph simulator`" + `
  wagraph migrate
        apply pending database migrations and exit
  wagraph simulator [--listen ADDR] [--ws-listen ADDR] [--state FILE] [--first-number DIGITS]
        run the WhatsApp protocol simulator as a process of its own, for tests
        and demos: its control API on ADDR (default 127.0.0.1:7900), which
        wagraph instances use as SIMULATE=ADDR; never expose it. --state keeps
        its phones and devices in FILE across its restarts
  wagraph token create --role VIEWER|OPERATOR|ADMIN [--name NAME]
        create an API token and print it once (the server need not run)
  wagraph help
        print this help (also --help, -h)

Configuration comes from the environment (LISTEN_ADDR, DATABASE_URL,
REDIS_URL, LOG_LEVEL, ...); README.md lists every setting with its default.
`

// wantsHelp reports whether args ask for the usage: `help` as the command,
// or -h/--help anywhere before a "--".
func wantsHelp(args []string) bool {
	if len(args) > 0 && args[0] == "help" {
		return true
	}
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

func setup(args []string, stderr io.Writer) (config.Config, zerolog.Logger, error) {
	cfg, err := config.FromOS(args)
	if err != nil {
		return cfg, zerolog.Nop(), fmt.Errorf("configuration:\n%w", err)
	}
	log, err := observe.NewLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return cfg, log, err
	}
	log.Debug().Fields(cfg.Redacted()).Msg("configuration")
	return cfg, log, nil
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, log, err := setup(args, stderr)
	if err != nil {
		return err
	}
	observe.CaptureLibraryLogs(log)
	if cfg.AuthDisabled {
		log.Warn().Str("listen_addr", cfg.ListenAddr).
			Msg("AUTH IS DISABLED: every request is treated as ADMIN without a token. Never run like this outside your own machine.")
	}
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()

	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server running? set LISTEN_ADDR or --listen)", cfg.ListenAddr, err)
	}
	base := "http://" + ln.Addr().String()
	if !cfg.AuthDisabled {
		secret, err := a.Auth.Bootstrap(ctx)
		if err != nil {
			return err
		}
		if secret != "" {
			// Printed to stdout once, never logged: it is the only copy.
			fmt.Fprintf(stdout, "\nFirst start: created an ADMIN API token. It is shown only this once:\n\n    %s\n\n"+
				"Open %s/ (the console) and sign in with it, or open %s/graphiql and put it in the Headers tab as\n    {\"Authorization\": \"Bearer %s\"}\n\n", secret, base, base, secret)
		}
	}
	fmt.Fprint(stdout, a.SimulateGuide(base)) // empty unless --simulate
	log.Info().Str("graphiql", base+"/graphiql").Str("graphql", base+"/graphql").Str("database", string(a.DB.Kind)).
		Bool("redis", a.Redis != nil).Bool("simulate", cfg.Simulate || cfg.SimulatorURL != "").Msg("wagraph is up")

	return serveUntilDone(ctx, a, ln, log)
}

// serveUntilDone serves until ctx is cancelled (the first SIGINT/SIGTERM),
// then drains: new connections stop, requests in flight finish (up to
// SHUTDOWN_TIMEOUT), websockets are closed by cancelling their base context.
func serveUntilDone(ctx context.Context, a *app.App, ln net.Listener, log zerolog.Logger) error {
	connCtx, cancelConns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelConns()
	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return connCtx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info().Dur("timeout", a.Config.ShutdownTimeout).Msg("shutting down: draining requests (send the signal again to force)")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownTimeout)
	defer cancel()
	cancelConns() // websockets end their subscriptions and close
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn().Err(err).Msg("shutdown timed out; closing remaining connections")
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info().Msg("stopped")
	return nil
}

func migrate(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, log, err := setup(args, stderr)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, cfg.DatabaseURL, store.Options{Debug: cfg.DBDebug, Logger: log})
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	log.Info().Strs("applied", applied).Int("count", len(applied)).Msg("migrations done")
	return nil
}

func token(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: wagraph token create --role VIEWER|OPERATOR|ADMIN [--name NAME]")
	}
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	roleName := fs.String("role", "", "VIEWER, OPERATOR or ADMIN (required)")
	name := fs.String("name", "cli", "who or what will use the token")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	role, err := auth.ParseRole(*roleName)
	if err != nil {
		return err
	}
	cfg, _, err := setup(nil, stderr)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, cfg.DatabaseURL, store.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.CheckSchema(ctx); err != nil {
		return err
	}
	t, secret, err := auth.NewService(db.DB, false).Create(ctx, *name, role)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n", secret)
	fmt.Fprintf(stderr, "created %s token %q (id %s); it is shown only this once\n", t.Role, t.Name, t.ID)
	return nil
}
