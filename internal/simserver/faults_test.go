package simserver_test

import (
	"testing"
	"time"

	"wagraph/internal/account"
	"wagraph/internal/simserver"
)

// Everything tests do to phones in-process works on an instance's account
// through the control API: linking by pairing code, and each fault with the
// status wagraph gives it (docs/lifecycle.md).
func TestFaultsThroughTheControlAPI(t *testing.T) {
	_, sim := startSim(t)
	s := instance(t, sim.URL(), nil)
	ctx := t.Context()
	events, err := s.App.Bus.Subscribe(ctx, string(account.AllStatusTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()

	a, err := s.App.Accounts.Create(ctx, account.CreateInput{Name: "Faults"})
	if err != nil {
		t.Fatal(err)
	}
	a, err = s.App.Supervisor.StartActivation(ctx, account.StartActivationInput{AccountID: a.ID, Method: account.MethodPairingCode, PhoneNumber: "+49 151 23456789"})
	if err != nil || a.Activation == nil || a.Activation.PairingCode == "" {
		t.Fatalf("StartActivation = %+v, %v; want a pairing code", a, err)
	}
	if err := sim.PairWithCode(ctx, "+49 151 23456789", "WRONGONE"); err == nil {
		t.Fatal("a wrong pairing code was accepted")
	}
	// The wrong code used the session up, as on WhatsApp; ask for a new one.
	a, err = s.App.Supervisor.StartActivation(ctx, account.StartActivationInput{AccountID: a.ID, Method: account.MethodPairingCode, PhoneNumber: "+49 151 23456789"})
	if err != nil {
		t.Fatalf("StartActivation again: %v", err)
	}
	if err := sim.PairWithCode(ctx, "+49 151 23456789", a.Activation.PairingCode); err != nil {
		t.Fatalf("PairWithCode: %v", err)
	}
	waitStatus(t, events, a.ID, a.Version, account.StatusActive)
	a = get(t, s.App.Accounts, a.ID)
	if a.PhoneNumber != "+4915123456789" {
		t.Fatalf("linked by pairing code with %q, want +4915123456789", a.PhoneNumber)
	}

	steps := []struct {
		name  string
		fault func() error
		want  account.Status
	}{
		{"drop", func() error { return sim.Drop(ctx, a.JID) }, account.StatusActive},
		{"replace stream", func() error { return sim.ReplaceStream(ctx, a.JID) }, account.StatusDisconnected},
		{"reconnect", func() error { _, err := s.App.Supervisor.Reconnect(ctx, a.ID); return err }, account.StatusActive},
		{"temporary ban", func() error { return sim.TempBan(ctx, a.JID, 101, time.Hour) }, account.StatusBanned},
	}
	for _, st := range steps {
		before := get(t, s.App.Accounts, a.ID).Version
		if err := st.fault(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		waitStatus(t, events, a.ID, before, st.want)
	}
	for name, call := range map[string]func() error{
		"lift ban":        func() error { return sim.LiftBan(ctx, a.JID) },
		"reject sends":    func() error { return sim.RejectSends(ctx, a.JID, 463) },
		"accept sends":    func() error { return sim.RejectSends(ctx, a.JID, 0) },
		"slow handshakes": func() error { return sim.SetHandshakes(ctx, time.Second, false) },
		"refuse":          func() error { return sim.SetHandshakes(ctx, 0, true) },
		"normal again":    func() error { return sim.SetHandshakes(ctx, 0, false) },
	} {
		if err := call(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	devs, err := sim.Devices(ctx, a.JID)
	if err != nil {
		t.Fatal(err)
	}
	if want := (simserver.Totals{Devices: 1, Connected: 0, Logins: 3, Replaced: 0}); devs.Totals != want {
		t.Errorf("device after the faults: %+v, want %+v (a replace-stream fault is not a second login)", devs.Totals, want)
	}
}

func get(t *testing.T, accounts *account.Service, id string) *account.Account {
	t.Helper()
	a, err := accounts.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
