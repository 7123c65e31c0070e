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

type countingMetrics struct {
	decisions map[string]int
	paused    map[sending.PauseReason]int
}

func (m *countingMetrics) Decision(admitted bool, window string) {
	if admitted {
		window = "admitted"
	}
	m.decisions[window]++
}
func (m *countingMetrics) Paused(r sending.PauseReason) { m.paused[r]++ }

func newPausePolicy(t *testing.T, db *store.DB) (*sending.Policy, *clock, *countingMetrics) {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	m := &countingMetrics{decisions: map[string]int{}, paused: map[sending.PauseReason]int{}}
	p, err := sending.New(db, ratelimit.NewMemory(ratelimit.WithClock(c.now)), defaults, sending.Options{Now: c.now, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	addAccount(t, db, "acc", c.t.Add(-10*sending.Day))
	return p, c, m
}

func TestManualPauseRefusesAdmitUntilResumed(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p, clk, m := newPausePolicy(t, db)
		pz, err := p.Pause(ctx, "acc", time.Time{}, "checking the phone")
		if err != nil || pz.Reason != sending.PauseManual || !pz.OpenEnded() || pz.Message != "Paused by an operator: checking the phone" {
			t.Fatalf("pause: %+v %v", pz, err)
		}
		a, err := p.Admit(ctx, "acc", true)
		if err != nil || a.Allowed || a.Pause == nil || a.Pause.Reason != sending.PauseManual || !a.RetryAt.Equal(clk.t.Add(time.Minute)) {
			t.Fatalf("admit while paused: %+v %v; want refused by the pause, retry in the recheck minute", a, err)
		}
		st, err := p.Status(ctx, "acc")
		if err != nil || st.Windows[0].Used != 0 || st.NewChats.Used != 0 || st.Pause == nil {
			t.Fatalf("status while paused: %+v %v; want nothing counted and the pause shown", st, err)
		}
		ended, err := p.Resume(ctx, "acc")
		if err != nil || ended == nil || ended.Reason != sending.PauseManual {
			t.Fatalf("resume: %+v %v", ended, err)
		}
		if a, err := p.Admit(ctx, "acc", false); err != nil || !a.Allowed {
			t.Fatalf("admit after resume: %+v %v", a, err)
		}
		if again, err := p.Resume(ctx, "acc"); err != nil || again != nil {
			t.Fatalf("resume when not paused: %+v %v; want nothing, no error", again, err)
		}
		if m.decisions[sending.WindowPaused] != 1 || m.decisions["admitted"] != 1 || m.paused[sending.PauseManual] != 1 {
			t.Fatalf("metrics: %+v", m)
		}
		h, err := p.PauseHistory(ctx, "acc", 10)
		if err != nil || len(h) != 1 || h[0].EndReason != "RESUMED" || !h[0].EndedAt.Equal(clk.t) {
			t.Fatalf("history: %+v %v", h, err)
		}
	})
}

func TestTimedPauseEndsByItself(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p, clk, _ := newPausePolicy(t, db)
		until := clk.t.Add(90 * time.Minute)
		if _, err := p.Pause(ctx, "acc", until, ""); err != nil {
			t.Fatal(err)
		}
		clk.t = until.Add(-time.Millisecond)
		a, err := p.Admit(ctx, "acc", false)
		if err != nil || a.Allowed || !a.RetryAt.Equal(until) {
			t.Fatalf("admit 1 ms before the end: %+v %v; want refused until %v", a, err, until)
		}
		clk.t = until
		if a, err := p.Admit(ctx, "acc", false); err != nil || !a.Allowed {
			t.Fatalf("admit at the end, no sweep run: %+v %v", a, err)
		}
		counts, err := p.PausedCounts(ctx)
		if err != nil || len(counts) != 0 {
			t.Fatalf("paused counts after the end: %v %v", counts, err)
		}
		n, err := p.ExpirePauses(ctx)
		if err != nil || n != 1 {
			t.Fatalf("expire: %d %v", n, err)
		}
		h, err := p.PauseHistory(ctx, "acc", 10)
		if err != nil || len(h) != 1 || h[0].EndReason != "EXPIRED" || !h[0].EndedAt.Equal(until) {
			t.Fatalf("history: %+v %v", h, err)
		}
		if n, err := p.ExpirePauses(ctx); err != nil || n != 0 {
			t.Fatalf("second expire: %d %v", n, err)
		}
	})
}

