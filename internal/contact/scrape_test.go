package contact_test

// Groups and scraping against a WhatsApp port that answers from memory: the
// flows through the real whatsmeow client and the simulator are in
// internal/whatsapp (groups_e2e_test.go).

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"wagraph/internal/contact"
	"wagraph/internal/jobs"
	"wagraph/internal/live"
	"wagraph/internal/pubsub"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// fakeWA is a WhatsApp port answering from memory.
type fakeWA struct {
	mu     sync.Mutex
	groups map[string][]contact.WAGroup // by account
	lids   map[string]string            // LID → number, the LID store
	// limited answers this many group calls with rate-overlimit first.
	limited int
	calls   int
	// onGroup, when set, runs before a group is answered; onJoined before
	// the groups are listed.
	onGroup  func(jid string)
	onJoined func(ctx context.Context)
}

func (f *fakeWA) JoinedGroups(ctx context.Context, accountID string) ([]contact.WAGroup, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.onJoined != nil {
		f.onJoined(ctx)
	}
	f.calls++
	if f.limited > 0 {
		f.limited--
		return nil, contact.ErrRateLimited
	}
	gs, ok := f.groups[accountID]
	if !ok {
		return nil, contact.ErrNotConnected
	}
	return append([]contact.WAGroup(nil), gs...), nil
}

func (f *fakeWA) GroupInfo(_ context.Context, accountID, jid string) (*contact.WAGroup, error) {
	f.mu.Lock()
	hook := f.onGroup
	f.calls++
	if f.limited > 0 {
		f.limited--
		f.mu.Unlock()
		return nil, contact.ErrRateLimited
	}
	var found *contact.WAGroup
	for _, g := range f.groups[accountID] {
		if g.JID == jid {
			c := g
			c.Participants = append([]contact.Participant(nil), g.Participants...)
			found = &c
		}
	}
	f.mu.Unlock()
	if hook != nil {
		hook(jid)
	}
	if found == nil {
		return nil, contact.ErrGroupNotFound
	}
	return found, nil
}

func (f *fakeWA) PhonesForLIDs(_ context.Context, _ string, lids []string) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for _, l := range lids {
		if p, ok := f.lids[l]; ok {
			out[l] = p
		}
	}
	return out, nil
}

func (f *fakeWA) learn(lid, phone string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lids[lid] = phone
}

const (
	gPN    = "120363000000000001@g.us"
	gLID   = "120363000000000002@g.us"
	gOther = "120363000000000003@g.us"
)

// demoGroups: a PN group, a LID group (one member without number), and a
// group sharing two members with the first.
func demoGroups() []contact.WAGroup {
	return []contact.WAGroup{
		{Group: contact.Group{JID: gPN, Name: "Berlin runners", AddressingMode: "pn"}, Participants: []contact.Participant{
			{JID: "4915123456781@s.whatsapp.net", Phone: "+4915123456781", LID: "1001@lid", SuperAdmin: true},
			{JID: "4915123456782@s.whatsapp.net", Phone: "+4915123456782", LID: "1002@lid", Admin: true},
			{JID: "4915123456783@s.whatsapp.net", Phone: "+4915123456783", LID: "1003@lid"},
		}},
		{Group: contact.Group{JID: gLID, Name: "Porto market", AddressingMode: "lid", Announce: true}, Participants: []contact.Participant{
			{JID: "1001@lid", Phone: "+4915123456781", LID: "1001@lid"},
			{JID: "2001@lid", Phone: "+351912345671", LID: "2001@lid"},
			{JID: "2002@lid", LID: "2002@lid"}, // number learnt later
		}},
		{Group: contact.Group{JID: gOther, Name: "=cmd|' /C calc'!A0", AddressingMode: "pn"}, Participants: []contact.Participant{
			{JID: "4915123456782@s.whatsapp.net", Phone: "+4915123456782", LID: "1002@lid"},
			{JID: "4915123456783@s.whatsapp.net", Phone: "+4915123456783", LID: "1003@lid", DisplayName: "@evil"},
		}},
	}
}

