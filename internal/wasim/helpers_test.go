package wasim

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	_ "modernc.org/sqlite"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types/events"
	waLog "go.mau.fi/whatsmeow/util/log"
)

// testRootKey signs every test simulator's certificate chain, because
// whatsmeow.WACertPubKey is one variable for the whole test binary.
var testRootKey = NewRootKey()

const waitTimeout = 20 * time.Second

func TestMain(m *testing.M) {
	whatsmeow.WACertPubKey = PublicKey(testRootKey)
	os.Exit(m.Run())
}

// testLogger logs to the test output when WASIM_DEBUG is set.
func testLogger(t *testing.T) zerolog.Logger {
	if os.Getenv("WASIM_DEBUG") == "" {
		return zerolog.Nop()
	}
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.TraceLevel).With().Timestamp().Logger()
}

func waLogger(t *testing.T, module string) waLog.Logger {
	if os.Getenv("WASIM_DEBUG") == "" {
		return waLog.Noop
	}
	return waLog.Stdout(module, "DEBUG", false)
}

// newSim starts a simulator for one test and closes it at the end.
func newSim(t *testing.T) *Simulator {
	t.Helper()
	sim, err := Start(t.Context(), Options{Logger: testLogger(t), RootKey: &testRootKey})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(sim.Close)
	return sim
}

// newContainer opens a whatsmeow device store on a fresh SQLite file.
func newContainer(t *testing.T) *sqlstore.Container {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wa.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatalf("open db: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	container := sqlstore.NewWithDB(db, "sqlite3", waLog.Noop)
	if err := container.Upgrade(context.Background()); err != nil {
		t.Fatalf("upgrade store: %v", err)
	}
	return container
}

// eventLog records a client's events so a test can wait for one.
type eventLog struct {
	mu     sync.Mutex
	events []any
	notify chan struct{}
}

func (l *eventLog) add(evt any) {
	l.mu.Lock()
	l.events = append(l.events, evt)
	old := l.notify
	l.notify = make(chan struct{})
	l.mu.Unlock()
	close(old)
}

// snapshot returns the events so far and a channel closed on the next one.
func (l *eventLog) snapshot() ([]any, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]any(nil), l.events...), l.notify
}

// mark returns a position so waitAfter only sees events from then on.
func (l *eventLog) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.events)
}

// waitFor returns the first event of type T recorded at or after position from.
func waitFor[T any](t *testing.T, l *eventLog, from int) T {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		evts, next := l.snapshot()
		for _, e := range evts[min(from, len(evts)):] {
			if v, ok := e.(T); ok {
				return v
			}
		}
		select {
		case <-next:
		case <-deadline:
			var zero T
			t.Fatalf("timed out waiting for %T; saw %s", zero, describe(evts))
		}
	}
}

// count returns how many events of type T were recorded from position from.
func count[T any](l *eventLog, from int) int {
	evts, _ := l.snapshot()
	n := 0
	for _, e := range evts[min(from, len(evts)):] {
		if _, ok := e.(T); ok {
			n++
		}
	}
	return n
}

func describe(evts []any) string {
	s := ""
	for _, e := range evts {
		s += fmt.Sprintf("%T ", e)
	}
	return s
}

// clientOption adjusts a client before it first connects.
type clientOption func(*whatsmeow.Client)

// noAutoReconnect makes a client stay down after a drop, like a process that
// died with its connection.
func noAutoReconnect(cli *whatsmeow.Client) { cli.EnableAutoReconnect = false }

// newClient builds a whatsmeow client on device, pointed at sim, with its
// events recorded. Connect it with connect(t, cli): it then winds down by
// itself when the test's context ends. The tests never call Disconnect on a
// live client, because whatsmeow's Disconnect races its own socket read loop
// (see Simulator.Close).
func newClient(t *testing.T, sim *Simulator, device *store.Device, opts ...clientOption) (*whatsmeow.Client, *eventLog) {
	t.Helper()
	cli := whatsmeow.NewClient(device, waLogger(t, "client"))
	sim.Configure(cli)
	for _, o := range opts {
		o(cli)
	}
	log := &eventLog{notify: make(chan struct{})}
	cli.AddEventHandler(log.add)
	t.Cleanup(sim.Close)
	return cli, log
}

// connect connects cli for the rest of the test.
func connect(t *testing.T, cli *whatsmeow.Client) {
	t.Helper()
	if err := cli.ConnectContext(t.Context()); err != nil {
		t.Fatalf("Connect: %v", err)
	}
}

// pairedClient links a fresh client to a fresh simulated phone by QR and
// waits until it is logged in.
func pairedClient(t *testing.T, sim *Simulator, opts ...clientOption) (*whatsmeow.Client, *eventLog, *Phone, *sqlstore.Container) {
	t.Helper()
	container := newContainer(t)
	cli, log := newClient(t, sim, container.NewDevice(), opts...)
	qrs, err := cli.GetQRChannel(t.Context())
	if err != nil {
		t.Fatalf("GetQRChannel: %v", err)
	}
	connect(t, cli)
	code := nextQRCode(t, qrs)
	phone, err := sim.ScanQR(t.Context(), code)
	if err != nil {
		t.Fatalf("ScanQR: %v", err)
	}
	waitFor[*events.PairSuccess](t, log, 0)
	waitFor[*events.Connected](t, log, 0)
	return cli, log, phone, container
}

func nextQRCode(t *testing.T, qrs <-chan whatsmeow.QRChannelItem) string {
	t.Helper()
	select {
	case item := <-qrs:
		if item.Event != whatsmeow.QRChannelEventCode {
			t.Fatalf("QR channel gave %q, want a code", item.Event)
		}
		return item.Code
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting for a QR code")
	}
	return ""
}
