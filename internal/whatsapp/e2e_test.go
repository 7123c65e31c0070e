package whatsapp_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/account"
	"wagraph/internal/pubsub"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
	"wagraph/internal/supervisor"
	"wagraph/internal/wasim"
	"wagraph/internal/whatsapp"
)

// rootKey signs every test simulator's certificates: whatsmeow trusts one
// root per process, which the first simulated manager sets, as --simulate
// does in the server.
var rootKey = wasim.NewRootKey()

const waitFor = 30 * time.Second

// e2e is the real stack: account service → whatsapp.Manager → unmodified
// whatsmeow → the protocol simulator, over a real database.
type e2e struct {
	t      *testing.T
	db     *store.DB
	bus    *pubsub.Memory
	sim    *wasim.Simulator
	log    zerolog.Logger
	mgr    *whatsapp.Manager
	svc    *account.Service
	sup    *supervisor.Supervisor
	opts   account.Options
	events pubsub.Subscription
}

func newE2E(t *testing.T, db *store.DB, opts ...func(*account.Options)) *e2e {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	if os.Getenv("WASIM_DEBUG") != "" {
		log = log.Level(zerolog.DebugLevel)
	}
	sim, err := wasim.Start(context.Background(), wasim.Options{RootKey: &rootKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	bus := pubsub.NewMemory(pubsub.Options{BufferSize: 1024})
	t.Cleanup(func() { _ = bus.Close() })
	events, err := bus.Subscribe(context.Background(), string(account.AllStatusTopic))
	if err != nil {
		t.Fatal(err)
	}
	e := &e2e{t: t, db: db, bus: bus, sim: sim, log: log, events: events}
	e.opts = account.Options{Logger: log}
	for _, o := range opts {
		o(&e.opts)
	}
	e.start()
	return e
}

// start builds the manager and service as server.go does and starts them.
func (e *e2e) start() {
	e.t.Helper()
	ctx := context.Background()
	container, err := whatsapp.OpenDeviceStore(ctx, e.db, e.log)
	if err != nil {
		e.t.Fatal(err)
	}
	e.svc = account.New(e.db, e.bus, e.opts)
	e.sup = supervisor.New(e.svc, func(sink supervisor.EventSink) supervisor.Sessions {
		e.mgr = whatsapp.NewManager(container, sink, whatsapp.Options{Logger: e.log, Simulator: e.sim})
		return e.mgr
	}, supervisor.Options{Logger: e.log, ReconnectBaseDelay: 100 * time.Millisecond, ReconnectMaxDelay: time.Second})
	if err := e.sup.Start(ctx); err != nil {
		e.t.Fatal(err)
	}
	sup := e.sup
	e.t.Cleanup(func() { _ = sup.Close() })
}

// stop shuts down as the server does: the supervisor records activity, then
// closes the sessions.
func (e *e2e) stop() {
	e.t.Helper()
	if err := e.sup.Close(); err != nil {
		e.t.Fatal(err)
	}
}

// waitStatus reads status events until the account reaches want.
func (e *e2e) waitStatus(id string, want account.Status) account.StatusEvent {
	e.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case m, ok := <-e.events.C():
			if !ok {
				e.t.Fatalf("status subscription ended: %v", e.events.Err())
			}
			ev, err := pubsub.Decode[account.StatusEvent](m)
			if err != nil {
				e.t.Fatal(err)
			}
			if ev.AccountID == id && ev.To == want {
				return ev
			}
		case <-deadline:
			a, _ := e.svc.Get(context.Background(), id)
			e.t.Fatalf("account did not reach %s within %v; it is %+v", want, waitFor, a)
		}
	}
}

