package supervisor_test

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/account"
	"wagraph/internal/pubsub"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
	"wagraph/internal/supervisor"
)

// fakeClock is a Clock whose time moves only when a test advances it; due
// timers then run in the test's goroutine, in time order.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at      time.Time
	f       func()
	done    bool
	stopped bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if t.done || t.stopped {
			return false
		}
		t.stopped = true
		return true
	}
}

// Advance moves time forward by d, running every timer that falls due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next *fakeTimer
		live := c.timers[:0]
		for _, t := range c.timers {
			if t.done || t.stopped {
				continue
			}
			live = append(live, t)
			if !t.at.After(target) && (next == nil || t.at.Before(next.at)) {
				next = t
			}
		}
		c.timers = live
		if next == nil {
			c.now = target
			c.mu.Unlock()
			return
		}
		next.done = true
		if next.at.After(c.now) {
			c.now = next.at
		}
		c.mu.Unlock()
		next.f()
	}
}

// fakeSessions is a Sessions that records calls and lets tests emit events.
type fakeSessions struct {
	mu       sync.Mutex
	devices  map[string]bool               // stored devices by JID
	refs     map[string]account.SessionRef // the latest session per account
	sink     supervisor.EventSink
	live     map[string]account.Device // running sessions per account
	online   map[string]bool           // running sessions that are logged in
	stored   map[string]account.Device // whatsmeow's stored devices by JID or LID
	starts   []supervisor.StartRequest // every Start, in order
	stops    []string                  // account ids
	logouts  []string                  // JIDs
	startErr func(supervisor.StartRequest) error
	// onStart returns the events a login session emits as it starts
	// (synchronously, before Start returns). Default: Connected. A pairing
	// returns a QR code or pairing code.
	onStart func(supervisor.StartRequest) []account.SessionEvent
	clock   *fakeClock
}

func newFakeSessions(clock *fakeClock) *fakeSessions {
	return &fakeSessions{
		devices: map[string]bool{},
		refs:    map[string]account.SessionRef{},
		live:    map[string]account.Device{},
		online:  map[string]bool{},
		stored:  map[string]account.Device{},
		clock:   clock,
	}
}

func (f *fakeSessions) defaultEvents(req supervisor.StartRequest) []account.SessionEvent {
	switch {
	case req.JID != "":
		return []account.SessionEvent{account.Connected{Device: account.Device{JID: req.JID}}}
	case req.Method == account.MethodPairingCode:
		return []account.SessionEvent{account.PairingCode{Code: "ABCD-EFGH", ExpiresAt: f.clock.Now().Add(160 * time.Second)}}
	default:
		return []account.SessionEvent{account.QRCode{Code: "qr-1", ExpiresAt: f.clock.Now().Add(60 * time.Second)}}
	}
}

func (f *fakeSessions) Start(ctx context.Context, req supervisor.StartRequest) (account.SessionEvent, error) {
	f.mu.Lock()
	f.starts = append(f.starts, req)
	if f.startErr != nil {
		if err := f.startErr(req); err != nil {
			f.mu.Unlock()
			return nil, err
		}
	}
	if req.JID != "" && !f.devices[req.JID] {
		f.mu.Unlock()
		return nil, supervisor.ErrDeviceMissing
	}
	f.refs[req.AccountID] = req.SessionRef
	f.live[req.AccountID] = account.Device{JID: req.JID}
	onStart, sink := f.onStart, f.sink
	f.mu.Unlock()
	evs := f.defaultEvents(req)
	if req.JID == "" {
		return evs[0], nil
	}
	if onStart != nil {
		evs = onStart(req)
	}
	for _, ev := range evs {
		if err := sink.HandleSessionEvent(ctx, req.SessionRef, ev); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (f *fakeSessions) Stop(_ context.Context, accountID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stops = append(f.stops, accountID)
	delete(f.live, accountID)
	delete(f.online, accountID)
	return nil
}

func (f *fakeSessions) Logout(ctx context.Context, accountID, jid string) error {
	f.mu.Lock()
	f.logouts = append(f.logouts, jid)
	delete(f.devices, jid)
	f.mu.Unlock()
	return f.Stop(ctx, accountID)
}

func (f *fakeSessions) DeleteDevice(_ context.Context, jid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.devices, jid)
	return nil
}

func (f *fakeSessions) HasDevice(_ context.Context, jid string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.devices[jid], nil
}

func (f *fakeSessions) StoredDevice(_ context.Context, jid, lid string) (account.Device, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d, ok := f.stored[jid]; ok && jid != "" {
		return d, nil
	}
	return f.stored[lid], nil
}

// storeDeviceInfo pretends whatsmeow stored a device known under key (a
// JID or a LID) with what d says.
func (f *fakeSessions) storeDeviceInfo(key string, d account.Device) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stored[key] = d
}

