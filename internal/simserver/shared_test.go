package simserver_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/account"
	"wagraph/internal/app"
	"wagraph/internal/apptest"
	"wagraph/internal/observe"
	"wagraph/internal/pubsub"
	"wagraph/internal/simserver"
	"wagraph/internal/wasim"
	"wagraph/internal/whatsapp"
)

// root signs every test simulator's certificates: whatsmeow trusts one root
// per process, and the apps in this test binary make it trust this one.
var root = wasim.NewRootKey()

const waitTimeout = 30 * time.Second

// startSim runs a simulator with its control API on a free loopback port
// until the test ends.
func startSim(t *testing.T) (*simserver.Server, *simserver.Client) {
	t.Helper()
	srv, err := simserver.Start(context.Background(), simserver.Options{Listen: "127.0.0.1:0", RootKey: &root})
	if err != nil {
		t.Fatalf("simserver.Start: %v", err)
	}
	t.Cleanup(srv.Close)
	c, err := simserver.Dial(t.Context(), srv.URL())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	return srv, c
}

// instance is one wagraph app pointed at the shared simulator.
func instance(t *testing.T, simURL string, env apptest.Env) *apptest.Server {
	t.Helper()
	merged := apptest.Env{"SIMULATE": simURL}
	for k, v := range env {
		merged[k] = v
	}
	return apptest.Start(t, merged)
}