type groupsEnv struct {
	db     *store.DB
	svc    *contact.Service
	groups *contact.GroupService
	jobs   *jobs.Service
	wa     *fakeWA
}

func newGroupsEnv(t *testing.T, db *store.DB, opts contact.GroupOptions) *groupsEnv {
	t.Helper()
	wa := &fakeWA{groups: map[string][]contact.WAGroup{"acc1": demoGroups()}, lids: map[string]string{}}
	svc := contact.New(db, contact.Options{Logger: zerolog.Nop()})
	b := pubsub.NewMemory(pubsub.Options{})
	t.Cleanup(func() { _ = b.Close() })
	reg := jobs.NewRegistry()
	js, err := jobs.New(db, reg, jobs.Options{Logger: zerolog.Nop(), Workers: 2, PollInterval: 20 * time.Millisecond, StopTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if opts.Interval == 0 {
		opts.Interval = time.Millisecond
	}
	opts.Logger = zerolog.Nop()
	gs := contact.NewGroupService(svc, b, js, wa, opts)
	gs.RegisterJobs(reg)
	if err := js.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = js.Close() })
	return &groupsEnv{db: db, svc: svc, groups: gs, jobs: js, wa: wa}
}

// follow reads a scrape's progress stream to its final event and returns
// every state it saw, in order, and the final job.
func (e *groupsEnv) follow(t *testing.T, id int64) ([]contact.ScrapeState, contact.ScrapeJob) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cur, err := e.groups.WatchScrape(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	var (
		states []contact.ScrapeState
		last   contact.ScrapeJob
	)
	for {
		ev, err := cur.Next(ctx)
		if errors.Is(err, live.ErrEnd) {
			if !last.State.Final() {
				t.Fatalf("stream ended at %s (%v)", last.State, ctx.Err())
			}
			return states, last
		}
		if err != nil {
			t.Fatal(err)
		}
		last = ev.Value
		if len(states) == 0 || states[len(states)-1] != last.State {
			states = append(states, last.State)
		}
	}
}

func count(t *testing.T, db *store.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.NewRaw(query, args...).Scan(context.Background(), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestScrapeGroupsIntoContacts(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newGroupsEnv(t, db, contact.GroupOptions{})
		p, err := e.svc.CreatePersona(ctx, "Runners", "")
		if err != nil {
			t.Fatal(err)
		}
		job, err := e.groups.StartScrape(ctx, contact.ScrapeInput{AccountID: "acc1", All: true, PersonaIDs: []string{p.ID}})
		if err != nil {
			t.Fatal(err)
		}
		states, final := e.follow(t, job.ID)
		if final.State != contact.ScrapeDone || states[len(states)-1] != contact.ScrapeDone {
			t.Fatalf("states %v, final %+v", states, final)
		}
		// 5 people: three German numbers, one Portuguese, one LID only.
		want := contact.ScrapeJob{GroupsTotal: 3, GroupsDone: 3, MembersSeen: 8, ContactsCreated: 5, MembersWithoutPhone: 1}
		if final.GroupsTotal != want.GroupsTotal || final.GroupsDone != want.GroupsDone || final.MembersSeen != want.MembersSeen ||
			final.ContactsCreated != want.ContactsCreated || final.MembersWithoutPhone != want.MembersWithoutPhone || final.Errors != 0 {
			t.Fatalf("progress %+v", final)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM mkt_wap_contacts"); n != 5 {
			t.Fatalf("%d contacts, want 5", n)
		}
		// Provenance: one row per member and group (8), all for acc1.
		if n := count(t, db, "SELECT COUNT(*) FROM contact_sources WHERE kind = 'GROUP' AND account_id = 'acc1'"); n != 8 {
			t.Fatalf("%d group sources, want 8", n)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM contact_personas WHERE persona_id = ?", p.ID); n != 5 {
			t.Fatalf("%d persona links, want 5", n)
		}
		// The groups are listed from the database, by name.
		page, err := e.groups.ListGroups(ctx, "acc1", "", nil, "")
		if err != nil || page.TotalCount != 3 || page.Groups[0].JID != gOther || page.Groups[1].Name != "Berlin runners" {
			t.Fatalf("groups %+v, %v", page, err)
		}
		if !page.Groups[2].Announce || page.Groups[2].ParticipantCount != 3 {
			t.Fatalf("LID group %+v", page.Groups[2])
		}

		// The same scrape again creates nothing and counts no merge.
		again, err := e.groups.StartScrape(ctx, contact.ScrapeInput{AccountID: "acc1", GroupJIDs: []string{gPN, gLID, gOther}, PersonaIDs: []string{p.ID}})
		if err != nil {
			t.Fatal(err)
		}
		_, final = e.follow(t, again.ID)
		if final.State != contact.ScrapeDone || final.ContactsCreated != 0 || final.ContactsMerged != 0 || final.MembersSeen != 8 {
			t.Fatalf("second scrape %+v", final)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM mkt_wap_contacts"); n != 5 {
			t.Fatalf("%d contacts after the second scrape, want 5", n)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM contact_sources"); n != 8 {
			t.Fatalf("%d sources after the second scrape, want 8", n)
		}
		list, err := e.groups.ListScrapes(ctx, "acc1", nil, 0)
		if err != nil || list.TotalCount != 2 || list.Jobs[0].ID != again.ID {
			t.Fatalf("scrapes %+v, %v", list, err)
		}
	})
}

