package sending_test

import (
	"context"
	"testing"
	"time"

	"wagraph/internal/pubsub"
	"wagraph/internal/ratelimit"
	"wagraph/internal/sending"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// The live stream of an account's rate-limit status: the status now, an
// event for a pause and its end at once, and one coalesced event for a
// burst of admitted sends, even under a stopped clock.
func TestWatchRateLimit(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		b := pubsub.NewMemory(pubsub.Options{})
		t.Cleanup(func() { _ = b.Close() })
		clk := &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
		p, err := sending.New(db, ratelimit.NewMemory(ratelimit.WithClock(clk.now)), defaults,
			sending.Options{Now: clk.now, Bus: b, PublishInterval: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		addAccount(t, db, "acc", clk.t.Add(-10*sending.Day))
		cur, err := p.WatchRateLimit(ctx, "acc")
		if err != nil {
			t.Fatal(err)
		}
		next := func() *sending.Status {
			t.Helper()
			ev, err := cur.Next(ctx)
			if err != nil {
				t.Fatalf("next: %v", err)
			}
			return ev.Value.Status
		}
		if st := next(); st.Pause != nil || st.Windows[0].Used != 0 {
			t.Fatalf("snapshot: %+v", st)
		}
		if _, err := p.Pause(ctx, "acc", time.Time{}, ""); err != nil {
			t.Fatal(err)
		}
		if st := next(); st.Pause == nil || st.Pause.Reason != sending.PauseManual {
			t.Fatalf("after the pause: %+v", st.Pause)
		}
		if _, err := p.Resume(ctx, "acc"); err != nil {
			t.Fatal(err)
		}
		if st := next(); st.Pause != nil {
			t.Fatalf("after the resume: %+v", st.Pause)
		}
		for range 5 {
			if a, err := p.Admit(ctx, "acc", false); err != nil || !a.Allowed {
				t.Fatalf("admit: %+v %v", a, err)
			}
		}
		// One event for the five sends, at most 2 s after the first.
		if st := next(); st.Windows[0].Used != 5 {
			t.Fatalf("after 5 sends: used %d", st.Windows[0].Used)
		}
		if _, err := p.Pause(ctx, "acc", clk.t.Add(time.Hour), ""); err != nil {
			t.Fatal(err)
		}
		if st := next(); st.Pause == nil || st.Windows[0].Used != 5 {
			t.Fatalf("next event after the sends: %+v; want the pause, no second event for the sends", st)
		}
		if _, err := p.WatchRateLimit(ctx, "nobody"); err == nil {
			t.Fatal("watching an unknown account: no error")
		}
	})
}
