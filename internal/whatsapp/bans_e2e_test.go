package whatsapp_test

// Ban signals through the real whatsmeow client against the simulator: a
// temporary ban and the reach-out time-lock pause the account's sending
// (sending.Policy, on a real database) with the right reason and end, a
// send refused with 463 too, and Admit refuses while paused and admits
// after.

import (
	"context"
	"sync"
	"testing"
	"time"

	"wagraph/internal/account"
	"wagraph/internal/bus"
	"wagraph/internal/ratelimit"
	"wagraph/internal/sending"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
	"wagraph/internal/supervisor"
	"wagraph/internal/whatsapp"
)

// skewClock is the policy's clock: the real time plus an offset a test
// moves forward to see a pause end.
type skewClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *skewClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *skewClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

type banE2E struct {
	*e2e
	policy *sending.Policy
	clock  *skewClock
}

// newBanE2E is newE2E with the send policy as the sessions' pause port, as
// the server wires it.
func newBanE2E(t *testing.T, db *store.DB) *banE2E {
	t.Helper()
	e := newE2E(t, db)
	e.stop() // restarted below with the pause port
	clk := &skewClock{}
	policy, err := sending.New(db, ratelimit.NewMemory(), sending.Defaults{
		Limits: []ratelimit.Limit{{Max: 100, Window: time.Minute}}, NewChatsPerDay: 100,
	}, sending.Options{Now: clk.now, Bus: e.bus, Logger: e.log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = policy.Close() })
	container, err := whatsapp.OpenDeviceStore(context.Background(), db, e.log)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = account.New(e.db, e.bus, e.opts)
	e.sup = supervisor.New(e.svc, func(sink supervisor.EventSink) supervisor.Sessions {
		e.mgr = whatsapp.NewManager(container, sink, whatsapp.Options{Logger: e.log, Simulator: e.sim, Pauses: policy})
		return e.mgr
	}, supervisor.Options{Logger: e.log, ReconnectBaseDelay: 100 * time.Millisecond, ReconnectMaxDelay: time.Second})
	if err := e.sup.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	sup := e.sup
	t.Cleanup(func() { _ = sup.Close() })
	return &banE2E{e2e: e, policy: policy, clock: clk}
}

// waitPause reads the account's rate-limit events until ok(pause) holds.
func (e *banE2E) waitPause(sub bus.Subscription, ok func(*sending.Pause) bool) *sending.Pause {
	e.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case m, open := <-sub.C():
			if !open {
				e.t.Fatalf("rate-limit subscription ended: %v", sub.Err())
			}
			ev, err := bus.Decode[sending.RateLimitEvent](m)
			if err != nil {
				e.t.Fatal(err)
			}
			if ok(ev.Status.Pause) {
				return ev.Status.Pause
			}
		case <-deadline:
			cur, err := e.policy.CurrentPause(context.Background(), "")
			e.t.Fatalf("the pause did not come within %v (current %+v %v)", waitFor, cur, err)
		}
	}
}

func (e *banE2E) subscribe(accountID string) bus.Subscription {
	e.t.Helper()
	sub, err := e.bus.Subscribe(e.t.Context(), string(sending.RateLimitTopic(accountID)))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(sub.Close)
	return sub
}

func reason(r sending.PauseReason) func(*sending.Pause) bool {
	return func(p *sending.Pause) bool { return p != nil && p.Reason == r }
}

func TestE2ETemporaryBanPausesSending(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newBanE2E(t, db)
		a, phone := e.activateQR("Banned")
		sub := e.subscribe(a.ID)
		start := time.Now()
		if err := e.sim.TempBan(phone.JID, 102, 2*time.Hour); err != nil {
			t.Fatal(err)
		}
		p := e.waitPause(sub, reason(sending.PauseTemporaryBan))
		if p.Code != 102 || p.Until.Before(start.Add(2*time.Hour-time.Second)) || p.Until.After(time.Now().Add(2*time.Hour)) {
			t.Fatalf("ban pause %+v, want code 102 until about 2h from now", p)
		}
		e.waitStatus(a.ID, account.StatusBanned)
		adm, err := e.policy.Admit(ctx, a.ID, true)
		if err != nil || adm.Allowed || adm.Pause == nil || !adm.RetryAt.Equal(p.Until) {
			t.Fatalf("admit while banned: %+v %v; want refused until %v", adm, err, p.Until)
		}
		e.clock.advance(2 * time.Hour)
		if adm, err := e.policy.Admit(ctx, a.ID, true); err != nil || !adm.Allowed {
			t.Fatalf("admit after the ban: %+v %v", adm, err)
		}
	})
}

