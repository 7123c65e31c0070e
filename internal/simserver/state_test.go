package simserver_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"wagraph/internal/account"
	"wagraph/internal/apptest"
	"wagraph/internal/simserver"
)

// With a state file the simulator itself can restart: the new process has
// the same keys, websocket address, phones and devices, so a running
// instance reconnects its account without a QR code, and the login counts
// go on.
func TestSimulatorRestartsFromItsStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "simulator.json")
	first, err := simserver.Start(context.Background(), simserver.Options{Listen: "127.0.0.1:0", RootKey: &root, StateFile: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(first.Close)
	sim, err := simserver.Dial(t.Context(), first.URL())
	if err != nil {
		t.Fatal(err)
	}
	s := instance(t, sim.URL(), apptest.Env{"RECONNECT_MAX_ATTEMPTS": "20"})
	var phone simserver.Phone
	linked := link(t, s, func(qr string) (err error) { phone, err = sim.ScanQR(t.Context(), qr); return err })
	group, err := sim.AddGroup(t.Context(), simserver.GroupRequest{Owner: phone.Number, Name: "Kept"})
	if err != nil {
		t.Fatal(err)
	}
	events, err := s.App.Bus.Subscribe(t.Context(), string(account.AllStatusTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()

	first.Close() // the session drops and reconnects with backoff
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v, %v; want it written, readable by its owner only", info, err)
	}
	second, err := simserver.Start(context.Background(), simserver.Options{Listen: "127.0.0.1:0", StateFile: path})
	if err != nil {
		t.Fatalf("restart from the state file: %v", err)
	}
	t.Cleanup(second.Close)
	if second.Sim.Addr() != first.Sim.Addr() || second.Sim.RootPublicKey() != sim.RootPublicKey() {
		t.Fatalf("restarted on %s with another root or address than %s", second.Sim.Addr(), first.Sim.Addr())
	}
	waitStatus(t, events, linked.ID, linked.Version, account.StatusActive)

	again, err := simserver.Dial(t.Context(), second.URL())
	if err != nil {
		t.Fatal(err)
	}
	devs, err := again.Devices(t.Context(), phone.JID)
	if err != nil {
		t.Fatal(err)
	}
	if want := (simserver.Totals{Devices: 1, Connected: 1, Logins: 2}); devs.Totals != want || devs.Devices[0].JID != linked.JID {
		t.Errorf("after the simulator's restart: %+v, want %+v for %s", devs, want, linked.JID)
	}
	// The phone is the same: it can own another group, and the old group's
	// id is not handed out again (ids are random; the owner is checked).
	if g, err := again.AddGroup(t.Context(), simserver.GroupRequest{Owner: phone.Number, Name: "New"}); err != nil || g == group || !strings.HasSuffix(g, "@g.us") {
		t.Errorf("AddGroup for the restored phone = %q, %v", g, err)
	}
	if p, err := again.NewPhone(t.Context()); err != nil || p.Number == phone.Number {
		t.Errorf("NewPhone after the restart = %+v, %v; want a number not handed out before", p, err)
	}
}

// A state file that is not one stops the start with a message saying so.
func TestUnreadableStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "simulator.json")
	if err := os.WriteFile(path, []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := simserver.Start(context.Background(), simserver.Options{Listen: "127.0.0.1:0", StateFile: path})
	if err == nil || !strings.Contains(err.Error(), "is not a simulator's state") {
		t.Fatalf("Start with a broken state file: %v", err)
	}
}
