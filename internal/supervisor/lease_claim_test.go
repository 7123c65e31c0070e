package supervisor_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"wagraph/internal/account"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
	"wagraph/internal/supervisor"
)

// A drain's released leases are claimed as soon as the other instances
// hear of it, not at their next renewal: no time passes on the clock here.
func TestReleasedLeasesAreClaimedOnTheNotice(t *testing.T) {
	c := newCluster(t, storetest.Open(t, store.Postgres), "a", "b")
	a, b := c.nodes[0], c.nodes[1]
	var ids []string
	for i := range 4 {
		ids = append(ids, c.activate(c.nodes[i%2], fmt.Sprintf("Phone %d", i), fmt.Sprintf("1555070%04d:1@s.whatsapp.net", i)))
	}
	if err := a.sup.Close(); err != nil { // SIGTERM
		t.Fatal(err)
	}
	c.nodes = c.nodes[1:]
	// Until b runs every account: its claim pass has then restored them
	// and asked them to connect, and what it still runs is in
	// WaitBackground.
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for slices.ContainsFunc(ids, func(id string) bool { return !slices.Contains(c.running(id), "b") }) {
		if time.Now().After(deadline) {
			t.Fatalf("b holds %d of the %d accounts 10 s after a drained, with no renewal in between; want all", len(b.sup.Owned()), len(ids))
		}
		<-tick.C
	}
	b.sup.WaitBackground()
	if per := c.checkExclusive(ids); per["b"] != len(ids) {
		t.Fatalf("accounts per instance %v, want all on b", per)
	}
	for _, id := range ids {
		if got := c.get(id); got.Status != account.StatusActive {
			t.Fatalf("%s is %s after the hand-over, want ACTIVE", got.Name, got.Status)
		}
	}
}

// A lease that lapses between two renewals of another instance is claimed
// at its expiry: a crash costs LEASE_TTL after the last renewal, not up to
// one renew interval more.
func TestLapsedLeaseIsClaimedAtItsExpiry(t *testing.T) {
	c := newCluster(t, storetest.Open(t, store.Postgres), "a")
	c.clock.Advance(time.Second) // b renews a second after a, between a's renewals
	c.add("b", supervisor.LeaseOptions{})
	a, b := c.nodes[0], c.nodes[1]
	var ids []string
	for i := range 4 {
		ids = append(ids, c.activate(c.nodes[i%2], fmt.Sprintf("Phone %d", i), fmt.Sprintf("1555080%04d:1@s.whatsapp.net", i)))
	}
	var onA []string
	for _, id := range ids {
		if c.owner(id) == a {
			onA = append(onA, id)
		}
	}
	c.clock.Advance(2 * time.Second) // a's renewal, 3 s after start
	renewed := c.clock.Now()
	a.sup.PauseLeases() // a hangs: its leases lapse at renewed+TTL
	for c.clock.Now().Before(renewed.Add(testTTL)) {
		c.clock.Advance(min(time.Second, renewed.Add(testTTL).Sub(c.clock.Now())))
		b.sup.WaitTakeovers()
		b.sup.WaitBackground()
	}
	// b's renewals fall at renewed+13 s and +16 s: at +15 s only the
	// claim scheduled for the expiry has run.
	for _, id := range onA {
		if owner := c.dbOwner(id); owner != "b" {
			t.Fatalf("account %s: the lease names %q at its expiry, want b", id, owner)
		}
		if !slices.Contains(c.running(id), "b") {
			t.Fatalf("account %s runs on %v, want b", id, c.running(id))
		}
	}
	if got := b.metrics.count(takenOf, "lapsed"); got != len(onA) {
		t.Fatalf("lapsed takeovers counted: %d, want %d", got, len(onA))
	}
}

// Instances that start together with every lease unheld (a restart of all
// after an outage) split the accounts evenly at their first renewal, and
// nothing moves afterwards: the first to start does not take them all.
func TestInstancesStartingTogetherSplitTheAccounts(t *testing.T) {
	c := newCluster(t, storetest.Open(t, store.Postgres), "a")
	var ids []string
	for i := range 9 {
		ids = append(ids, c.activate(c.nodes[0], fmt.Sprintf("Phone %d", i), fmt.Sprintf("1555090%04d:1@s.whatsapp.net", i)))
	}
	if err := c.nodes[0].sup.Close(); err != nil { // all stopped: every lease released
		t.Fatal(err)
	}
	c.nodes = nil
	for _, name := range []string{"d", "e", "f"} {
		c.add(name, supervisor.LeaseOptions{})
	}
	c.tick(1)
	if per := c.checkExclusive(ids); per["d"] != 3 || per["e"] != 3 || per["f"] != 3 {
		t.Fatalf("accounts per instance after the first renewal: %v, want 3 each", per)
	}
	c.tick(10)
	moves := 0
	for _, n := range c.nodes {
		moves += n.metrics.count(takenOf, "released") + n.metrics.count(takenOf, "lapsed")
	}
	if moves != len(ids) {
		t.Fatalf("%d lease takeovers for %d accounts: accounts moved after the split", moves, len(ids))
	}
	for _, id := range ids {
		if got := c.get(id); got.Status != account.StatusActive {
			t.Fatalf("%s is %s, want ACTIVE", got.Name, got.Status)
		}
	}
}
