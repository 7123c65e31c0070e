package sending_test

import (
	"context"
	"testing"
	"time"

	"wagraph/internal/apperr"
	"wagraph/internal/ratelimit"
	"wagraph/internal/sending"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

func TestAdmitCountsEveryWindowAndNewChats(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
		lim := ratelimit.NewMemory(ratelimit.WithClock(clk.now))
		p, err := sending.New(db, lim, defaults, sending.Options{Now: clk.now})
		if err != nil {
			t.Fatal(err)
		}
		addAccount(t, db, "acc", clk.t.Add(-10*sending.Day)) // warm-up over: 6/min, 30 new chats a day
		for i := range 6 {
			a, err := p.Admit(ctx, "acc", i == 0)
			if err != nil || !a.Allowed {
				t.Fatalf("send %d: %+v %v", i, a, err)
			}
		}
		a, err := p.Admit(ctx, "acc", false)
		if err != nil || a.Allowed || a.NewChats || a.Refused.Window != time.Minute || !a.RetryAt.Equal(clk.t.Add(time.Minute)) {
			t.Fatalf("7th send in a minute: %+v %v; want refused by the minute window until %v", a, err, clk.t.Add(time.Minute))
		}
		st, err := p.Status(ctx, "acc")
		if err != nil || st.Windows[0].Used != 6 || st.NewChats.Used != 1 {
			t.Fatalf("status after 6 sends, one to a new chat: %+v %v", st, err)
		}
		if _, err := p.Admit(ctx, "nobody", false); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("unknown account: %v, want NOT_FOUND", err)
		}
	})
}

func TestAdmitRefusesNewChatsOverTheirLimit(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
		lim := ratelimit.NewMemory(ratelimit.WithClock(clk.now))
		p, err := sending.New(db, lim, defaults, sending.Options{Now: clk.now})
		if err != nil {
			t.Fatal(err)
		}
		addAccount(t, db, "acc", clk.t.Add(-10*sending.Day))
		one := 1
		if _, err := p.SetLimits(ctx, "acc", defaults.Limits, &one); err != nil {
			t.Fatal(err)
		}
		if a, err := p.Admit(ctx, "acc", true); err != nil || !a.Allowed {
			t.Fatalf("first new chat: %+v %v", a, err)
		}
		a, err := p.Admit(ctx, "acc", true)
		if err != nil || a.Allowed || !a.NewChats || a.Refused.Window != sending.Day {
			t.Fatalf("second new chat: %+v %v; want refused by the new-chats limit", a, err)
		}
		// A known chat is still admitted.
		if a, err := p.Admit(ctx, "acc", false); err != nil || !a.Allowed {
			t.Fatalf("known chat after the new-chats limit: %+v %v", a, err)
		}
	})
}

func TestAdmitKeepsNewChatsWhileAWindowIsFull(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
		lim := ratelimit.NewMemory(ratelimit.WithClock(clk.now))
		p, err := sending.New(db, lim, defaults, sending.Options{Now: clk.now})
		if err != nil {
			t.Fatal(err)
		}
		addAccount(t, db, "acc", clk.t.Add(-10*sending.Day))
		for range 6 {
			if a, err := p.Admit(ctx, "acc", false); err != nil || !a.Allowed {
				t.Fatalf("known chat: %+v %v", a, err)
			}
		}
		// A new-chat message retried while the minute is full: refused by
		// the minute, and the day's new chats stay untouched.
		for range 5 {
			a, err := p.Admit(ctx, "acc", true)
			if err != nil || a.Allowed || a.NewChats || a.Refused.Window != time.Minute || !a.RetryAt.Equal(clk.t.Add(time.Minute)) {
				t.Fatalf("new chat with the minute full: %+v %v", a, err)
			}
		}
		st, err := p.Status(ctx, "acc")
		if err != nil || st.NewChats.Used != 0 {
			t.Fatalf("new chats used after refusals: %+v %v; want 0", st.NewChats, err)
		}
	})
}