// link creates an account on s and links it by QR; scan is the phone's
// part. It returns the account once ACTIVE.
func link(t *testing.T, s *apptest.Server, scan func(qr string) error) *account.Account {
	t.Helper()
	ctx := t.Context()
	events, err := s.App.Bus.Subscribe(ctx, string(account.AllStatusTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	a, err := s.App.Accounts.Create(ctx, account.CreateInput{Name: "Shared"})
	if err != nil {
		t.Fatal(err)
	}
	a, err = s.App.Supervisor.StartActivation(ctx, account.StartActivationInput{AccountID: a.ID, Method: account.MethodQR})
	if err != nil {
		t.Fatalf("StartActivation: %v", err)
	}
	if a.Activation == nil || a.Activation.QR == nil {
		t.Fatal("StartActivation returned no QR code")
	}
	if err := scan(a.Activation.QR.Code); err != nil {
		t.Fatalf("scan: %v", err)
	}
	waitStatus(t, events, a.ID, a.Version, account.StatusActive)
	a, err = s.App.Accounts.Get(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// waitStatus waits until the account reaches want in an event after
// version; a status outside the way there fails the test.
func waitStatus(t *testing.T, events pubsub.Subscription, id string, after int64, want account.Status) {
	t.Helper()
	timeout := time.After(waitTimeout)
	for {
		select {
		case m, ok := <-events.C():
			if !ok {
				t.Fatalf("status events ended: %v", events.Err())
			}
			ev, err := pubsub.Decode[account.StatusEvent](m)
			if err != nil || ev.AccountID != id || ev.Version <= after {
				continue
			}
			if ev.To == want {
				return
			}
			if ev.To != account.StatusReconnecting && !ev.To.Activating() {
				t.Fatalf("account went to %s (%+v) on its way to %s", ev.To, ev.Reason, want)
			}
		case <-timeout:
			t.Fatalf("account %s not %s within %v", id, want, waitTimeout)
		}
	}
}

// waitRestored waits until a started app has the linked account ACTIVE
// again, in a session newer than the one linked.
func waitRestored(t *testing.T, a *app.App, linked *account.Account) {
	t.Helper()
	events, err := a.Bus.Subscribe(t.Context(), string(account.AllStatusTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	<-a.Supervisor.Restored()
	// Subscribed first, then read: ACTIVE now, or an event brings it.
	got, err := a.Accounts.Get(t.Context(), linked.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != account.StatusActive || got.Version <= linked.Version {
		waitStatus(t, events, linked.ID, max(got.Version, linked.Version), account.StatusActive)
	}
}

// Two instances, each with its own database, use one simulated WhatsApp:
// a phone that linked an account through one links a second device through
// the other, and both are the same phone with two connected devices and no
// stream ever replaced.
func TestTwoInstancesShareOnePhone(t *testing.T) {
	_, sim := startSim(t)
	a := instance(t, sim.URL(), nil)
	b := instance(t, sim.URL(), nil)
	if whatsapp.TrustedRoot() != sim.RootPublicKey() {
		t.Fatal("whatsmeow does not trust the shared simulator's root")
	}

	var phone simserver.Phone
	onA := link(t, a, func(qr string) (err error) { phone, err = sim.ScanQR(t.Context(), qr); return err })
	onB := link(t, b, func(qr string) error { return sim.LinkQR(t.Context(), phone.Number, qr) })
	if onA.PhoneNumber != phone.Number || onB.PhoneNumber != phone.Number || onA.JID == onB.JID {
		t.Fatalf("A: %s %s, B: %s %s; want two devices of phone %s", onA.PhoneNumber, onA.JID, onB.PhoneNumber, onB.JID, phone.Number)
	}
	devs, err := sim.Devices(t.Context(), phone.JID)
	if err != nil {
		t.Fatal(err)
	}
	want := simserver.Totals{Devices: 2, Connected: 2, Logins: 2, Replaced: 0}
	if devs.Totals != want {
		t.Errorf("devices of %s: %+v, want %+v (%+v)", phone.JID, devs.Totals, want, devs.Devices)
	}
	for _, d := range devs.Devices {
		if d.Phone != phone.Number || (d.JID != onA.JID && d.JID != onB.JID) {
			t.Errorf("device %+v is not one of the two accounts' devices %s, %s", d, onA.JID, onB.JID)
		}
	}
	if !strings.Contains(a.App.SimulateGuide("http://x"), sim.URL()+"/v1/scan") {
		t.Errorf("the start-up guide does not say how to scan through the shared simulator:\n%s", a.App.SimulateGuide("http://x"))
	}
}

// The phones live in the simulator process: a restarted wagraph finds its
// linked account's device there and is ACTIVE again without a QR code, and
// the simulator saw a second login of the device, not a replaced stream.
func TestPhonesSurviveARestartOfWagraph(t *testing.T) {
	_, sim := startSim(t)
	cfg := apptest.Config(t, apptest.Env{"SIMULATE": sim.URL()})
	first := apptest.StartConfig(t, cfg)
	linked := link(t, first, func(qr string) error { _, err := sim.ScanQR(t.Context(), qr); return err })
	first.HTTP.Close()
	first.App.Close()

	logs := &apptest.Logs{}
	log, err := observe.NewLogger(logs, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		t.Fatal(err)
	}
	again, err := app.New(t.Context(), cfg, log)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Cleanup(again.Close)
	waitRestored(t, again, linked)
	devs, err := sim.Devices(t.Context(), linked.JID)
	if err != nil {
		t.Fatal(err)
	}
	if want := (simserver.Totals{Devices: 1, Connected: 1, Logins: 2}); devs.Totals != want {
		t.Errorf("device after the restart: %+v, want %+v", devs.Totals, want)
	}
}

// Two instances on one database without leases both run the account: the
// second login replaces the first stream, and the simulator counts it (the
// figure the multi-instance acceptance test asserts is zero).
func TestReplacedStreamsAreCounted(t *testing.T) {
	_, sim := startSim(t)
	cfg := apptest.Config(t, apptest.Env{"SIMULATE": sim.URL()})
	first := apptest.StartConfig(t, cfg)
	linked := link(t, first, func(qr string) error { _, err := sim.ScanQR(t.Context(), qr); return err })
	second := apptest.StartConfig(t, cfg) // restores the same account
	waitRestored(t, second.App, linked)
	devs, err := sim.Devices(t.Context(), linked.JID)
	if err != nil {
		t.Fatal(err)
	}
	if devs.Totals.Replaced != 1 || devs.Totals.Logins != 2 {
		t.Errorf("device run by two instances: %+v, want 2 logins, 1 replaced", devs.Totals)
	}
}

// An instance pointed at an address where no simulator runs refuses to
// start, naming SIMULATE and how to start one.
func TestUnreachableSimulatorStopsTheStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cfg := apptest.Config(t, apptest.Env{"SIMULATE": addr})
	a, err := app.New(t.Context(), cfg, zerolog.Nop())
	if err == nil {
		a.Close()
		t.Fatal("app.New succeeded without a simulator")
	}
	for _, want := range []string{"SIMULATE=http://" + addr, "no simulator answers", "wagraph simulator"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// Control API errors keep their meaning across the process boundary.
func TestControlAPIErrors(t *testing.T) {
	_, sim := startSim(t)
	ctx := t.Context()
	phone, err := sim.NewPhone(ctx)
	if err != nil || !strings.HasPrefix(phone.Number, "+") || !strings.HasSuffix(phone.JID, "@s.whatsapp.net") || !strings.HasSuffix(phone.LID, "@lid") {
		t.Fatalf("NewPhone = %+v, %v", phone, err)
	}
	tests := []struct {
		name   string
		call   func() error
		want   error
		status int
	}{
		{"scan of a malformed QR", func() error { _, err := sim.ScanQR(ctx, "nonsense"); return err }, wasim.ErrBadQR, 400},
		{"scan of a QR nobody shows", func() error {
			_, err := sim.ScanQR(ctx, "2@x,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
			return err
		}, wasim.ErrUnknownQR, 404},
		{"pairing code nobody asked for", func() error { return sim.PairWithCode(ctx, phone.Number, "ABCD-EFGH") }, wasim.ErrNoPairingCode, 404},
		{"drop of a device never linked", func() error { return sim.Drop(ctx, phone.JID) }, wasim.ErrNotConnected, 409},
		{"logout of a device never linked", func() error { return sim.LogOut(ctx, phone.JID) }, wasim.ErrNoDevice, 404},
		{"group of an unknown owner", func() error {
			_, err := sim.AddGroup(ctx, simserver.GroupRequest{Owner: "+19998887777", Name: "G"})
			return err
		}, wasim.ErrBadGroupSpec, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var apiErr *simserver.Error
			if !errors.Is(err, tt.want) || !errors.As(err, &apiErr) || apiErr.Status != tt.status {
				t.Errorf("got %v, want %v with HTTP %d", err, tt.want, tt.status)
			}
		})
	}
	g, err := sim.AddGroup(ctx, simserver.GroupRequest{Owner: phone.Number, Name: "Team",
		Participants: []simserver.Participant{{Phone: "+1 555 000 1234"}, {LID: "99887766554433@lid", Admin: true}}})
	if err != nil || !strings.HasSuffix(g, "@g.us") {
		t.Errorf("AddGroup = %q, %v; want a group JID", g, err)
	}
	if err := sim.SetHandshakes(ctx, 0, false); err != nil {
		t.Errorf("SetHandshakes: %v", err)
	}
}