func TestE2EReachoutTimelockPausesSending(t *testing.T) {
	ctx := context.Background()
	e := newBanE2E(t, storetest.Open(t, store.SQLite))
	a, phone := e.activateQR("Cold caller")
	sub := e.subscribe(a.ID)
	until := time.Now().Add(3 * time.Hour).Truncate(time.Second).UTC()
	if err := e.sim.ReachoutTimelock(phone.JID, until, "DEFAULT"); err != nil {
		t.Fatal(err)
	}
	// whatsmeow drops the notification; the next login asks WhatsApp.
	if err := e.sim.Drop(phone.JID); err != nil {
		t.Fatal(err)
	}
	p := e.waitPause(sub, reason(sending.PauseReachoutTimelock))
	if !p.Until.Equal(until) || p.Code != 463 {
		t.Fatalf("time-lock pause %+v, want until %v", p, until)
	}
	if adm, err := e.policy.Admit(ctx, a.ID, false); err != nil || adm.Allowed || !adm.RetryAt.Equal(until) {
		t.Fatalf("admit during the time-lock: %+v %v", adm, err)
	}
	// WhatsApp lifts it early: the next login lifts the pause.
	if err := e.sim.ReachoutTimelock(phone.JID, time.Time{}, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.Drop(phone.JID); err != nil {
		t.Fatal(err)
	}
	e.waitPause(sub, func(p *sending.Pause) bool { return p == nil })
	if adm, err := e.policy.Admit(ctx, a.ID, false); err != nil || !adm.Allowed {
		t.Fatalf("admit after the lock was lifted: %+v %v", adm, err)
	}
	h, err := e.policy.PauseHistory(ctx, a.ID, 10)
	if err != nil || len(h) != 1 || h[0].EndReason != "LIFTED" {
		t.Fatalf("history: %+v %v", h, err)
	}
}

func TestE2ESendRefused463PausesUntilTheTimelockEnds(t *testing.T) {
	ctx := context.Background()
	e := newBanE2E(t, storetest.Open(t, store.SQLite))
	a, phone := e.activateQR("Refused")
	sub := e.subscribe(a.ID)
	friend := e.sim.NewPhone()
	if code, err := whatsapp.SendTextForTest(ctx, e.mgr, a.ID, friend.JID, "hello"); err != nil || code != 0 {
		t.Fatalf("first send: %d %v", code, err)
	}
	until := time.Now().Add(5 * time.Hour).Truncate(time.Second).UTC()
	if err := e.sim.ReachoutTimelock(phone.JID, until, "DEFAULT"); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.RejectSends(phone.JID, 463); err != nil {
		t.Fatal(err)
	}
	code, err := whatsapp.SendTextForTest(ctx, e.mgr, a.ID, e.sim.NewPhone().JID, "cold")
	if err != nil || code != 463 {
		t.Fatalf("send to a new chat: %d %v, want 463", code, err)
	}
	// What the send worker does with it: a 24-hour guess, until WhatsApp's
	// own end arrives (in either order).
	if err := e.policy.RecordSendResult(ctx, a.ID, code); err != nil {
		t.Fatal(err)
	}
	p := e.waitPause(sub, reason(sending.PauseReachoutTimelock))
	if !p.Until.Equal(until) {
		t.Fatalf("pause %+v, want the time-lock's end %v", p, until)
	}
	if cur, err := e.policy.CurrentPause(ctx, a.ID); err != nil || cur.Reason != sending.PauseReachoutTimelock || !cur.Until.Equal(until) {
		t.Fatalf("current pause %+v %v", cur, err)
	}
}