func TestPauseInputErrors(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p, clk, _ := newPausePolicy(t, db)
		if _, err := p.Pause(ctx, "acc", clk.t.Add(-time.Second), ""); apperr.CodeOf(err) != apperr.InvalidInput {
			t.Fatalf("until in the past: %v", err)
		}
		long := make([]byte, sending.MaxPauseNote+1)
		for i := range long {
			long[i] = 'x'
		}
		if _, err := p.Pause(ctx, "acc", time.Time{}, string(long)); apperr.CodeOf(err) != apperr.InvalidInput {
			t.Fatalf("long note: %v", err)
		}
		if _, err := p.Pause(ctx, "nobody", time.Time{}, ""); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("unknown account: %v", err)
		}
		if _, err := p.Resume(ctx, "nobody"); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("resume unknown account: %v", err)
		}
	})
}

func TestSignalsKeepTheLongerPause(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p, clk, _ := newPausePolicy(t, db)
		now := clk.t
		// Error 463: the conservative guess, 24 hours.
		if err := p.RecordSendResult(ctx, "acc", 463); err != nil {
			t.Fatal(err)
		}
		cur, _ := p.CurrentPause(ctx, "acc")
		if cur == nil || cur.Reason != sending.PauseSendRefused463 || cur.Code != 463 || !cur.Until.Equal(now.Add(24*time.Hour)) {
			t.Fatalf("after 463: %+v", cur)
		}
		// WhatsApp's own end time replaces the guess, even though earlier.
		lock := now.Add(3 * time.Hour)
		cur, err := p.Signal(ctx, "acc", sending.Pause{Reason: sending.PauseReachoutTimelock, Until: lock, Message: "time-lock"})
		if err != nil || cur.Reason != sending.PauseReachoutTimelock || !cur.Until.Equal(lock) {
			t.Fatalf("time-lock after 463: %+v %v", cur, err)
		}
		// A shorter ban does not shorten it; a longer one replaces it.
		cur, _ = p.Signal(ctx, "acc", sending.Pause{Reason: sending.PauseTemporaryBan, Code: 101, Until: now.Add(time.Hour)})
		if cur.Reason != sending.PauseReachoutTimelock {
			t.Fatalf("a shorter ban replaced the time-lock: %+v", cur)
		}
		ban := now.Add(5 * time.Hour)
		cur, _ = p.Signal(ctx, "acc", sending.Pause{Reason: sending.PauseTemporaryBan, Code: 101, Until: ban})
		if cur.Reason != sending.PauseTemporaryBan || cur.Code != 101 || !cur.Until.Equal(ban) {
			t.Fatalf("longer ban: %+v", cur)
		}
		// Lifting a time-lock leaves the ban.
		if lifted, err := p.Lift(ctx, "acc", sending.PauseReachoutTimelock); err != nil || lifted != nil {
			t.Fatalf("lift a time-lock under a ban: %+v %v", lifted, err)
		}
		h, _ := p.PauseHistory(ctx, "acc", 10)
		if len(h) != 3 || h[0].EndReason != "" || h[1].EndReason != "REPLACED" || h[2].EndReason != "REPLACED" {
			t.Fatalf("history: %+v", h)
		}
		counts, _ := p.PausedCounts(ctx)
		if counts[sending.PauseTemporaryBan] != 1 || len(counts) != 1 {
			t.Fatalf("paused counts: %v", counts)
		}
	})
}

func TestFailureBurstPauses(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p, clk, _ := newPausePolicy(t, db)
		// 4 failures in 10 minutes, and one more 10 minutes after the first.
		for i := range 4 {
			if err := p.RecordSendResult(ctx, "acc", 479); err != nil {
				t.Fatal(err)
			}
			if err := p.RecordSendResult(ctx, "acc", 0); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				clk.t = clk.t.Add(time.Minute)
			}
		}
		if cur, _ := p.CurrentPause(ctx, "acc"); cur != nil {
			t.Fatalf("paused after 4 failures: %+v", cur)
		}
		clk.t = clk.t.Add(9 * time.Minute) // the first failure is 10 minutes old
		if err := p.RecordSendResult(ctx, "acc", 500); err != nil {
			t.Fatal(err)
		}
		if cur, _ := p.CurrentPause(ctx, "acc"); cur != nil {
			t.Fatalf("paused by failures spread over more than 10 minutes: %+v", cur)
		}
		if err := p.RecordSendResult(ctx, "acc", 500); err != nil {
			t.Fatal(err)
		}
		cur, _ := p.CurrentPause(ctx, "acc")
		if cur == nil || cur.Reason != sending.PauseFailureBurst || cur.Code != 500 || !cur.Until.Equal(clk.t.Add(30*time.Minute)) {
			t.Fatalf("after 5 failures within 10 minutes: %+v", cur)
		}
		a, err := p.Admit(ctx, "acc", false)
		if err != nil || a.Allowed || !a.RetryAt.Equal(cur.Until) {
			t.Fatalf("admit in a failure burst pause: %+v %v", a, err)
		}
	})
}

