package supervisor_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"wagraph/internal/account"
	"wagraph/internal/store"
	"wagraph/internal/supervisor"
)

func TestRestartRestoresActiveAndMarksMissingAndExpired(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	live := e.activate("Live", "15550100040:1@s.whatsapp.net")
	gone := e.activate("Device gone", "15550100041:1@s.whatsapp.net")
	idle := e.activate("Idle", "15550100042:1@s.whatsapp.net")
	scanning := e.create("Scanning")
	e.startQR(scanning.ID)
	banned := e.activate("Banned", "15550100043:1@s.whatsapp.net")
	e.sessions.emit(t, banned.ID, account.TemporaryBan{Code: 101, Until: e.clock.Now().Add(30 * 24 * time.Hour)})
	pending := e.create("Never linked")

	// Fifteen days pass; only "Live" stays connected the whole time (the
	// activity timer, here at Close, records that).
	if err := e.sup.Close(); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(15 * 24 * time.Hour)
	e.sessions.setOnline(live.ID, true)
	e.build()
	if err := e.sup.Close(); err != nil { // records activity of the online session
		t.Fatal(err)
	}
	if err := e.sessions.DeleteDevice(context.Background(), "15550100041:1@s.whatsapp.net"); err != nil {
		t.Fatal(err)
	}
	starts := e.sessions.startCount()
	e.start()

	got := e.wantStatus(live.ID, account.StatusActive, account.ReasonConnected)
	restarted := e.sessions.starts[starts:]
	if len(restarted) != 1 || restarted[0].JID != "15550100040:1@s.whatsapp.net" || restarted[0].Method != "" {
		t.Fatalf("sessions started on restore: %+v; want one login with the stored device, no pairing", restarted)
	}
	h := statuses(e.history(live.ID))
	if !slices.Equal(h[len(h)-2:], []account.Status{account.StatusReconnecting, account.StatusActive}) {
		t.Fatalf("live history ends %v", h)
	}
	if got.PhoneNumber != "+15550100040" {
		t.Fatalf("phone = %q", got.PhoneNumber)
	}

	e.wantStatus(gone.ID, account.StatusLoggedOut, account.ReasonSessionMissing)
	exp := e.wantStatus(idle.ID, account.StatusExpired, account.ReasonSessionExpired)
	if !strings.Contains(exp.Reason.Message, "15 days") {
		t.Fatalf("expired reason %q does not say how long", exp.Reason.Message)
	}
	e.wantStatus(scanning.ID, account.StatusPending, account.ReasonActivationTimeout)
	e.wantStatus(banned.ID, account.StatusBanned, account.ReasonWATemporaryBan)
	e.wantStatus(pending.ID, account.StatusPending, account.ReasonCreated)
	for _, r := range []string{"session_missing", "session_expired", "connecting", "banned", "timed_out"} {
		if e.metrics.restoredCount(r) != 1 {
			t.Fatalf("restored metrics = %v, want one %s", e.metrics.restored, r)
		}
	}

	// An expired session may still work: reconnect tries it.
	if _, err := e.sup.Reconnect(context.Background(), idle.ID); err != nil {
		t.Fatal(err)
	}
	e.wantStatus(idle.ID, account.StatusActive, account.ReasonConnected)
}

func TestRestartDuringScanInterruptsActivation(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	a := e.create("Scanning")
	e.startQR(a.ID)
	e.restart()
	got := e.wantStatus(a.ID, account.StatusPending, account.ReasonActivationStopped)
	if got.Activation != nil {
		t.Fatalf("activation left: %+v", got.Activation)
	}
}

func TestRestoreConnectsWithBoundedConcurrency(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{}, supervisor.Options{RestoreConcurrency: 2})
	var ids []string
	for i := 0; i < 6; i++ {
		a := e.activate("Bulk", "1555010005"+string(rune('0'+i))+":1@s.whatsapp.net")
		ids = append(ids, a.ID)
	}
	if err := e.sup.Close(); err != nil {
		t.Fatal(err)
	}
	var (
		inFlight, peak int
		gate           = make(chan struct{})
		entered        = make(chan struct{}, 6)
	)
	e.sessions.onStart = func(req supervisor.StartRequest) []account.SessionEvent {
		e.sessions.mu.Lock()
		inFlight++
		peak = max(peak, inFlight)
		e.sessions.mu.Unlock()
		entered <- struct{}{}
		<-gate
		e.sessions.mu.Lock()
		inFlight--
		e.sessions.mu.Unlock()
		return []account.SessionEvent{account.Connected{}}
	}
	e.build()
	if err := e.sup.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.sup.Close() })
	<-entered
	<-entered
	select {
	case <-entered:
		t.Fatal("a third session connected while two were still connecting")
	case <-e.sup.Restored():
		t.Fatal("restore finished early")
	default:
	}
	close(gate)
	<-e.sup.Restored()
	if peak != 2 {
		t.Fatalf("peak concurrent connects = %d, want 2", peak)
	}
	for _, id := range ids {
		e.wantStatus(id, account.StatusActive, "")
	}
}
