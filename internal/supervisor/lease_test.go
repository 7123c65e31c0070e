package supervisor_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"wagraph/internal/account"
	"wagraph/internal/apperr"
	"wagraph/internal/pubsub"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
	"wagraph/internal/supervisor"
	"wagraph/internal/testenv"
)

// Several supervisors in one process share one database, one Redis and one
// fake clock, as instances of one deployment share Postgres and Redis.

const (
	testTTL   = 15 * time.Second
	testRenew = 3 * time.Second
)

type cluster struct {
	t      *testing.T
	db     *store.DB
	clock  *fakeClock
	prefix string
	nodes  []*node
	// devices are the stored devices, shared by every instance.
	devices []string
}

type node struct {
	name     string
	svc      *account.Service
	sup      *supervisor.Supervisor
	sessions *fakeSessions
	router   *supervisor.BusRouter
	metrics  *leaseMetrics
}

func newCluster(t *testing.T, db *store.DB, names ...string) *cluster {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	c := &cluster{t: t, db: db, clock: newFakeClock(), prefix: "wagraph-lease-" + hex.EncodeToString(b[:]) + ":"}
	for _, n := range names {
		c.add(n, supervisor.LeaseOptions{})
	}
	return c
}

// add starts another instance named name (its instance id).
func (c *cluster) add(name string, lo supervisor.LeaseOptions) *node {
	t := c.t
	t.Helper()
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opt)
	t.Cleanup(func() { _ = client.Close() })
	bus := pubsub.NewRedis(client, pubsub.Options{Prefix: c.prefix, BufferSize: 4096})
	t.Cleanup(func() { _ = bus.Close() })
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel).With().Str("node", name).Logger()
	router, err := supervisor.NewBusRouter(context.Background(), bus, name, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = router.Close() })
	n := &node{name: name, sessions: newFakeSessions(c.clock), router: router, metrics: newLeaseMetrics()}
	for _, jid := range c.devices {
		n.sessions.storeDevice(jid)
	}
	n.svc = account.New(c.db, bus, account.Options{Clock: c.clock, Logger: log})
	if lo.DB == nil {
		lo.DB = c.db
	}
	lo.InstanceID, lo.Router, lo.Metrics = name, router, n.metrics
	lo.TTL, lo.RenewInterval = testTTL, testRenew
	n.sup = supervisor.New(n.svc, func(sink supervisor.EventSink) supervisor.Sessions {
		n.sessions.mu.Lock()
		n.sessions.sink = sink
		n.sessions.mu.Unlock()
		return n.sessions
	}, supervisor.Options{Clock: c.clock, Logger: log, Jitter: func() float64 { return 0.5 }, Leases: &lo})
	if err := n.sup.Start(context.Background()); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	<-n.sup.Restored()
	sup := n.sup
	t.Cleanup(func() { _ = sup.Close() })
	c.nodes = append(c.nodes, n)
	return n
}

// tick lets n renewal intervals pass, and waits for what they started.
func (c *cluster) tick(n int) {
	for range n {
		c.clock.Advance(testRenew)
		for _, nd := range c.nodes {
			nd.sup.WaitTakeovers()
			nd.sup.WaitBackground()
		}
	}
}

// storeDevice pretends a pairing saved a device, in the store every
// instance shares.
func (c *cluster) storeDevice(jid string) {
	c.devices = append(c.devices, jid)
	for _, n := range c.nodes {
		n.sessions.storeDevice(jid)
	}
}

// owner is the one instance holding the account's lease; it fails when
// none or several do.
func (c *cluster) owner(id string) *node {
	return c.ownerAmong(c.nodes, id)
}

func (c *cluster) ownerAmong(nodes []*node, id string) *node {
	c.t.Helper()
	var owners []*node
	for _, n := range nodes {
		if slices.Contains(n.sup.Owned(), id) {
			owners = append(owners, n)
		}
	}
	if len(owners) != 1 {
		names := make([]string, len(owners))
		for i, o := range owners {
			names[i] = o.name
		}
		c.t.Fatalf("account %s is held by %v, want exactly one instance", id, names)
	}
	return owners[0]
}

