package contact_test

// kill -9 in the middle of a scrape: a child process works the scrape job
// and is killed (SIGKILL) after it committed a few groups; River's leader
// in a new process finds the job stuck and runs it again, and it resumes
// after the last committed group. The contact base ends up exactly as after
// a run without the crash.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/contact"
	"wagraph/internal/jobs"
	"wagraph/internal/pubsub"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// killHelperEnv names the database the helper process scrapes into.
const killHelperEnv = "WAGRAPH_TEST_SCRAPE_KILL_DB"

// killGroups: 12 groups of 30 members; each shares 10 members with the
// next, so a person is often in two groups.
func killGroups() []contact.WAGroup {
	var gs []contact.WAGroup
	for g := range 12 {
		wg := contact.WAGroup{Group: contact.Group{JID: fmt.Sprintf("1203630000000001%02d@g.us", g), Name: fmt.Sprintf("Group %02d", g), AddressingMode: "pn"}}
		for m := range 30 {
			n := g*20 + m
			p := contact.Participant{JID: fmt.Sprintf("49151234%05d@s.whatsapp.net", n), Phone: fmt.Sprintf("+49151234%05d", n), LID: fmt.Sprintf("%d@lid", 500000+n)}
			if n%7 == 0 {
				p.JID, p.Phone = p.LID, "" // listed by LID alone
			}
			wg.Participants = append(wg.Participants, p)
		}
		gs = append(gs, wg)
	}
	return gs
}

// printingMetrics tells the parent process each committed group.
type printingMetrics struct{ contact.NopScrapeMetrics }

func (printingMetrics) MembersScraped(int) { fmt.Println("COMMITTED") }

// TestScrapeKillHelper is the child process of the kill test; it does
// nothing unless that test started it.
func TestScrapeKillHelper(t *testing.T) {
	url := os.Getenv(killHelperEnv)
	if url == "" {
		t.Skip("the child process of TestScrapeKilledMidwayResumesWithoutDuplicates")
	}
	db, err := store.Open(context.Background(), url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wa := &fakeWA{groups: map[string][]contact.WAGroup{"acc1": killGroups()}, lids: map[string]string{},
		onGroup: func(string) { time.Sleep(30 * time.Millisecond) }} // WhatsApp's latency
	startScraper(t, db, wa, printingMetrics{}, 0)
	<-time.After(time.Minute) // killed long before
	t.Fatal("the helper process was not killed")
}

// startScraper runs the group service's jobs on db; rescueAfter 0 is
// River's default.
func startScraper(t *testing.T, db *store.DB, wa contact.WhatsAppGroups, m contact.ScrapeMetrics, rescueAfter time.Duration) *contact.GroupService {
	t.Helper()
	svc := contact.New(db, contact.Options{Logger: zerolog.Nop()})
	b := pubsub.NewMemory(pubsub.Options{})
	t.Cleanup(func() { _ = b.Close() })
	reg := jobs.NewRegistry()
	js, err := jobs.New(db, reg, jobs.Options{Logger: zerolog.Nop(), Workers: 1, PollInterval: 20 * time.Millisecond, StopTimeout: 3 * time.Second, RescueAfter: rescueAfter})
	if err != nil {
		t.Fatal(err)
	}
	// A run lasts at most the rescue delay, as internal/app sets it.
	gs := contact.NewGroupService(svc, b, js, wa, contact.GroupOptions{Logger: zerolog.Nop(), Interval: time.Millisecond, Slice: time.Second, Metrics: m, JobTimeout: rescueAfter})
	gs.RegisterJobs(reg)
	if err := js.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = js.Close() })
	return gs
}

