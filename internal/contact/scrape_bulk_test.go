package contact_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/uptrace/bun"

	"wagraph/internal/contact"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// countQueries counts the statements bun runs on a database.
type countQueries struct{ n atomic.Int64 }

func (c *countQueries) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	c.n.Add(1)
	return ctx
}

func (*countQueries) AfterQuery(context.Context, *bun.QueryEvent) {}

// A group scraped again (its 1,200 members all known and seen again) costs a few statements per 500 members, not several per
// member, and counts and records the same as the one-by-one upsert.
func TestRescrapeWritesKnownMembersInBatches(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newGroupsEnv(t, db, contact.GroupOptions{})
		members := make([]contact.Participant, 1200)
		for i := range members {
			n := fmt.Sprintf("49151%08d", i)
			members[i] = contact.Participant{JID: n + "@s.whatsapp.net", Phone: "+" + n, LID: fmt.Sprintf("%d@lid", 500000+i)}
		}
		big := contact.WAGroup{Group: contact.Group{JID: gPN, Name: "Big", AddressingMode: "pn"}, Participants: members}
		e.wa.groups["acc1"] = []contact.WAGroup{big}
		scrape := func() contact.ScrapeJob {
			job, err := e.groups.StartScrape(ctx, contact.ScrapeInput{AccountID: "acc1", GroupJIDs: []string{gPN}})
			if err != nil {
				t.Fatal(err)
			}
			_, final := e.follow(t, job.ID)
			if final.State != contact.ScrapeDone {
				t.Fatalf("scrape ended %s: %s", final.State, final.LastError)
			}
			return final
		}
		if first := scrape(); first.ContactsCreated != 1200 {
			t.Fatalf("first scrape %+v", first)
		}
		hook := &countQueries{}
		db.AddQueryHook(hook)
		second := scrape()
		if second.MembersSeen != 1200 || second.ContactsCreated != 0 || second.ContactsUpdated != 1200 || second.Errors != 0 {
			t.Fatalf("second scrape %+v", second)
		}
		// The job's own bookkeeping (state, progress, River) takes a few
		// dozen; the members' writes were 4 per member (4,800) before.
		t.Logf("%d statements", hook.n.Load())
		if n := hook.n.Load(); n > 150 {
			t.Fatalf("%d statements to scrape 1,200 known members again", n)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM mkt_wap_contacts"); n != 1200 {
			t.Fatalf("%d contacts, want 1200", n)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM contact_sources WHERE kind = 'GROUP' AND group_jid = ?", gPN); n != 1200 {
			t.Fatalf("%d sources, want 1200", n)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM mkt_wap_contacts WHERE last_seen_at > first_seen_at"); n != 1200 {
			t.Fatalf("%d contacts seen again, want 1200", n)
		}
	})
}