// dbOwner is the owner the account's lease names.
func (c *cluster) dbOwner(id string) string {
	c.t.Helper()
	var owner *string
	err := c.db.NewSelect().Table("account_leases").Column("owner").Where("account_id = ?", id).Scan(context.Background(), &owner)
	if err != nil {
		c.t.Fatal(err)
	}
	if owner == nil {
		return ""
	}
	return *owner
}

// running lists the instances where the account has a session.
func (c *cluster) running(id string) []string {
	var out []string
	for _, n := range c.nodes {
		n.sessions.mu.Lock()
		_, ok := n.sessions.live[id]
		n.sessions.mu.Unlock()
		if ok {
			out = append(out, n.name)
		}
	}
	return out
}

func (c *cluster) get(id string) *account.Account {
	c.t.Helper()
	a, err := c.nodes[0].svc.Get(context.Background(), id)
	if err != nil {
		c.t.Fatal(err)
	}
	return a
}

// activate links a new account, the mutations taken by via: the pairing
// session runs on whichever instance placement picked.
func (c *cluster) activate(via *node, name, jid string) string {
	c.t.Helper()
	ctx := context.Background()
	a, err := via.svc.Create(ctx, account.CreateInput{Name: name})
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := via.sup.StartActivation(ctx, account.StartActivationInput{AccountID: a.ID, Method: account.MethodQR}); err != nil {
		c.t.Fatalf("start activation via %s: %v", via.name, err)
	}
	o := c.owner(a.ID)
	c.storeDevice(jid)
	o.sessions.emit(c.t, a.ID, account.Paired{Device: account.Device{JID: jid}})
	o.sessions.emit(c.t, a.ID, account.Connected{Device: account.Device{JID: jid, PushName: name}})
	if got := c.get(a.ID); got.Status != account.StatusActive {
		c.t.Fatalf("%s is %s, want ACTIVE", name, got.Status)
	}
	return a.ID
}

// checkExclusive fails unless every account in ids is held by one instance
// and runs a session there only.
func (c *cluster) checkExclusive(ids []string) map[string]int {
	c.t.Helper()
	per := map[string]int{}
	for _, id := range ids {
		o := c.owner(id)
		per[o.name]++
		if r := c.running(id); !slices.Equal(r, []string{o.name}) {
			c.t.Fatalf("account %s runs on %v, want only on its owner %s", id, r, o.name)
		}
	}
	return per
}

type leaseMetrics struct {
	mu     sync.Mutex
	owned  int
	taken  map[string]int
	routed map[string]int
}

func newLeaseMetrics() *leaseMetrics {
	return &leaseMetrics{taken: map[string]int{}, routed: map[string]int{}}
}

func (m *leaseMetrics) Owned(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.owned = n
}

func (m *leaseMetrics) TakenOver(reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.taken[reason]++
}

func (m *leaseMetrics) Routed(kind, outcome string, _ time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.routed[kind+" "+outcome]++
}

func (m *leaseMetrics) count(mp func(*leaseMetrics) map[string]int, key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return mp(m)[key]
}

func takenOf(m *leaseMetrics) map[string]int  { return m.taken }
func routedOf(m *leaseMetrics) map[string]int { return m.routed }

func TestLeasesRunEachAccountOnOneInstanceSpreadEvenly(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		c := newCluster(t, db, "a", "b", "c")
		var ids []string
		for i := range 9 {
			ids = append(ids, c.activate(c.nodes[i%3], fmt.Sprintf("Phone %d", i), fmt.Sprintf("1555010%04d:1@s.whatsapp.net", i)))
		}
		per := c.checkExclusive(ids)
		if per["a"] != 3 || per["b"] != 3 || per["c"] != 3 {
			t.Fatalf("accounts per instance %v, want 3 each (least-loaded placement)", per)
		}
		// Renewals go on without moving anything.
		c.tick(10)
		if again := c.checkExclusive(ids); fmt.Sprint(again) != fmt.Sprint(per) {
			t.Fatalf("after renewals %v, before %v: nothing should move", again, per)
		}
		for _, n := range c.nodes {
			if got := n.metrics.count(takenOf, "lapsed") + n.metrics.count(takenOf, "released"); got != 0 {
				t.Fatalf("%s took %d leases over while every owner renewed", n.name, got)
			}
		}
	})
}

