package wasim

import (
	"errors"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
)

func TestDropReconnects(t *testing.T) {
	sim := newSim(t)
	cli, log, _, _ := pairedClient(t, sim)
	mark := log.mark()
	if err := sim.Drop(*cli.Store.ID); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	waitFor[*events.Disconnected](t, log, mark)
	waitFor[*events.Connected](t, log, mark)
	if !sim.Connected(*cli.Store.ID) {
		t.Fatal("simulator does not see the reconnected device")
	}
}

func TestLogOutWhileConnected(t *testing.T) {
	sim := newSim(t)
	cli, log, phone, _ := pairedClient(t, sim)
	mark := log.mark()
	// A user JID names every linked device of the account.
	if err := sim.LogOut(phone.JID); err != nil {
		t.Fatalf("LogOut: %v", err)
	}
	out := waitFor[*events.LoggedOut](t, log, mark)
	if out.OnConnect {
		t.Error("LoggedOut.OnConnect = true for a live logout")
	}
	if n := len(sim.Devices(phone.JID)); n != 0 {
		t.Errorf("%d devices still linked after LogOut", n)
	}
	if err := sim.LogOut(phone.JID); !errors.Is(err, ErrNoDevice) {
		t.Errorf("second LogOut: err = %v, want ErrNoDevice", err)
	}
	_ = cli
}

func TestLogOutWhileOfflineFailsNextLogin(t *testing.T) {
	sim := newSim(t)
	cli, log, _, container := pairedClient(t, sim, noAutoReconnect)
	jid := *cli.Store.ID
	mark := log.mark()
	if err := sim.Drop(jid); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	waitFor[*events.Disconnected](t, log, mark)
	if err := sim.LogOut(jid); err != nil {
		t.Fatalf("LogOut: %v", err)
	}
	device, err := container.GetDevice(t.Context(), jid)
	if err != nil || device == nil {
		t.Fatalf("GetDevice: %v %v", device, err)
	}
	cli2, log2 := newClient(t, sim, device)
	connect(t, cli2)
	out := waitFor[*events.LoggedOut](t, log2, 0)
	if !out.OnConnect || out.Reason != events.ConnectFailureLoggedOut {
		t.Errorf("LoggedOut = %+v, want on-connect 401", out)
	}
}

func TestReplaceStream(t *testing.T) {
	sim := newSim(t)
	cli, log, _, _ := pairedClient(t, sim)
	mark := log.mark()
	if err := sim.ReplaceStream(*cli.Store.ID); err != nil {
		t.Fatalf("ReplaceStream: %v", err)
	}
	waitFor[*events.StreamReplaced](t, log, mark)
	if err := sim.ReplaceStream(types.NewJID("1", types.DefaultUserServer)); !errors.Is(err, ErrNotConnected) {
		t.Errorf("ReplaceStream of unknown device: err = %v", err)
	}
}

func TestSecondLoginReplacesFirst(t *testing.T) {
	sim := newSim(t)
	cli, log, _, container := pairedClient(t, sim)
	device, err := container.GetDevice(t.Context(), *cli.Store.ID)
	if err != nil {
		t.Fatalf("GetDevice: %v", err)
	}
	mark := log.mark()
	cli2, log2 := newClient(t, sim, device)
	connect(t, cli2)
	waitFor[*events.Connected](t, log2, 0)
	waitFor[*events.StreamReplaced](t, log, mark)
}

func TestTempBan(t *testing.T) {
	sim := newSim(t)
	cli, log, _, container := pairedClient(t, sim)
	jid := *cli.Store.ID
	mark := log.mark()
	if err := sim.TempBan(jid, int(events.TempBanSentToTooManyPeople), time.Hour); err != nil {
		t.Fatalf("TempBan: %v", err)
	}
	ban := waitFor[*events.TemporaryBan](t, log, mark)
	if ban.Code != events.TempBanSentToTooManyPeople {
		t.Errorf("ban code = %v, want %v", ban.Code, events.TempBanSentToTooManyPeople)
	}
	if ban.Expire < 59*time.Minute || ban.Expire > time.Hour {
		t.Errorf("ban expiry = %v, want about an hour", ban.Expire)
	}

	// The ban holds on the next connect, and lifts.
	device, err := container.GetDevice(t.Context(), jid)
	if err != nil {
		t.Fatalf("GetDevice: %v", err)
	}
	cli2, log2 := newClient(t, sim, device)
	connect(t, cli2)
	waitFor[*events.TemporaryBan](t, log2, 0)

	sim.LiftBan(jid)
	cli3, log3 := newClient(t, sim, device)
	connect(t, cli3)
	waitFor[*events.Connected](t, log3, 0)
}

func TestRefusedHandshake(t *testing.T) {
	sim := newSim(t)
	sim.RefuseHandshakes(true)
	cli, log := newClient(t, sim, newContainer(t).NewDevice())
	if err := cli.ConnectContext(t.Context()); err == nil {
		t.Fatal("Connect succeeded while handshakes are refused")
	}
	sim.RefuseHandshakes(false)
	connect(t, cli)
	waitFor[*events.QR](t, log, 0)
}

func TestHandshakeDelay(t *testing.T) {
	sim := newSim(t)
	const delay = 400 * time.Millisecond
	sim.SetHandshakeDelay(delay)
	cli, log := newClient(t, sim, newContainer(t).NewDevice())
	start := time.Now()
	connect(t, cli)
	if took := time.Since(start); took < delay {
		t.Errorf("Connect took %v, want at least the %v handshake delay", took, delay)
	}
	waitFor[*events.QR](t, log, 0)
}

func TestFaultsOnUnknownDevices(t *testing.T) {
	sim := newSim(t)
	nobody := types.JID{User: "19999999999", Device: 3, Server: types.DefaultUserServer}
	if err := sim.Drop(nobody); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Drop: %v", err)
	}
	if err := sim.LogOut(nobody); !errors.Is(err, ErrNoDevice) {
		t.Errorf("LogOut: %v", err)
	}
	if err := sim.TempBan(nobody, 101, time.Minute); !errors.Is(err, ErrNoDevice) {
		t.Errorf("TempBan: %v", err)
	}
	if err := sim.RejectSends(nobody, 463); !errors.Is(err, ErrNoDevice) {
		t.Errorf("RejectSends: %v", err)
	}
}