// A member known by LID alone merges into its number's contact when the
// mapping is learnt: from the client's LID store (LIDsLearned), or by a
// later scrape that finds it there.
func TestLIDLearnedLaterMerges(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newGroupsEnv(t, db, contact.GroupOptions{})
		job, _ := e.groups.StartScrape(ctx, contact.ScrapeInput{AccountID: "acc1", GroupJIDs: []string{gLID}})
		if _, final := e.follow(t, job.ID); final.MembersWithoutPhone != 1 {
			t.Fatalf("first scrape %+v", final)
		}
		// The number is already a contact from an import.
		imp, _, err := e.svc.Upsert(ctx, contact.Observation{Phone: "+4917612345678", FullName: "Dora", Source: contact.Source{Kind: contact.SourceImport, ImportID: "imp1"}})
		if err != nil {
			t.Fatal(err)
		}
		n, err := e.groups.LIDsLearned(ctx, "acc1", map[string]string{"2002@lid": "4917612345678@s.whatsapp.net", "9999@lid": "+4917600000000"})
		if err != nil || n != 1 {
			t.Fatalf("LIDsLearned = %d, %v", n, err)
		}
		c, err := e.svc.Get(ctx, imp.ID)
		if err != nil || c.LID != "2002@lid" || c.FullName != "Dora" {
			t.Fatalf("merged contact %+v, %v", c, err)
		}
		srcs, _ := e.svc.Sources(ctx, imp.ID)
		kinds := map[contact.SourceKind]bool{}
		for _, s := range srcs {
			kinds[s.Kind] = true
		}
		if !kinds[contact.SourceImport] || !kinds[contact.SourceGroup] || !kinds[contact.SourceWhatsApp] {
			t.Fatalf("sources after the merge %+v: both histories must stay", srcs)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM mkt_wap_contacts WHERE lid = '2002@lid'"); n != 1 {
			t.Fatalf("%d contacts hold the LID", n)
		}
		members, _ := e.groups.Participants(ctx, "acc1", gLID, nil, "")
		for _, m := range members.Participants {
			if m.LID == "2002@lid" && (m.Phone != "+4917612345678" || m.DisplayName != "Dora") {
				t.Fatalf("member after the mapping %+v", m)
			}
		}

		// A later scrape that finds the mapping in the LID store merges too.
		e.wa.learn("2001@lid", "+351912345671")
		if _, _, err := e.svc.Upsert(ctx, contact.Observation{LID: "3003@lid", Source: contact.Source{Kind: contact.SourceManual}}); err != nil {
			t.Fatal(err)
		}
		e.wa.mu.Lock()
		gs := e.wa.groups["acc1"]
		gs[1].Participants = append(gs[1].Participants, contact.Participant{JID: "3003@lid", LID: "3003@lid"})
		e.wa.lids["3003@lid"] = "+4917699999999"
		e.wa.mu.Unlock()
		if _, _, err := e.svc.Upsert(ctx, contact.Observation{Phone: "+4917699999999", Source: contact.Source{Kind: contact.SourceManual}}); err != nil {
			t.Fatal(err)
		}
		job, _ = e.groups.StartScrape(ctx, contact.ScrapeInput{AccountID: "acc1", GroupJIDs: []string{gLID}})
		_, final := e.follow(t, job.ID)
		if final.ContactsMerged != 1 || final.MembersWithoutPhone != 0 {
			t.Fatalf("scrape with the mapping %+v", final)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM mkt_wap_contacts WHERE phone_e164 = '+4917699999999' AND lid = '3003@lid'"); n != 1 {
			t.Fatal("the LID-only contact was not merged into its number's")
		}
	})
}