func (f *fakeSessions) Live(accountID string) (account.Device, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.live[accountID], f.online[accountID]
}

func (f *fakeSessions) Close(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.live = map[string]account.Device{}
	f.online = map[string]bool{}
	return nil
}

// storeDevice pretends a pairing saved a device.
func (f *fakeSessions) storeDevice(jid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.devices[jid] = true
}

func (f *fakeSessions) setOnline(accountID string, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.online[accountID] = on
}

func (f *fakeSessions) setLive(accountID string, d account.Device) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.live[accountID] = d
}

func (f *fakeSessions) startCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.starts)
}

func (f *fakeSessions) lastStart(t *testing.T) supervisor.StartRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.starts) == 0 {
		t.Fatal("no session was started")
	}
	return f.starts[len(f.starts)-1]
}

func (f *fakeSessions) loggedOut(jid string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, j := range f.logouts {
		if j == jid {
			return true
		}
	}
	return false
}

// emit delivers evt from the account's current session, as the whatsapp
// package would.
func (f *fakeSessions) emit(t *testing.T, accountID string, evt account.SessionEvent) {
	t.Helper()
	if err := f.emitErr(accountID, evt); err != nil {
		t.Fatalf("handle %T: %v", evt, err)
	}
}

func (f *fakeSessions) emitErr(accountID string, evt account.SessionEvent) error {
	f.mu.Lock()
	ref, ok := f.refs[accountID]
	sink := f.sink
	f.mu.Unlock()
	if !ok {
		return errors.New("no session started for " + accountID)
	}
	return sink.HandleSessionEvent(context.Background(), ref, evt)
}

// countingMetrics records Metrics calls.
type countingMetrics struct {
	mu          sync.Mutex
	transitions int
	phone       map[string]int
	timeouts    int
	reconnects  int
	restored    map[string]int
}

func newCountingMetrics() *countingMetrics {
	return &countingMetrics{phone: map[string]int{}, restored: map[string]int{}}
}

func (m *countingMetrics) Transition(account.Status, account.Status, account.ReasonCode) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.transitions++
}

func (m *countingMetrics) PhoneExtracted(result string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.phone[result]++
}

func (m *countingMetrics) ActivationTimedOut() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.timeouts++
}

func (m *countingMetrics) ReconnectScheduled() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reconnects++
}

func (m *countingMetrics) Restored(result string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.restored[result]++
}

func (m *countingMetrics) phoneCount(result string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.phone[result]
}

func (m *countingMetrics) restoredCount(result string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.restored[result]
}

// env is one account service and its supervisor under test, with fakes.
type env struct {
	t        *testing.T
	db       *store.DB
	bus      *pubsub.Memory
	clock    *fakeClock
	sessions *fakeSessions
	metrics  *countingMetrics
	opts     account.Options
	supOpts  supervisor.Options
	svc      *account.Service
	sup      *supervisor.Supervisor
}

func newEnv(t *testing.T, dialect store.Dialect, opts account.Options, supOpts ...supervisor.Options) *env {
	t.Helper()
	return newEnvWithDB(t, storetest.Open(t, dialect), opts, supOpts...)
}

func newEnvWithDB(t *testing.T, db *store.DB, opts account.Options, supOpts ...supervisor.Options) *env {
	t.Helper()
	clock := newFakeClock()
	bus := pubsub.NewMemory(pubsub.Options{BufferSize: 4096})
	t.Cleanup(func() { _ = bus.Close() })
	e := &env{t: t, db: db, bus: bus, clock: clock, sessions: newFakeSessions(clock), metrics: newCountingMetrics()}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	opts.Clock = clock
	opts.Metrics = e.metrics
	opts.Logger = log
	e.opts = opts
	for _, o := range supOpts {
		e.supOpts = o
	}
	e.supOpts.Clock = clock
	e.supOpts.Logger = log
	if e.supOpts.Jitter == nil {
		e.supOpts.Jitter = func() float64 { return 0.5 }
	}
	e.start()
	return e
}

// build makes a service and supervisor over the env's database, bus and
// fakes, without starting them.
func (e *env) build() {
	e.svc = account.New(e.db, e.bus, e.opts)
	e.sup = supervisor.New(e.svc, func(sink supervisor.EventSink) supervisor.Sessions {
		e.sessions.mu.Lock()
		e.sessions.sink = sink
		e.sessions.mu.Unlock()
		return e.sessions
	}, e.supOpts)
}

