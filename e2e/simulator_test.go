package e2e

import (
	"bufio"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"wagraph/internal/apptest"
	"wagraph/internal/simserver"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
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
// ends and returns a client of its control API.
func startSimulator(t *testing.T, bin string) *simserver.Client {
	t.Helper()
	cmd := exec.Command(bin, "simulator", "--listen", "127.0.0.1:0", "--log-level", "warn")
	cmd.Env = baseEnv()
	logs := &syncBuffer{}
	cmd.Stderr = logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		for sc := bufio.NewScanner(out); sc.Scan(); {
			select {
			case lines <- sc.Text():
			default: // nobody reads once the address is known
			}
		}
	}()
	go func() {
		_ = cmd.Wait() // after the process ended; the reader then sees EOF
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("wagraph simulator logged:\n%s", logs)
		}
	})
	addr := regexp.MustCompile(`SIMULATE=(http://\S+)`)
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("wagraph simulator exited without its address:\n%s", logs)
			}
			if m := addr.FindStringSubmatch(line); m != nil {
				sim, err := simserver.Dial(t.Context(), m[1])
				if err != nil {
					t.Fatal(err)
				}
				return sim
			}
		case <-timeout:
			t.Fatalf("wagraph simulator printed no address within 30s:\n%s", logs)
		}
	}
}

// waitStatusLog waits until the process logged the account's move to a
// status.
func (p *process) waitStatusLog(t *testing.T, accountID, to string, wait time.Duration) {
	t.Helper()
	timeout := time.After(wait)
	for {
		grown := p.logs.grown()
		for line := range strings.Lines(p.logs.String()) {
			if strings.Contains(line, `"account_id":"`+accountID+`"`) && strings.Contains(line, `"to":"`+to+`"`) &&
				strings.Contains(line, `"message":"account status changed"`) {
				return
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("wagraph exited before account %s was %s:\n%s", accountID, to, p.logs)
		case <-timeout:
			t.Fatalf("account %s not %s within %s:\n%s", accountID, to, wait, p.logs)
		case <-grown:
		}
	}
}
