package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/simserver"
	"wagraph/internal/store/storetest"
	"wagraph/internal/wasim"
)

// root signs the test simulators' certificates: whatsmeow trusts one root
// per process, so every run in this binary shares it.
var root = wasim.NewRootKey()

// The benchmark's loop, short: three accounts linked through the shared
// simulator's control API, the instance restarted, all three ACTIVE again
// with one more login each and no replaced stream, on each database.
func TestRestartWithLinkedAccounts(t *testing.T) {
	srv, err := simserver.Start(context.Background(), simserver.Options{Listen: "127.0.0.1:0", RootKey: &root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	for _, dialect := range storetest.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			before := len(srv.Sim.DeviceList()) // of the dialects run before
			res, err := run(t.Context(), options{
				N: 3, DatabaseURL: storetest.URL(t, dialect), SimulatorURL: srv.URL(), LinkConcurrency: 2,
				RestoreConcurrency: 2, Limit: 30 * time.Second, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Linked != 3 || len(res.LinkEach) != 3 || len(res.ActiveAgain) != 3 {
				t.Fatalf("linked %d, ACTIVE again %d; want 3 and 3", res.Linked, len(res.ActiveAgain))
			}
			if want := (simserver.Totals{Devices: before + 3, Connected: 3, Logins: 2 * (before + 3), Replaced: 0}); res.Sim != want {
				t.Errorf("simulator after the restart: %+v, want %+v", res.Sim, want)
			}
			if res.Idle.HeapAlloc == 0 || res.Baseline.HeapAlloc == 0 {
				t.Errorf("heap not measured: %+v %+v", res.Baseline.HeapAlloc, res.Idle.HeapAlloc)
			}
			var out strings.Builder
			report(&out, res, 30*time.Second)
			for _, want := range []string{"linked:                          3/3 in", "all ACTIVE within 30s:", "yes (3/3, the last after", "heap per session:", "0 replaced streams"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("report lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}