func TestLapsedLeaseIsTakenOverAndTheStaleOwnerIsFenced(t *testing.T) {
	c := newCluster(t, storetest.Open(t, store.Postgres), "a", "b", "c")
	var ids []string
	for i := range 6 {
		ids = append(ids, c.activate(c.nodes[i%3], fmt.Sprintf("Phone %d", i), fmt.Sprintf("1555020%04d:1@s.whatsapp.net", i)))
	}
	a := c.nodes[0]
	var onA []string
	for _, id := range ids {
		if c.owner(id) == a {
			onA = append(onA, id)
		}
	}
	if len(onA) != 2 {
		t.Fatalf("a owns %d accounts, want 2", len(onA))
	}
	startsB, startsC := c.nodes[1].sessions.startCount(), c.nodes[2].sessions.startCount()

	// a hangs: its sessions live on, its leases are not renewed.
	a.sup.PauseLeases()
	c.tick(int(testTTL/testRenew) + 3)

	for _, id := range onA {
		// a has not noticed yet (it is hung); the database says who owns it.
		o := c.ownerAmong(c.nodes[1:], id)
		if owner := c.dbOwner(id); owner != o.name {
			t.Fatalf("account %s: the lease names %q, the instance holding it is %s", id, owner, o.name)
		}
		if got := c.get(id); got.Status != account.StatusActive {
			t.Fatalf("taken-over account is %s (%s), want ACTIVE", got.Status, got.Reason.Code)
		}
	}
	var logins []supervisor.StartRequest
	for _, n := range c.nodes[1:] {
		n.sessions.mu.Lock()
		from := startsB
		if n == c.nodes[2] {
			from = startsC
		}
		logins = append(logins, n.sessions.starts[from:]...)
		n.sessions.mu.Unlock()
	}
	if len(logins) != 2 {
		t.Fatalf("sessions started by the takeover: %+v, want 2", logins)
	}
	for _, req := range logins {
		if req.JID == "" || req.Epoch < 2 {
			t.Fatalf("takeover start %+v: want a login with the stored device under a new epoch (no QR)", req)
		}
	}
	if got := c.nodes[1].metrics.count(takenOf, "lapsed") + c.nodes[2].metrics.count(takenOf, "lapsed"); got != 2 {
		t.Fatalf("lapsed takeovers counted: %d, want 2", got)
	}

	// a's session of the first account is still up (a has not noticed) and
	// reports something: the write is refused, a stops its session there.
	id := onA[0]
	before := c.get(id)
	if err := a.sessions.emitErr(id, account.PushNameChanged{PushName: "Stale owner"}); err != nil {
		t.Fatalf("a refused write should stop the session, not fail the event: %v", err)
	}
	a.sup.WaitBackground()
	after := c.get(id)
	if after.PushName == "Stale owner" || after.Revision != before.Revision {
		t.Fatalf("the stale owner's write went through: %+v", after)
	}
	if slices.Contains(a.sup.Owned(), id) || slices.Contains(c.running(id), "a") {
		t.Fatalf("the stale owner still holds or runs %s (running on %v)", id, c.running(id))
	}
	if a.sessions.loggedOut(before.JID) {
		t.Fatal("losing a lease logged the device out")
	}
	c.checkExclusive([]string{id})
}