// baseState is what a scrape leaves in the contact base: every contact's
// identity, and every provenance and persona row.
func baseState(t *testing.T, db *store.DB) string {
	t.Helper()
	var rows []string
	err := db.NewRaw(`SELECT COALESCE(phone_e164, '') || '|' || COALESCE(lid, '') FROM mkt_wap_contacts`).Scan(context.Background(), &rows)
	if err != nil {
		t.Fatal(err)
	}
	var sources []string
	err = db.NewRaw(`SELECT COALESCE(c.phone_e164, c.lid) || '|' || s.kind || '|' || s.group_jid FROM contact_sources s JOIN mkt_wap_contacts c ON c.id = s.contact_id`).Scan(context.Background(), &sources)
	if err != nil {
		t.Fatal(err)
	}
	personas := count(t, db, "SELECT COUNT(*) FROM contact_personas")
	sort.Strings(rows)
	sort.Strings(sources)
	return fmt.Sprintf("%d contacts %v\n%d sources %v\n%d persona links", len(rows), rows, len(sources), sources, personas)
}

func TestScrapeKilledMidwayResumesWithoutDuplicates(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process and waits for River's leader to change")
	}
	storetest.RunDialects(t, func(t *testing.T, ref *store.DB) {
		ctx := context.Background()
		// The reference: the same scrape without a crash.
		wa := &fakeWA{groups: map[string][]contact.WAGroup{"acc1": killGroups()}, lids: map[string]string{}}
		refGroups := startScraper(t, ref, wa, nil, 0)
		refPersona, _ := contact.New(ref, contact.Options{}).CreatePersona(ctx, "P", "")
		job, err := refGroups.StartScrape(ctx, contact.ScrapeInput{AccountID: "acc1", All: true, PersonaIDs: []string{refPersona.ID}})
		if err != nil {
			t.Fatal(err)
		}
		refEnv := &groupsEnv{groups: refGroups}
		_, want := refEnv.follow(t, job.ID)
		if want.State != contact.ScrapeDone || want.GroupsDone != 12 {
			t.Fatalf("reference scrape %+v", want)
		}

		// The crash: enqueue, let a child process work it, kill it.
		url := storetest.URL(t, ref.Kind)
		db, err := store.Open(ctx, url, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		persona, _ := contact.New(db, contact.Options{}).CreatePersona(ctx, "P", "")
		reg := jobs.NewRegistry()
		enq, err := jobs.New(db, reg, jobs.Options{Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		enqGroups := contact.NewGroupService(contact.New(db, contact.Options{}), nil, enq, nil, contact.GroupOptions{})
		enqGroups.RegisterJobs(reg)
		job, err = enqGroups.StartScrape(ctx, contact.ScrapeInput{AccountID: "acc1", All: true, PersonaIDs: []string{persona.ID}})
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestScrapeKillHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), killHelperEnv+"="+url)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		for committed := 0; committed < 3 && lines.Scan(); {
			if strings.Contains(lines.Text(), "COMMITTED") {
				committed++
			}
		}
		if err := cmd.Process.Kill(); err != nil { // SIGKILL: no cleanup, no River stop
			t.Fatal(err)
		}
		_ = cmd.Wait()
		var done int
		var state string
		if err := db.NewRaw("SELECT groups_done, state FROM scrape_jobs WHERE id = ?", job.ID).Scan(ctx, &done, &state); err != nil {
			t.Fatal(err)
		}
		if done < 3 || done >= 12 || state != string(contact.ScrapeRunning) {
			t.Fatalf("after the kill: %d groups done, %s; want a scrape stopped midway", done, state)
		}

		// A new process: River's leader finds the job stuck (after
		// RescueAfter) and runs it again.
		wa = &fakeWA{groups: map[string][]contact.WAGroup{"acc1": killGroups()}, lids: map[string]string{}}
		groups := startScraper(t, db, wa, nil, 2*time.Second)
		env := &groupsEnv{groups: groups}
		_, got := env.follow(t, job.ID)
		if got.State != contact.ScrapeDone || got.GroupsDone != 12 || got.MembersSeen != want.MembersSeen ||
			got.ContactsCreated != want.ContactsCreated || got.MembersWithoutPhone != want.MembersWithoutPhone {
			t.Fatalf("resumed scrape %+v, want the counts of %+v", got, want)
		}
		if wa.calls != 12-done {
			t.Fatalf("the resumed run read %d groups; %d were left", wa.calls, 12-done)
		}
		if a, b := baseState(t, ref), baseState(t, db); a != b {
			t.Fatalf("the contact base differs from a run without the crash:\nwithout: %.300s\nwith:    %.300s", a, b)
		}
	})
}
