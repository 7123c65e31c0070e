package whatsapp_test

// Groups and scraping through the real stack: GroupService → River job →
// whatsapp.Manager → unmodified whatsmeow → the simulator, on SQLite and
// Postgres.

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/account"
	"wagraph/internal/contact"
	"wagraph/internal/jobs"
	"wagraph/internal/live"
	"wagraph/internal/pubsub"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
	"wagraph/internal/supervisor"
	"wagraph/internal/wasim"
	"wagraph/internal/whatsapp"
)

type learnt struct {
	pairs  map[string]string
	linked int
}

type groupsE2E struct {
	*e2e
	groups   *contact.GroupService
	contacts *contact.Service
	// learnt gets each LIDsLearned call's mappings and how many contacts
	// it linked.
	learnt chan learnt
}

// newGroupsE2E is newE2E with the manager reporting LID mappings to a
// group service, whose scrape jobs run on River.
func newGroupsE2E(t *testing.T, db *store.DB) *groupsE2E {
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
	e := &e2e{t: t, db: db, bus: bus, sim: sim, log: log, events: events, opts: account.Options{Logger: log}}
	g := &groupsE2E{e2e: e, learnt: make(chan learnt, 1024)}

	g.contacts = contact.New(db, contact.Options{Logger: log})
	reg := jobs.NewRegistry()
	js, err := jobs.New(db, reg, jobs.Options{Logger: log, Workers: 2, PollInterval: 20 * time.Millisecond, StopTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	g.groups = contact.NewGroupService(g.contacts, bus, js, nil, contact.GroupOptions{
		Logger: log, Interval: 5 * time.Millisecond, Backoff: 100 * time.Millisecond,
	})
	g.groups.RegisterJobs(reg)

	ctx := context.Background()
	container, err := whatsapp.OpenDeviceStore(ctx, db, log)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = account.New(db, bus, e.opts)
	e.sup = supervisor.New(e.svc, func(sink supervisor.EventSink) supervisor.Sessions {
		e.mgr = whatsapp.NewManager(container, sink, whatsapp.Options{Logger: log, Simulator: sim, LIDMap: whatsapp.NewLIDMap(db),
			LIDsLearned: func(ctx context.Context, accountID string, pairs map[string]string) {
				n, err := g.groups.LIDsLearned(ctx, accountID, pairs)
				if err != nil {
					t.Errorf("LIDsLearned: %v", err)
				}
				select {
				case g.learnt <- learnt{pairs, n}:
				default:
					t.Error("too many LID mapping reports")
				}
			}})
		return e.mgr
	}, supervisor.Options{Logger: log})
	if err := e.sup.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.sup.Close() })
	g.groups.SetWhatsApp(e.mgr)
	if err := js.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = js.Close() })
	return g
}

// follow reads a scrape's progress to its final event; it returns the
// states seen in order and the final job.
func (g *groupsE2E) follow(id int64) ([]contact.ScrapeState, contact.ScrapeJob) {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	cur, err := g.groups.WatchScrape(ctx, id)
	if err != nil {
		g.t.Fatal(err)
	}
	defer cur.Close()
	var states []contact.ScrapeState
	var last contact.ScrapeJob
	for {
		ev, err := cur.Next(ctx)
		if errors.Is(err, live.ErrEnd) {
			if !last.State.Final() {
				g.t.Fatalf("progress stream ended at %+v", last)
			}
			return states, last
		}
		if err != nil {
			g.t.Fatal(err)
		}
		last = ev.Value
		if len(states) == 0 || states[len(states)-1] != last.State {
			states = append(states, last.State)
		}
	}
}

// waitLearnt waits for the report of lid's mapping and returns how many
// contacts it linked.
func (g *groupsE2E) waitLearnt(lid string) int {
	g.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case l := <-g.learnt:
			if _, ok := l.pairs[lid]; ok {
				return l.linked
			}
		case <-deadline:
			g.t.Fatalf("the mapping of %s was not reported", lid)
			return 0
		}
	}
}

func (g *groupsE2E) count(query string, args ...any) int {
	g.t.Helper()
	var n int
	if err := g.db.NewRaw(query, args...).Scan(context.Background(), &n); err != nil {
		g.t.Fatal(err)
	}
	return n
}