func TestCommandsAreRoutedToTheOwner(t *testing.T) {
	c := newCluster(t, storetest.Open(t, store.Postgres), "a", "b")
	a, b := c.nodes[0], c.nodes[1]
	ctx := context.Background()
	id := c.activate(a, "Owned by a", "15550300001:1@s.whatsapp.net")
	if c.owner(id) != a {
		t.Fatal("placement should pick the instance that took the mutation when loads are equal")
	}
	startsA, startsB := a.sessions.startCount(), b.sessions.startCount()
	if inst, here, err := b.sup.Owner(ctx, id); err != nil || inst != "a" || here {
		t.Fatalf("b.Owner = %q, %v, %v; want a, not here", inst, here, err)
	}
	if inst, here, err := a.sup.Owner(ctx, id); err != nil || inst != "a" || !here {
		t.Fatalf("a.Owner = %q, %v, %v; want a, here", inst, here, err)
	}

	// A reconnect sent to b runs on a, which has the session.
	got, err := b.sup.Reconnect(ctx, id)
	if err != nil {
		t.Fatalf("reconnect via b: %v", err)
	}
	if got == nil || got.ID != id || got.Status != account.StatusActive {
		t.Fatalf("reconnect via b returned %+v, want the account ACTIVE again", got)
	}
	if a.sessions.startCount() != startsA+1 || b.sessions.startCount() != startsB {
		t.Fatalf("sessions started: a %d→%d, b %d→%d; want one, on the owner a", startsA, a.sessions.startCount(), startsB, b.sessions.startCount())
	}
	if n := b.metrics.count(routedOf, "reconnect ok"); n != 1 {
		t.Fatalf("routed reconnects counted ok: %d", n)
	}

	// The owner's coded error comes back as it is.
	if _, err := a.sup.Logout(ctx, id); err != nil {
		t.Fatal(err)
	}
	_, err = b.sup.Reconnect(ctx, id)
	e, ok := apperr.As(err)
	if !ok || e.Code != apperr.InvalidTransition || e.Suggestion != "Start an activation to link the account to a phone." ||
		!strings.Contains(e.Message, "no linked device") {
		t.Fatalf("routed reconnect of a logged-out account: %v, want a's INVALID_TRANSITION with its suggestion", err)
	}
	if n := b.metrics.count(routedOf, "reconnect error"); n != 1 {
		t.Fatalf("routed errors counted: %d", n)
	}
	_, err = b.sup.Reset(ctx, "no-such-account")
	if apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("reset of a missing account: %v, want NOT_FOUND", err)
	}

	// The owner stops answering (its lease is still valid): the caller
	// gets UNAVAILABLE naming it.
	slow := c.add("c", supervisor.LeaseOptions{RouteTimeout: 300 * time.Millisecond})
	if err := a.router.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = slow.sup.Reset(ctx, id)
	if e, ok := apperr.As(err); !ok || e.Code != apperr.Unavailable || !strings.Contains(e.Message, "instance a did not answer") {
		t.Fatalf("routed to an owner that does not answer: %v, want UNAVAILABLE naming instance a", err)
	}
	if n := slow.metrics.count(routedOf, "reset timeout"); n != 1 {
		t.Fatalf("routed timeouts counted: %d", n)
	}
}

func TestDrainHandsTheAccountsOverWithoutQR(t *testing.T) {
	c := newCluster(t, storetest.Open(t, store.Postgres), "a", "b")
	a, b := c.nodes[0], c.nodes[1]
	var ids []string
	for i := range 4 {
		ids = append(ids, c.activate(c.nodes[i%2], fmt.Sprintf("Phone %d", i), fmt.Sprintf("1555040%04d:1@s.whatsapp.net", i)))
	}
	var onA []string
	for _, id := range ids {
		if c.owner(id) == a {
			onA = append(onA, id)
		}
	}
	startsB := b.sessions.startCount()

	if err := a.sup.Close(); err != nil { // SIGTERM
		t.Fatal(err)
	}
	c.nodes = c.nodes[1:]
	for _, id := range onA {
		a.sessions.mu.Lock()
		_, live := a.sessions.live[id]
		a.sessions.mu.Unlock()
		if live {
			t.Fatalf("%s still runs on a after the drain", id)
		}
		if a.sessions.loggedOut(c.get(id).JID) {
			t.Fatal("the drain logged a device out")
		}
	}
	c.tick(1) // b took the released leases on a's notice, or takes them at its renewal
	c.checkExclusive(ids)
	for _, id := range ids {
		if got := c.get(id); got.Status != account.StatusActive {
			t.Fatalf("%s is %s after the drain, want ACTIVE", got.Name, got.Status)
		}
	}
	b.sessions.mu.Lock()
	moved := b.sessions.starts[startsB:]
	b.sessions.mu.Unlock()
	if len(moved) != len(onA) {
		t.Fatalf("b started %d sessions, want the %d a handed over", len(moved), len(onA))
	}
	for _, req := range moved {
		if req.JID == "" {
			t.Fatalf("hand-over start %+v is a pairing; want a login with the stored device", req)
		}
	}
	if n := b.metrics.count(takenOf, "released"); n != len(onA) {
		t.Fatalf("released takeovers counted %d, want %d", n, len(onA))
	}
}