// rate-overlimit is waiting, not failing: the job snoozes (no attempt
// used), shows WAITING, and finishes with everything scraped.
func TestScrapeRateOverlimitBacksOffAndResumes(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newGroupsEnv(t, db, contact.GroupOptions{Backoff: 50 * time.Millisecond})
		e.wa.limited = 2
		job, err := e.groups.StartScrape(ctx, contact.ScrapeInput{AccountID: "acc1", GroupJIDs: []string{gPN, gLID}})
		if err != nil {
			t.Fatal(err)
		}
		states, final := e.follow(t, job.ID)
		waited := false
		for _, s := range states {
			waited = waited || s == contact.ScrapeWaiting
		}
		if !waited || final.State != contact.ScrapeDone || final.GroupsDone != 2 || final.ContactsCreated != 5 {
			t.Fatalf("states %v, final %+v", states, final)
		}
		row, err := e.jobs.Client().JobGet(ctx, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		// Snoozes do not count as attempts (River records them apart).
		if row.Attempt != 1 || len(row.Errors) != 0 {
			t.Fatalf("River job attempt %d, errors %v: the backoff was counted as a failure", row.Attempt, row.Errors)
		}
		if e.wa.calls != 4 {
			t.Fatalf("%d calls to WhatsApp, want 4 (two refused, two groups)", e.wa.calls)
		}
	})
}

func TestCancelScrape(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newGroupsEnv(t, db, contact.GroupOptions{})
		e.wa.groups["acc1"] = demoGroups()
		var once sync.Once
		var id int64
		started := make(chan struct{})
		release := make(chan struct{})
		e.wa.onGroup = func(string) {
			once.Do(func() { close(started); <-release })
		}
		job, err := e.groups.StartScrape(ctx, contact.ScrapeInput{AccountID: "acc1", All: true})
		if err != nil {
			t.Fatal(err)
		}
		id = job.ID
		<-started
		canceled, err := e.groups.CancelScrape(ctx, id)
		close(release)
		if err != nil || canceled.State != contact.ScrapeCanceled {
			t.Fatalf("cancel = %+v, %v", canceled, err)
		}
		_, final := e.follow(t, id)
		if final.State != contact.ScrapeCanceled || final.GroupsDone > 1 {
			t.Fatalf("after cancel %+v", final)
		}
		if _, err := e.groups.CancelScrape(ctx, id); err == nil {
			t.Fatal("canceling a canceled scrape succeeded")
		}
	})
}