func TestE2EGroupsScrapeRateLimitAndLateLIDMapping(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		g := newGroupsE2E(t, db)
		a, phone := g.activateQR("scraper")
		jids, err := g.sim.AddDemoGroups(phone.JID)
		if err != nil {
			t.Fatal(err)
		}

		// refreshGroups: one GetJoinedGroups call.
		n, err := g.groups.RefreshGroups(ctx, a.ID)
		if err != nil || n != 3 {
			t.Fatalf("refresh = %d, %v", n, err)
		}
		if q := g.sim.GroupQueries(phone.JID); q != 1 {
			t.Fatalf("%d group queries for a refresh, want 1", q)
		}
		page, err := g.groups.ListGroups(ctx, a.ID, "", nil, "")
		if err != nil || page.TotalCount != 3 {
			t.Fatalf("groups %+v, %v", page, err)
		}
		byName := map[string]*contact.Group{}
		for _, gr := range page.Groups {
			byName[gr.Name] = gr
		}
		if c := byName["Neighbourhood community"]; c == nil || !c.Announce || c.ParticipantCount != 151 {
			t.Fatalf("community group %+v", c)
		}
		if m := byName["Porto market"]; m == nil || m.AddressingMode != "lid" || m.JID != jids[1].String() {
			t.Fatalf("LID group %+v", m)
		}
		members, err := g.groups.Participants(ctx, a.ID, jids[1].String(), nil, "")
		if err != nil || members.TotalCount != 7 {
			t.Fatalf("members %+v, %v", members, err)
		}
		var hiddenLID string
		for _, m := range members.Participants {
			if m.Phone == "" {
				hiddenLID = m.LID
			}
		}
		if hiddenLID == "" {
			t.Fatalf("the hidden member came with a number: %+v", members.Participants)
		}

		// Scrape everything, with WhatsApp refusing the first two calls.
		g.sim.RateLimitGroups(phone.JID, 2)
		job, err := g.groups.StartScrape(ctx, contact.ScrapeInput{AccountID: a.ID, All: true})
		if err != nil {
			t.Fatal(err)
		}
		states, final := g.follow(job.ID)
		waited := false
		for _, s := range states {
			waited = waited || s == contact.ScrapeWaiting
		}
		// 8 runners + 6 market + 150 in the community, 3 of them runners;
		// the account itself is not a contact.
		if !waited || final.State != contact.ScrapeDone || final.GroupsDone != 3 || final.MembersSeen != 164 ||
			final.ContactsCreated != 161 || final.LastError != "" || final.MembersWithoutPhone != 1 || final.Errors != 0 {
			t.Fatalf("states %v, final %+v", states, final)
		}
		if c := g.count("SELECT COUNT(*) FROM mkt_wap_contacts"); c != 161 {
			t.Fatalf("%d contacts, want 161", c)
		}
		// 1 refresh, 2 refused, 1 list, 3 groups.
		if q := g.sim.GroupQueries(phone.JID); q != 7 {
			t.Fatalf("%d group queries, want 7", q)
		}

		// The hidden member's number is already a contact (an import); the
		// phone reveals it later: the two contacts become one.
		hiddenPhone := "+" + wasim.DemoHiddenMember.User
		imported, _, err := g.contacts.Upsert(ctx, contact.Observation{Phone: hiddenPhone, FullName: "Rita", Source: contact.Source{Kind: contact.SourceImport, ImportID: "i1"}})
		if err != nil {
			t.Fatal(err)
		}
		if told, err := g.sim.RevealPhone(wasim.DemoHiddenMember); err != nil || told != 1 {
			t.Fatalf("reveal = %d, %v", told, err)
		}
		if linked := g.waitLearnt(hiddenLID); linked != 1 {
			t.Fatalf("LIDsLearned linked %d contacts, want 1", linked)
		}
		merged, err := g.contacts.Get(ctx, imported.ID)
		if err != nil || merged.LID != hiddenLID || merged.FullName != "Rita" {
			t.Fatalf("after the mapping: %+v, %v", merged, err)
		}
		if c := g.count("SELECT COUNT(*) FROM mkt_wap_contacts"); c != 161 {
			t.Fatalf("%d contacts after the merge, want 161", c)
		}
		if c := g.count("SELECT COUNT(*) FROM contact_sources WHERE contact_id = ?", imported.ID); c != 3 {
			t.Fatalf("%d sources on the merged contact, want 3 (import, group, WhatsApp)", c)
		}

		// A second scrape changes nothing: no new contact, no new source.
		sources := g.count("SELECT COUNT(*) FROM contact_sources")
		job, err = g.groups.StartScrape(ctx, contact.ScrapeInput{AccountID: a.ID, GroupJIDs: []string{jids[0].String(), jids[1].String()}})
		if err != nil {
			t.Fatal(err)
		}
		if _, final := g.follow(job.ID); final.State != contact.ScrapeDone || final.ContactsCreated != 0 || final.MembersWithoutPhone != 0 {
			t.Fatalf("second scrape %+v", final)
		}
		if c := g.count("SELECT COUNT(*) FROM contact_sources"); c != sources {
			t.Fatalf("%d sources after the second scrape, want %d", c, sources)
		}
	})
}