// activateQR links a new account through a QR code scanned by a fresh
// simulated phone and waits until it is ACTIVE.
func (e *e2e) activateQR(name string) (*account.Account, *wasim.Phone) {
	e.t.Helper()
	ctx := context.Background()
	a, err := e.svc.Create(ctx, account.CreateInput{Name: name})
	if err != nil {
		e.t.Fatal(err)
	}
	a, err = e.sup.StartActivation(ctx, account.StartActivationInput{AccountID: a.ID, Method: account.MethodQR})
	if err != nil {
		e.t.Fatal(err)
	}
	if a.Status != account.StatusAwaitingScan || a.Activation == nil || a.Activation.QR == nil {
		e.t.Fatalf("after startActivation: %+v with activation %+v; want the first QR code", a, a.Activation)
	}
	phone, err := e.sim.ScanQR(ctx, a.Activation.QR.Code)
	if err != nil {
		e.t.Fatalf("scan: %v", err)
	}
	e.waitStatus(a.ID, account.StatusActive)
	a, err = e.svc.Get(ctx, a.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return a, phone
}

func (e *e2e) history(id string) []account.Status {
	e.t.Helper()
	first := account.MaxPageSize
	page, err := e.svc.History(context.Background(), id, &first, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []account.Status
	for i := len(page.Changes) - 1; i >= 0; i-- {
		out = append(out, page.Changes[i].To)
	}
	return out
}

func TestE2EQRActivationRestartAndLogout(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		e := newE2E(t, db)
		a, phone := e.activateQR("Sales 1")
		if a.PhoneNumber != phone.Number || account.PhoneFromJID(a.JID) != phone.Number {
			t.Fatalf("account phone %q JID %q, want the simulator's %s", a.PhoneNumber, a.JID, phone.Number)
		}
		want := []account.Status{account.StatusPending, account.StatusAwaitingScan, account.StatusAuthenticating, account.StatusWarming, account.StatusActive}
		if h := e.history(a.ID); !slices.Equal(h, want) {
			t.Fatalf("history = %v, want %v", h, want)
		}
		if a.LID == "" || a.Platform == "" {
			t.Fatalf("device details missing: LID %q platform %q", a.LID, a.Platform)
		}

		// Restart: the session is restored from the device store, no new QR.
		e.stop()
		e.start()
		e.waitStatus(a.ID, account.StatusActive)
		h := e.history(a.ID)
		if !slices.Equal(h[len(want):], []account.Status{account.StatusReconnecting, account.StatusActive}) {
			t.Fatalf("history after restart = %v", h)
		}
		if got, _ := e.svc.Get(context.Background(), a.ID); got.Activation != nil || got.PhoneNumber != phone.Number {
			t.Fatalf("restored account = %+v", got)
		}
		if n := len(e.sim.Devices(phone.JID)); n != 1 {
			t.Fatalf("the phone has %d linked devices after restart, want the same single one", n)
		}

		// The phone removes the device: LOGGED_OUT, device store gone.
		if err := e.sim.LogOut(phone.JID); err != nil {
			t.Fatal(err)
		}
		ev := e.waitStatus(a.ID, account.StatusLoggedOut)
		if ev.Reason.Code != account.ReasonWALoggedOut || !strings.Contains(ev.Reason.Message, "401") {
			t.Fatalf("logged out with %+v", ev.Reason)
		}
		// The device is deleted right after the status is recorded (whatsmeow
		// deletes it, and the service makes sure), so allow it a moment.
		deviceGone(t, e.mgr, a.JID)
		// And after another restart it stays logged out.
		e.stop()
		e.start()
		<-e.sup.Restored()
		if got, _ := e.svc.Get(context.Background(), a.ID); got.Status != account.StatusLoggedOut {
			t.Fatalf("after restart: %s", got.Status)
		}
	})
}

