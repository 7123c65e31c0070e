package main

import (
	"time"

	"testing"

	"github.com/rs/zerolog"

	"wagraph/internal/store/storetest"
	"wagraph/internal/wasim"
)

// rootKey signs every simulator of this test binary: whatsmeow trusts one
// certificate root per process.
var rootKey = wasim.NewRootKey()

// The benchmark's run, small: every member is written, overlapping members
// count once as contacts, and it costs one call per group plus the list.
func TestScrapeRun(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			res, err := run(t.Context(), options{
				Groups: 6, Members: 50, Overlap: 0.2, LIDEvery: 3, Interval: time.Millisecond, DatabaseURL: storetest.URL(t, dialect), RootKey: rootKey,
				Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
			})
			if err != nil {
				t.Fatal(err)
			}
			// 6 groups of 50, each sharing 10 with the next: 6*40+10 people.
			if res.Job.GroupsDone != 6 || res.Job.MembersSeen != 300 || res.Contacts != 250 || res.Job.ContactsCreated != 250 {
				t.Fatalf("scrape %+v, %d contacts", res.Job, res.Contacts)
			}
			if res.Calls != 7 {
				t.Fatalf("%d calls to WhatsApp, want 7", res.Calls)
			}
		})
	}
}
