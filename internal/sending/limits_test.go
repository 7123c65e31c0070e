package sending_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"wagraph/internal/apperr"
	"wagraph/internal/ratelimit"
	"wagraph/internal/sending"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

var defaults = sending.Defaults{
	Limits:         []ratelimit.Limit{{Max: 6, Window: time.Minute}, {Max: 60, Window: time.Hour}, {Max: 300, Window: sending.Day}},
	NewChatsPerDay: 30,
	Warmup:         []int{20, 40, 80, 160},
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestWarmupCapByDay(t *testing.T) {
	// day 0 is an account never linked: it gets the first day's cap.
	want := map[int]int{0: 20, 1: 20, 2: 40, 3: 80, 4: 160, 5: 0, 30: 0}
	for day, cap := range want {
		if got := sending.WarmupCap(defaults.Warmup, day); got != cap {
			t.Errorf("day %d: cap %d, want %d", day, got, cap)
		}
	}
	if got := sending.WarmupCap(nil, 1); got != 0 {
		t.Errorf("no warm-up: cap %d, want 0", got)
	}
	linked := time.Date(2026, 11, 1, 15, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		at  time.Duration
		day int
	}{{0, 1}, {sending.Day - time.Millisecond, 1}, {sending.Day, 2}, {3*sending.Day + time.Hour, 4}, {-time.Hour, 1}} {
		if got := sending.WarmupDay(linked, linked.Add(c.at)); got != c.day {
			t.Errorf("%v after linking: day %d, want %d", c.at, got, c.day)
		}
	}
	if got := sending.WarmupDay(time.Time{}, linked); got != 0 {
		t.Errorf("never linked: day %d, want 0", got)
	}
}

func TestApplyCapsTheDailyWindow(t *testing.T) {
	for _, c := range []struct {
		name     string
		limits   []ratelimit.Limit
		cap      int
		want     string
		newChats int
	}{
		{"day capped", defaults.Limits, 20, "[6 per 1m0s 60 per 1h0m0s 20 per 24h0m0s]", 20},
		{"cap above the day limit", defaults.Limits, 400, "[6 per 1m0s 60 per 1h0m0s 300 per 24h0m0s]", 30},
		{"no cap", defaults.Limits, 0, "[6 per 1m0s 60 per 1h0m0s 300 per 24h0m0s]", 30},
		{"no daily window: one added at the end", []ratelimit.Limit{{Max: 5, Window: time.Minute}}, 40, "[5 per 1m0s 40 per 24h0m0s]", 30},
		{"no daily window: one added before a week", []ratelimit.Limit{{Max: 5, Window: time.Minute}, {Max: 900, Window: 7 * sending.Day}}, 40, "[5 per 1m0s 40 per 24h0m0s 900 per 168h0m0s]", 30},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, nc := sending.Apply(c.limits, 30, c.cap)
			if fmt.Sprint(got) != c.want || nc.Max != c.newChats || nc.Window != sending.Day {
				t.Fatalf("got %v, new chats %v; want %s, %d per day", got, nc, c.want, c.newChats)
			}
			if err := ratelimit.Validate("acc", got); err != nil {
				t.Fatalf("effective limits do not validate: %v", err)
			}
		})
	}
	// The input is not changed.
	if defaults.Limits[2].Max != 300 {
		t.Fatalf("Apply changed its input: %v", defaults.Limits)
	}
}

