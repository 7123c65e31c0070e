package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"wagraph/internal/apptest"
	"wagraph/internal/simserver"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
	"wagraph/internal/testproc"
)

// The built binary's shared simulator: an account linked through one wagraph
// process (its QR code scanned through the simulator's control API) is
// ACTIVE again after that process stopped and another started on the same
// database, without a QR code, because its phone lives in the simulator
// process; the simulator saw the device log in twice and never replaced a
// stream.
func TestSharedSimulatorOutlivesARestartOfWagraph(t *testing.T) {
	dbURL := storetest.URL(t, store.Postgres)
	bin := buildWagraph(t)
	sim := startSimulator(t, bin)
	env := []string{"DATABASE_URL=" + dbURL, "SIMULATE=" + sim.URL(), "LOG_FORMAT=json", "LOG_LEVEL=info"}
	command(t, bin, env, "migrate")
	operator := strings.TrimSpace(command(t, bin, env, "token", "create", "--role", "OPERATOR", "--name", "e2e-operator"))

	first := startProcess(t, bin, env)
	id := first.createAccount(t, operator, "Linked through the shared simulator")
	data := first.post(t, operator, fmt.Sprintf(`mutation { startActivation(input: {accountId: %q, method: QR}) { account { activation { qr { code } } } } }`, id))
	qr, _ := apptest.Path(data, "startActivation", "account", "activation", "qr", "code").(string)
	phone, err := sim.ScanQR(t.Context(), qr)
	if err != nil {
		t.Fatalf("scan through the control API: %v", err)
	}
	first.waitStatusLog(t, id, "ACTIVE", 30*time.Second)
	first.stop(t)

	second := startProcess(t, bin, env)
	second.waitStatusLog(t, id, "ACTIVE", 30*time.Second)
	data = second.post(t, operator, fmt.Sprintf(`{ account(id: %q) { status phoneNumber } }`, id))
	if got := apptest.Path(data, "account"); apptest.Path(got, "status") != "ACTIVE" || apptest.Path(got, "phoneNumber") != phone.Number {
		t.Fatalf("after the restart: %v, want ACTIVE with %s", got, phone.Number)
	}
	devs, err := sim.Devices(t.Context(), phone.JID)
	if err != nil {
		t.Fatal(err)
	}
	if want := (simserver.Totals{Devices: 1, Connected: 1, Logins: 2, Replaced: 0}); devs.Totals != want {
		t.Errorf("simulator after the restart: %+v, want %+v", devs.Totals, want)
	}
}

// startSimulator runs `wagraph simulator` on a free port until the test
// ends and returns it, a client of its control API.
func startSimulator(t *testing.T, bin string) *testproc.Simulator {
	t.Helper()
	sim, err := testproc.StartSimulator(t.Context(), bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sim.Stop()
		if t.Failed() {
			t.Logf("wagraph simulator logged:\n%s", sim.Logs)
		}
	})
	return sim
}

// waitStatusLog waits until the process logged the account's move to a
// status.
func (p *process) waitStatusLog(t *testing.T, accountID, to string, wait time.Duration) {
	t.Helper()
	err := p.WaitLog(t.Context(), wait, `"account_id":"`+accountID+`"`, `"to":"`+to+`"`, `"message":"account status changed"`)
	if err != nil {
		t.Fatal(err)
	}
}