func TestE2ETemporaryBan(t *testing.T) {
	e := newE2E(t, storetest.Open(t, store.SQLite))
	a, phone := e.activateQR("Spammy")
	if err := e.sim.TempBan(phone.JID, int(101), time.Hour); err != nil {
		t.Fatal(err)
	}
	ev := e.waitStatus(a.ID, account.StatusBanned)
	if ev.Reason.Code != account.ReasonWATemporaryBan || !strings.Contains(ev.Reason.Message, "101") {
		t.Fatalf("banned with %+v", ev.Reason)
	}
	got, err := e.svc.Get(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(got.BannedUntil); d < 58*time.Minute || d > time.Hour {
		t.Fatalf("banned until %v, want about an hour from now", got.BannedUntil)
	}
	// Until then a restart leaves it banned rather than reconnecting.
	e.stop()
	e.start()
	<-e.sup.Restored()
	if got, _ := e.svc.Get(context.Background(), a.ID); got.Status != account.StatusBanned {
		t.Fatalf("after restart: %s", got.Status)
	}
}

func TestE2EDroppedConnectionReconnects(t *testing.T) {
	e := newE2E(t, storetest.Open(t, store.SQLite))
	a, phone := e.activateQR("Flaky network")
	if err := e.sim.Drop(phone.JID); err != nil {
		t.Fatal(err)
	}
	ev := e.waitStatus(a.ID, account.StatusReconnecting)
	if ev.Reason.Code != account.ReasonWADisconnected {
		t.Fatalf("reconnecting with %+v", ev.Reason)
	}
	e.waitStatus(a.ID, account.StatusActive)
	if !e.sim.Connected(phone.JID) {
		t.Fatal("the simulator does not see the device connected again")
	}
}

func TestE2EStreamReplacedDoesNotReconnect(t *testing.T) {
	e := newE2E(t, storetest.Open(t, store.SQLite))
	a, phone := e.activateQR("Replaced")
	if err := e.sim.ReplaceStream(phone.JID); err != nil {
		t.Fatal(err)
	}
	ev := e.waitStatus(a.ID, account.StatusDisconnected)
	if ev.Reason.Code != account.ReasonWAStreamReplaced {
		t.Fatalf("disconnected with %+v", ev.Reason)
	}
	if _, err := e.sup.Reconnect(context.Background(), a.ID); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(a.ID, account.StatusActive)
}

func TestE2EPairingCode(t *testing.T) {
	e := newE2E(t, storetest.Open(t, store.SQLite))
	ctx := context.Background()
	a, err := e.svc.Create(ctx, account.CreateInput{Name: "By code"})
	if err != nil {
		t.Fatal(err)
	}
	a, err = e.sup.StartActivation(ctx, account.StartActivationInput{AccountID: a.ID, Method: account.MethodPairingCode, PhoneNumber: "+49 151 2345 6789"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Activation == nil || len(a.Activation.PairingCode) < 8 || a.Activation.QR != nil {
		t.Fatalf("activation = %+v, want a pairing code and no QR", a.Activation)
	}
	if err := e.sim.PairWithCode(ctx, "+4915123456789", a.Activation.PairingCode); err != nil {
		t.Fatalf("enter code: %v", err)
	}
	e.waitStatus(a.ID, account.StatusActive)
	got, err := e.svc.Get(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PhoneNumber != "+4915123456789" {
		t.Fatalf("phone = %q", got.PhoneNumber)
	}
}

func TestE2ELogoutAndResetUnlinkOnTheServer(t *testing.T) {
	e := newE2E(t, storetest.Open(t, store.SQLite))
	ctx := context.Background()
	for _, action := range []string{"logout", "reset"} {
		t.Run(action, func(t *testing.T) {
			a, phone := e.activateQR(action)
			var err error
			if action == "logout" {
				_, err = e.sup.Logout(ctx, a.ID)
			} else {
				_, err = e.sup.Reset(ctx, a.ID)
			}
			if err != nil {
				t.Fatal(err)
			}
			if n := len(e.sim.Devices(phone.JID)); n != 0 {
				t.Fatalf("the phone still lists %d linked devices", n)
			}
			if ok, _ := e.mgr.HasDevice(ctx, a.JID); ok {
				t.Fatal("the device store was kept")
			}
			if _, live := e.mgr.Live(a.ID); live {
				t.Fatal("the session is still running")
			}
		})
	}
}

func TestE2EUnreachableAccountStopsAtTheCap(t *testing.T) {
	e := newE2E(t, storetest.Open(t, store.SQLite), func(o *account.Options) { o.MaxReconnectAttempts = 3 })
	a, phone := e.activateQR("Unlucky")
	e.sim.RefuseHandshakes(true)
	if err := e.sim.Drop(phone.JID); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(a.ID, account.StatusReconnecting)
	ev := e.waitStatus(a.ID, account.StatusFailed)
	if ev.Reason.Code != account.ReasonReconnectLimit {
		t.Fatalf("failed with %+v", ev.Reason)
	}
	// It stays down until someone asks; then it comes back.
	e.sim.RefuseHandshakes(false)
	if _, err := e.sup.Reconnect(context.Background(), a.ID); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(a.ID, account.StatusActive)
}

// deviceGone waits until the device store no longer holds jid.
func deviceGone(t *testing.T, mgr *whatsapp.Manager, jid string) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		ok, err := mgr.HasDevice(context.Background(), jid)
		if err == nil && !ok {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("device store still has %s after 10s (%v)", jid, err)
		}
	}
}