// start builds and starts a service and supervisor.
func (e *env) start() {
	e.t.Helper()
	e.build()
	if err := e.sup.Start(context.Background()); err != nil {
		e.t.Fatalf("start: %v", err)
	}
	<-e.sup.Restored()
	sup := e.sup
	e.t.Cleanup(func() { _ = sup.Close() })
}

// sweepTimeouts runs the timeout sweep as the leader's sweep_timeouts job does.
func (e *env) sweepTimeouts() {
	e.t.Helper()
	if err := e.sup.SweepTimeouts(context.Background()); err != nil {
		e.t.Fatalf("timeout sweep: %v", err)
	}
}

// restart closes the supervisor and starts a new one, as a process restart does.
func (e *env) restart() {
	e.t.Helper()
	if err := e.sup.Close(); err != nil {
		e.t.Fatalf("close: %v", err)
	}
	e.start()
}

func (e *env) create(name string) *account.Account {
	e.t.Helper()
	a, err := e.svc.Create(context.Background(), account.CreateInput{Name: name})
	if err != nil {
		e.t.Fatalf("create %q: %v", name, err)
	}
	return a
}

func (e *env) get(id string) *account.Account {
	e.t.Helper()
	a, err := e.svc.Get(context.Background(), id)
	if err != nil {
		e.t.Fatalf("get %s: %v", id, err)
	}
	return a
}

func (e *env) wantStatus(id string, want account.Status, reason account.ReasonCode) *account.Account {
	e.t.Helper()
	a := e.get(id)
	if a.Status != want || (reason != "" && a.Reason.Code != reason) {
		e.t.Fatalf("account %s is %s (%s: %s), want %s (%s)", a.Name, a.Status, a.Reason.Code, a.Reason.Message, want, reason)
	}
	return a
}

func (e *env) startQR(id string) *account.Account {
	e.t.Helper()
	a, err := e.sup.StartActivation(context.Background(), account.StartActivationInput{AccountID: id, Method: account.MethodQR})
	if err != nil {
		e.t.Fatalf("start activation: %v", err)
	}
	return a
}

// activate takes a new account through QR pairing to ACTIVE with jid.
func (e *env) activate(name, jid string) *account.Account {
	e.t.Helper()
	a := e.create(name)
	e.startQR(a.ID)
	e.pair(a.ID, jid)
	e.sessions.emit(e.t, a.ID, account.Connected{Device: account.Device{JID: jid, PushName: name}})
	return e.wantStatus(a.ID, account.StatusActive, account.ReasonConnected)
}

// pair simulates the phone scanning the code: the device is stored and the
// session reports it.
func (e *env) pair(id, jid string) {
	e.t.Helper()
	e.sessions.storeDevice(jid)
	e.sessions.emit(e.t, id, account.Paired{Device: account.Device{JID: jid, LID: "1234567@lid", Platform: "android"}})
}

func (e *env) history(id string) []account.StatusChange {
	e.t.Helper()
	first := account.MaxPageSize
	var all []account.StatusChange
	var after int64
	for {
		page, err := e.svc.History(context.Background(), id, &first, after)
		if err != nil {
			e.t.Fatalf("history: %v", err)
		}
		all = append(all, page.Changes...)
		if !page.HasNextPage {
			break
		}
		after = page.Changes[len(page.Changes)-1].Version
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Version < all[j].Version })
	return all
}

// statuses lists the statuses an account went through, oldest first.
func statuses(h []account.StatusChange) []account.Status {
	out := make([]account.Status, len(h))
	for i, c := range h {
		out[i] = c.To
	}
	return out
}

// subscribe collects the events published on topic.
func subscribe[T any](t *testing.T, bus pubsub.Bus, topic pubsub.Topic[T]) func() []T {
	t.Helper()
	sub, err := bus.Subscribe(context.Background(), string(topic))
	if err != nil {
		t.Fatalf("subscribe %s: %v", topic, err)
	}
	t.Cleanup(sub.Close)
	var got []T
	// Memory delivers during Publish, so everything published before a
	// read is already buffered: drain without waiting.
	return func() []T {
		t.Helper()
		for {
			select {
			case m, ok := <-sub.C():
				if !ok {
					t.Fatalf("subscription to %s ended: %v", topic, sub.Err())
				}
				v, err := pubsub.Decode[T](m)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, v)
			default:
				return got
			}
		}
	}
}