func TestPausedError(t *testing.T) {
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	err := sending.PausedError(&sending.Pause{Reason: sending.PauseTemporaryBan, Code: 102, Until: until, Message: "banned"})
	e, ok := apperr.As(err)
	if !ok || e.Code != apperr.SendingPaused || !e.Retryable || e.RetryAfter <= 59*time.Minute ||
		e.Extensions["pausedUntil"] != until.Format(time.RFC3339) || e.Extensions["pauseReason"] != "TEMPORARY_BAN" || e.Extensions["pauseCode"] != 102 {
		t.Fatalf("paused error: %+v", e)
	}
	e, _ = apperr.As(sending.PausedError(&sending.Pause{Reason: sending.PauseManual}))
	if v, ok := e.Extensions["pausedUntil"]; !ok || v != nil || e.RetryAfter != 0 {
		t.Fatalf("open-ended paused error: %+v", e)
	}
}

func TestSignalWithoutAnEndGetsOne(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p, clk, _ := newPausePolicy(t, db)
		cur, err := p.Signal(ctx, "acc", sending.Pause{Reason: sending.PauseTemporaryBan, Code: 103})
		if err != nil || !cur.Until.Equal(clk.t.Add(time.Hour)) || !cur.Since.Equal(clk.t) {
			t.Fatalf("ban without an expiry: %+v %v; want an hour", cur, err)
		}
		if _, err := p.Resume(ctx, "acc"); err != nil {
			t.Fatal(err)
		}
		lock := clk.t.Add(2 * time.Hour)
		if _, err := p.Signal(ctx, "acc", sending.Pause{Reason: sending.PauseReachoutTimelock, Until: lock}); err != nil {
			t.Fatal(err)
		}
		// A 463 during a known time-lock keeps WhatsApp's end, though its
		// own guess (24 h) is later.
		if err := p.RecordSendResult(ctx, "acc", 463); err != nil {
			t.Fatal(err)
		}
		if cur, _ := p.CurrentPause(ctx, "acc"); cur.Reason != sending.PauseReachoutTimelock || !cur.Until.Equal(lock) {
			t.Fatalf("463 during a time-lock: %+v", cur)
		}
		if _, err := p.Signal(ctx, "acc", sending.Pause{Reason: sending.PauseManual}); apperr.CodeOf(err) != apperr.InvalidInput {
			t.Fatalf("MANUAL as a signal: %v", err)
		}
		if lifted, err := p.Lift(ctx, "acc", sending.PauseReachoutTimelock); err != nil || lifted == nil {
			t.Fatalf("lift: %+v %v", lifted, err)
		}
		if a, err := p.Admit(ctx, "acc", true); err != nil || !a.Allowed {
			t.Fatalf("admit after the lift: %+v %v", a, err)
		}
	})
}

func TestPauseOptionsValidate(t *testing.T) {
	for _, o := range []sending.PauseOptions{{FailureBurst: 1}, {FailureWindow: 400 * sending.Day}, {FailureWindow: time.Microsecond}} {
		if _, err := sending.New(nil, ratelimit.NewMemory(), defaults, sending.Options{Pauses: o}); apperr.CodeOf(err) != apperr.InvalidInput {
			t.Errorf("options %+v: %v, want INVALID_INPUT", o, err)
		}
	}
	p, err := sending.New(nil, ratelimit.NewMemory(), defaults, sending.Options{Pauses: sending.PauseOptions{FailureBurst: -1}})
	if err != nil {
		t.Fatal(err)
	}
	// Without a bus there is no live stream, and failures never pause.
	if _, err := p.WatchRateLimit(context.Background(), "acc"); apperr.CodeOf(err) != apperr.Unavailable {
		t.Errorf("watch without a bus: %v", err)
	}
	for range 10 {
		if err := p.RecordSendResult(context.Background(), "acc", 500); err != nil {
			t.Fatalf("failure with the burst check off: %v", err)
		}
	}
}