func TestJoiningInstanceTakesItsShareWithoutFlapping(t *testing.T) {
	c := newCluster(t, storetest.Open(t, store.Postgres), "a", "b")
	var ids []string
	for i := range 12 {
		ids = append(ids, c.activate(c.nodes[i%2], fmt.Sprintf("Phone %d", i), fmt.Sprintf("1555050%04d:1@s.whatsapp.net", i)))
	}
	c.add("c", supervisor.LeaseOptions{})
	c.tick(6)
	per := c.checkExclusive(ids)
	if per["a"] != 4 || per["b"] != 4 || per["c"] != 4 {
		t.Fatalf("accounts per instance after c joined: %v, want 4 each", per)
	}
	taken := func() int {
		n := 0
		for _, nd := range c.nodes {
			n += nd.metrics.count(takenOf, "released") + nd.metrics.count(takenOf, "lapsed")
		}
		return n
	}
	if got := taken(); got != 4 {
		t.Fatalf("%d accounts moved, want exactly the 4 c needed", got)
	}
	c.tick(10)
	if got := taken(); got != 4 {
		t.Fatalf("accounts kept moving once balanced: %d moves", got)
	}
	for _, id := range ids {
		if got := c.get(id); got.Status != account.StatusActive {
			t.Fatalf("%s is %s, want ACTIVE", got.Name, got.Status)
		}
	}
}

// One instance without leases makes no lease round trips: the table stays
// empty and every command runs in place.
func TestOneInstanceKeepsNoLeases(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		e := newEnvWithDB(t, db, account.Options{})
		a := e.activate("Alone", "15550600001:1@s.whatsapp.net")
		if _, err := e.sup.Reconnect(context.Background(), a.ID); err != nil {
			t.Fatal(err)
		}
		n, err := db.NewSelect().Table("account_leases").Count(context.Background())
		if err != nil || n != 0 {
			t.Fatalf("lease rows with one instance: %d (%v), want none", n, err)
		}
		if e.sup.InstanceID() != "" || e.sup.Owned() != nil {
			t.Fatal("one instance should have no instance id or leases")
		}
		if r := e.sessions.lastStart(t); r.Epoch != 0 {
			t.Fatalf("session started with epoch %d, want 0 (unfenced)", r.Epoch)
		}
	})
}

// An instance that cannot renew (its database connection is gone) stops
// its sessions before its leases lapse, so the instance that takes them
// over never runs an account at the same time.
func TestInstanceThatCannotRenewStopsItsSessionsBeforeTakeover(t *testing.T) {
	url := storetest.URL(t, store.Postgres)
	open := func() *store.DB {
		db, err := store.Open(context.Background(), url, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	db := open()
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, db)
	leaseDB := open()
	a := c.add("a", supervisor.LeaseOptions{DB: leaseDB})
	b := c.add("b", supervisor.LeaseOptions{})
	onA := c.activate(a, "On a", "15550700001:1@s.whatsapp.net")
	onB := c.activate(b, "On b", "15550700002:1@s.whatsapp.net")
	if c.owner(onA) != a || c.owner(onB) != b {
		t.Fatal("each instance should run the account it placed")
	}

	_ = leaseDB.Close() // a's renewals fail from now on
	stopped := false
	for range int(testTTL/testRenew) + 3 {
		c.tick(1)
		r := c.running(onA)
		if len(r) > 1 {
			t.Fatalf("account runs on %v at once", r)
		}
		if len(r) == 0 || r[0] == "b" {
			stopped = true
		}
		if !stopped && c.dbOwner(onA) != "a" {
			t.Fatal("b took the account over while a still ran its session")
		}
	}
	if len(a.sup.Owned()) != 0 {
		t.Fatalf("a still holds %v after failing to renew", a.sup.Owned())
	}
	if r := c.running(onA); len(r) != 1 || r[0] != "b" || c.dbOwner(onA) != "b" {
		t.Fatalf("account runs on %v, lease owner %q; want b", r, c.dbOwner(onA))
	}
	if got := c.get(onA); got.Status != account.StatusActive {
		t.Fatalf("account is %s after the takeover, want ACTIVE", got.Status)
	}
	if a.sessions.loggedOut("15550700001:1@s.whatsapp.net") {
		t.Fatal("stopping for a failed renewal logged the device out")
	}
}