// addAccount stores an account, linked (moved into WARMING) at linkedAt
// unless it is zero.
func addAccount(t *testing.T, db *store.DB, id string, linkedAt time.Time) {
	t.Helper()
	ctx := context.Background()
	created := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	if _, err := db.NewRaw(`INSERT INTO accounts (id, name, status, reason_code, reason_message, version, created_at, updated_at)
		VALUES (?, ?, 'ACTIVE', 'OK', '', 2, ?, ?)`, id, id, created, created).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if linkedAt.IsZero() {
		return
	}
	// An older pairing first: the newest one counts.
	for v, at := range []time.Time{linkedAt.Add(-40 * sending.Day), linkedAt} {
		if _, err := db.NewRaw(`INSERT INTO account_status_history (account_id, version, from_status, to_status, reason_code, reason_message, at)
			VALUES (?, ?, 'AUTHENTICATING', 'WARMING', 'OK', '', ?)`, id, v+1, at).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func newPolicy(t *testing.T, db *store.DB, lim ratelimit.Limiter) (*sending.Policy, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	p, err := sending.New(db, lim, defaults, sending.Options{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return p, c
}

func TestEffectiveLimitsWithWarmup(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p, clk := newPolicy(t, db, ratelimit.NewMemory())
		linked := clk.t.Add(-2 * time.Hour)
		addAccount(t, db, "linked", linked)
		addAccount(t, db, "never", time.Time{})
		for _, c := range []struct {
			after    time.Duration
			day, cap int
			daily    int
		}{{2 * time.Hour, 1, 20, 20}, {sending.Day + time.Hour, 2, 40, 40}, {3 * sending.Day, 4, 160, 160}, {4 * sending.Day, 5, 0, 300}, {90 * sending.Day, 91, 0, 300}} {
			clk.t = linked.Add(c.after)
			e, err := p.Limits(ctx, "linked")
			if err != nil {
				t.Fatal(err)
			}
			if e.WarmupDay != c.day || e.WarmupCap != c.cap || e.Limits[2].Max != c.daily || e.Limits[0].Max != 6 || !e.LinkedAt.Equal(linked) {
				t.Fatalf("%v after linking: day %d cap %d limits %v linked %v; want day %d cap %d daily %d", c.after, e.WarmupDay, e.WarmupCap, e.Limits, e.LinkedAt, c.day, c.cap, c.daily)
			}
			if want := min(30, max(c.cap, 30*boolInt(c.cap == 0))); e.NewChats.Max != want {
				t.Fatalf("%v after linking: new chats %v, want %d", c.after, e.NewChats, want)
			}
		}
		e, err := p.Limits(ctx, "never")
		if err != nil || e.WarmupDay != 0 || e.WarmupCap != 20 || e.Limits[2].Max != 20 || e.Configured.Custom {
			t.Fatalf("never linked: %+v %v", e, err)
		}
		if _, err := p.Limits(ctx, "nobody"); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("unknown account: %v, want NOT_FOUND", err)
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestSetLimits(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p, clk := newPolicy(t, db, ratelimit.NewMemory())
		addAccount(t, db, "acc", clk.t.Add(-10*sending.Day)) // warm-up over
		own := []ratelimit.Limit{{Max: 2, Window: time.Minute}, {Max: 50, Window: sending.Day}}
		nc := 5
		got, err := p.SetLimits(ctx, "acc", own, &nc)
		if err != nil || !got.Custom || fmt.Sprint(got.Limits) != fmt.Sprint(own) || got.NewChatsPerDay != 5 || !got.UpdatedAt.Equal(clk.t) {
			t.Fatalf("set: %+v %v", got, err)
		}
		e, err := p.Limits(ctx, "acc")
		if err != nil || fmt.Sprint(e.Limits) != fmt.Sprint(own) || e.NewChats.Max != 5 {
			t.Fatalf("after set: %+v %v", e, err)
		}
		// Set again without newChatsPerDay: replaced, new chats back to the default.
		own = []ratelimit.Limit{{Max: 100, Window: sending.Day}}
		if _, err := p.SetLimits(ctx, "acc", own, nil); err != nil {
			t.Fatal(err)
		}
		e, err = p.Limits(ctx, "acc")
		if err != nil || fmt.Sprint(e.Limits) != "[100 per 24h0m0s]" || e.NewChats.Max != 30 {
			t.Fatalf("after second set: %+v %v", e, err)
		}

		zero, huge := 0, ratelimit.MaxPerWindow+1
		for _, c := range []struct {
			name   string
			limits []ratelimit.Limit
			nc     *int
			field  string
		}{
			{"none", nil, nil, "input.limits"},
			{"max 0", []ratelimit.Limit{{Max: 0, Window: time.Minute}}, nil, "input.limits[0].max"},
			{"window 0", []ratelimit.Limit{{Max: 1, Window: 0}}, nil, "input.limits[0].windowSeconds"},
			{"unsorted", []ratelimit.Limit{{Max: 9, Window: time.Hour}, {Max: 1, Window: time.Minute}}, nil, "input.limits[1].windowSeconds"},
			{"new chats 0", own, &zero, "input.newChatsPerDay"},
			{"new chats huge", own, &huge, "input.newChatsPerDay"},
		} {
			_, err := p.SetLimits(ctx, "acc", c.limits, c.nc)
			var e *apperr.Error
			if !errors.As(err, &e) || e.Code != apperr.InvalidInput || e.Field != c.field || e.Suggestion == "" {
				t.Errorf("%s: %v (field %q), want INVALID_INPUT on %s with a suggestion", c.name, err, fieldOf(e), c.field)
			}
		}
		if _, err := p.SetLimits(ctx, "nobody", own, nil); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("unknown account: %v, want NOT_FOUND", err)
		}
		// Refused input changed nothing.
		if e, _ := p.Limits(ctx, "acc"); fmt.Sprint(e.Limits) != "[100 per 24h0m0s]" {
			t.Fatalf("after refused sets: %v", e.Limits)
		}
		// Reset: the defaults again.
		got, err = p.ResetLimits(ctx, "acc")
		if err != nil || got.Custom || fmt.Sprint(got.Limits) != fmt.Sprint(defaults.Limits) || got.NewChatsPerDay != 30 {
			t.Fatalf("reset: %+v %v", got, err)
		}
		if e, _ := p.Limits(ctx, "acc"); e.Configured.Custom || fmt.Sprint(e.Limits) != fmt.Sprint(defaults.Limits) {
			t.Fatalf("after reset: %+v", e)
		}
		if _, err := p.ResetLimits(ctx, "nobody"); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("reset unknown account: %v, want NOT_FOUND", err)
		}
	})
}

func fieldOf(e *apperr.Error) string {
	if e == nil {
		return ""
	}
	return e.Field
}

func TestStatusAfterAdmissions(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		lim := ratelimit.NewMemory()
		p, clk := newPolicy(t, db, lim)
		addAccount(t, db, "acc", clk.t.Add(-time.Hour)) // day 1: cap 20
		e, err := p.Limits(ctx, "acc")
		if err != nil {
			t.Fatal(err)
		}
		// Three sends, one of them to a new chat.
		for range 3 {
			if d, err := lim.Allow(ctx, "acc", e.Limits); err != nil || !d.Allowed {
				t.Fatalf("allow: %+v %v", d, err)
			}
		}
		if d, err := lim.Allow(ctx, sending.NewChatsKey("acc"), []ratelimit.Limit{e.NewChats}); err != nil || !d.Allowed {
			t.Fatalf("allow new chat: %+v %v", d, err)
		}
		st, err := p.Status(ctx, "acc")
		if err != nil {
			t.Fatal(err)
		}
		if st.WarmupDay != 1 || st.WarmupCap != 20 || len(st.Windows) != 3 {
			t.Fatalf("status: %+v", st)
		}
		for i, want := range []struct{ limit, used, remaining int }{{6, 3, 3}, {60, 3, 57}, {20, 3, 17}} {
			w := st.Windows[i]
			if w.Limit.Max != want.limit || w.Used != want.used || w.Remaining != want.remaining || w.Reset.IsZero() {
				t.Errorf("window %d: %+v, want limit %d used %d remaining %d", i, w, want.limit, want.used, want.remaining)
			}
		}
		if st.NewChats.Limit.Max != 20 || st.NewChats.Used != 1 || st.NewChats.Remaining != 19 {
			t.Errorf("new chats: %+v", st.NewChats)
		}
		if _, err := p.Status(ctx, "nobody"); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("unknown account: %v, want NOT_FOUND", err)
		}
	})
}
