package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"wagraph/internal/simserver"
)

// `wagraph simulator` prints the address to give instances as SIMULATE,
// serves the control API there until its context ends, and stops cleanly.
func TestSimulatorCommand(t *testing.T) {
	cleanEnv(t, map[string]string{"LOG_FORMAT": "json"})
	ctx, cancel := context.WithCancel(t.Context())
	stdout, stderr := newOutput(), newOutput()
	done := make(chan error, 1)
	state := filepath.Join(t.TempDir(), "simulator.json")
	go func() {
		done <- run(ctx, []string{"simulator", "--listen", "127.0.0.1:0", "--state", state}, stdout, stderr)
	}()
	line := stdout.waitFor(t.Context(), t, "SIMULATE=")
	addr := regexp.MustCompile(`SIMULATE=(http://127\.0\.0\.1:\d+)`).FindStringSubmatch(line)
	if addr == nil {
		t.Fatalf("no SIMULATE=http://127.0.0.1:PORT in %q", line)
	}
	if out := stdout.String(); !strings.Contains(out, "never expose it") || !strings.Contains(out, state) {
		t.Errorf("the start message does not warn against exposing the control API or name the state file:\n%s", out)
	}
	sim, err := simserver.Dial(t.Context(), addr[1])
	if err != nil {
		t.Fatalf("Dial %s: %v", addr[1], err)
	}
	if p, err := sim.NewPhone(t.Context()); err != nil || !strings.HasPrefix(p.Number, "+1555") {
		t.Errorf("NewPhone = %+v, %v", p, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("simulator stopped with %v", err)
	}
	if _, err := net.Dial("tcp", strings.TrimPrefix(addr[1], "http://")); err == nil {
		t.Error("the control API still answers after the simulator stopped")
	}
	if raw, err := os.ReadFile(state); err != nil || !strings.Contains(string(raw), `"phones"`) {
		t.Errorf("state file after the stop: %v %.80q", err, raw)
	}
}

func TestSimulatorCommandRefusesBadArguments(t *testing.T) {
	cleanEnv(t, nil)
	for _, args := range [][]string{{"simulator", "--nonsense"}, {"simulator", "extra"}, {"simulator", "--listen", "nowhere"}} {
		if err := run(t.Context(), args, newOutput(), newOutput()); err == nil {
			t.Errorf("%q started", args)
		}
	}
}

// A server pointed at a simulator that is not there does not start, and
// says which setting is wrong and what to do.
func TestServeWithoutTheSharedSimulator(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cleanEnv(t, map[string]string{"DATABASE_URL": tempDB(t), "LISTEN_ADDR": "127.0.0.1:0", "SIMULATE": addr})
	err = run(t.Context(), nil, newOutput(), newOutput())
	if err == nil || !strings.Contains(err.Error(), "SIMULATE=http://"+addr) || !strings.Contains(err.Error(), "wagraph simulator") {
		t.Fatalf("serve with no simulator at SIMULATE: %v", err)
	}
}