func TestScrapeInputIsChecked(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	e := newGroupsEnv(t, db, contact.GroupOptions{CheckAccount: func(_ context.Context, id string) error {
		if id != "acc1" {
			return errors.New("no such account")
		}
		return nil
	}})
	ctx := context.Background()
	for _, in := range []contact.ScrapeInput{
		{AccountID: "acc1"},
		{AccountID: "acc1", All: true, GroupJIDs: []string{gPN}},
		{AccountID: "acc1", GroupJIDs: []string{"4915123456781@s.whatsapp.net"}},
		{AccountID: "", All: true},
		{AccountID: "acc2", All: true},
		{AccountID: "acc1", All: true, PersonaIDs: []string{"nope"}},
	} {
		if _, err := e.groups.StartScrape(ctx, in); err == nil {
			t.Errorf("StartScrape(%+v) succeeded", in)
		}
	}
}

func TestRefreshGroupsAndParticipantsCSV(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newGroupsEnv(t, db, contact.GroupOptions{})
		n, err := e.groups.RefreshGroups(ctx, "acc1")
		if err != nil || n != 3 {
			t.Fatalf("refresh = %d, %v", n, err)
		}
		if _, err := e.groups.RefreshGroups(ctx, "offline"); err == nil {
			t.Fatal("refreshing an account without a session succeeded")
		}
		// A group left is gone after the next refresh.
		e.wa.groups["acc1"] = demoGroups()[:2]
		if n, err := e.groups.RefreshGroups(ctx, "acc1"); err != nil || n != 2 {
			t.Fatalf("second refresh = %d, %v", n, err)
		}
		page, _ := e.groups.ListGroups(ctx, "acc1", "PORTO", nil, "")
		if page.TotalCount != 1 || page.Groups[0].JID != gLID {
			t.Fatalf("search %+v", page)
		}
		one := 1
		first, _ := e.groups.ListGroups(ctx, "acc1", "", &one, "")
		second, _ := e.groups.ListGroups(ctx, "acc1", "", &one, first.Groups[0].JID)
		if !first.HasNextPage || second.HasNextPage || second.Groups[0].JID != gLID {
			t.Fatalf("pages %+v / %+v", first, second)
		}
		two := 2
		members, err := e.groups.Participants(ctx, "acc1", gPN, &two, "")
		if err != nil || members.TotalCount != 3 || len(members.Participants) != 2 || !members.HasNextPage {
			t.Fatalf("members %+v, %v", members, err)
		}
		if members.Participants[0].Role() != "superadmin" || members.Participants[1].Role() != "admin" {
			t.Fatalf("roles %+v", members.Participants)
		}

		e.wa.groups["acc1"] = demoGroups()
		if _, err := e.groups.RefreshGroups(ctx, "acc1"); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		rows, err := e.groups.ExportParticipantsCSV(ctx, &buf, "acc1", gOther)
		if err != nil || rows != 2 {
			t.Fatalf("export = %d, %v", rows, err)
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		want := [][]string{
			{"jid", "phone", "lid", "name", "role"},
			{"4915123456782@s.whatsapp.net", "'+4915123456782", "1002@lid", "", "member"},
			{"4915123456783@s.whatsapp.net", "'+4915123456783", "1003@lid", "'@evil", "member"},
		}
		if len(recs) != len(want) {
			t.Fatalf("csv %q", recs)
		}
		for i := range want {
			for j := range want[i] {
				if recs[i][j] != want[i][j] {
					t.Fatalf("csv row %d = %q, want %q", i, recs[i], want[i])
				}
			}
		}
		if _, err := e.groups.ExportParticipantsCSV(ctx, &bytes.Buffer{}, "acc1", "1@g.us"); err == nil {
			t.Fatal("exporting an unknown group succeeded")
		}
	})
}

var _ river.JobArgs = contact.ScrapeArgs{}
