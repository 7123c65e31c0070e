package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"

	"wagraph/internal/config"
	"wagraph/internal/observe"
	"wagraph/internal/simserver"
)

// simulator runs `wagraph simulator`: the WhatsApp protocol simulator as a
// process of its own, which any number of wagraph instances use with
// SIMULATE=<its address> (docs/simulator.md).
func simulator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", envOr("SIMULATOR_LISTEN", simserver.DefaultListen),
		"control API address (SIMULATOR_LISTEN); wagraph instances use it as SIMULATE")
	wsListen := fs.String("ws-listen", envOr("SIMULATOR_WS_LISTEN", "127.0.0.1:0"),
		"WhatsApp websocket address (SIMULATOR_WS_LISTEN); port 0 picks a free one")
	state := fs.String("state", os.Getenv("SIMULATOR_STATE"),
		"file to keep the phones and devices in across restarts of the simulator (SIMULATOR_STATE; default: memory only)")
	first := fs.String("first-number", "", "first phone number handed out, digits only (default: a random +1555 block)")
	logLevel := fs.String("log-level", envOr("LOG_LEVEL", "info"), "trace, debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("simulator: unexpected argument %q; run `wagraph help`", fs.Arg(0))
	}
	log, err := observe.NewLogger(stderr, *logLevel, envOr("LOG_FORMAT", "console"))
	if err != nil {
		return err
	}
	if *first == "" {
		if *first, err = randomFirstNumber(); err != nil {
			return err
		}
	}
	for _, addr := range []string{*listen, *wsListen} {
		if host, _, err := net.SplitHostPort(addr); err == nil && !config.IsLoopback(host) {
			log.Warn().Str("addr", addr).Msg("the simulator listens beyond this machine: its control API has no authentication " +
				"and lets anyone log out or ban any simulated device. Keep it on 127.0.0.1 or a private test network.")
		}
	}
	srv, err := simserver.Start(ctx, simserver.Options{Listen: *listen, WebsocketListen: *wsListen, FirstNumber: *first, Logger: log, StateFile: *state})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(stdout, "\nWhatsApp simulator: control API %s, websocket %s\n\n"+
		"Point wagraph instances at it:\n    SIMULATE=%s wagraph\n\n"+
		"%s The control API is for tests and demos only and has no\n"+
		"authentication: never expose it (docs/simulator.md).\n\n",
		srv.URL(), srv.Sim.Addr(), srv.URL(), keeps(*state))
	log.Info().Str("control", srv.URL()).Str("websocket", srv.Sim.Addr()).Msg("simulator is up")
	select {
	case <-ctx.Done():
		log.Info().Msg("simulator stopping")
		return nil
	case err := <-srv.Done():
		return err
	}
}

// keeps says where the simulator keeps its phones.
func keeps(state string) string {
	if state == "" {
		return "It keeps its phones and linked devices in memory until it stops (--state FILE keeps them)."
	}
	return "It keeps its phones and linked devices in " + state + " across restarts."
}

// randomFirstNumber picks where phone numbers start: +1 555 and seven
// digits from a random point, so a restarted simulator (which forgot its
// phones) does not hand out the numbers of devices wagraph still stores.
func randomFirstNumber() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(9_000_000))
	if err != nil {
		return "", fmt.Errorf("pick simulated phone numbers: %w", err)
	}
	return fmt.Sprintf("1555%07d", 100_000+n.Int64()), nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
