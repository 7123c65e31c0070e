package contact_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"wagraph/internal/contact"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// A scrape's run may take longer than River's one-minute job timeout: the
// listing step of an account in 500 groups of 1,000 (one GetJoinedGroups
// call storing 400,000 LID mappings) outlasted it, was cancelled, and
// started over on every retry. The context the WhatsApp port gets carries
// the scrape's own bound (GroupOptions.JobTimeout, 10 minutes by default).
func TestScrapeRunGetsItsOwnJobTimeout(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		for _, tc := range []struct {
			name string
			set  time.Duration
			want time.Duration
		}{
			{"default", 0, 10 * time.Minute},
			{"set", 3 * time.Minute, 3 * time.Minute},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := newGroupsEnv(t, db, contact.GroupOptions{JobTimeout: tc.set})
				var until atomic.Int64 // the run's time left when listing
				e.wa.onJoined = func(ctx context.Context) {
					if d, ok := ctx.Deadline(); ok {
						until.Store(int64(time.Until(d)))
					}
				}
				job, err := e.groups.StartScrape(context.Background(), contact.ScrapeInput{AccountID: "acc1", All: true})
				if err != nil {
					t.Fatal(err)
				}
				if _, final := e.follow(t, job.ID); final.State != contact.ScrapeDone {
					t.Fatalf("scrape ended %s: %s", final.State, final.LastError)
				}
				left := time.Duration(until.Load())
				// The run began at most a few seconds before the listing.
				if left > tc.want || left < tc.want-10*time.Second {
					t.Fatalf("the listing had %v left before River cancels the run, want about %v", left, tc.want)
				}
			})
		}
	})
}
