package supervisor_test

import (
	"context"
	"testing"
	"time"

	"wagraph/internal/account"
	"wagraph/internal/store"
	"wagraph/internal/supervisor"
)

func TestHealthSweepRepairsMissingPhoneNumbers(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{}, supervisor.Options{HealthSweepInterval: 5 * time.Minute, TimeoutCheckInterval: time.Hour})
	ctx := context.Background()

	// An ACTIVE account from before the fix: JID stored, number lost.
	fromJID := e.activate("Old row", "15550100090:1@s.whatsapp.net")
	if _, err := e.db.NewUpdate().Table("accounts").Set("phone_number = NULL").Where("id = ?", fromJID.ID).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	// A WARMING account whose session knows its device by now.
	fromSession := e.create("Session knows")
	e.startQR(fromSession.ID)
	e.sessions.emit(t, fromSession.ID, account.Paired{})
	e.sessions.emit(t, fromSession.ID, account.Connected{})
	e.wantStatus(fromSession.ID, account.StatusWarming, "")
	e.sessions.setLive(fromSession.ID, account.Device{JID: "15550100091:5@s.whatsapp.net"})
	// A WARMING account nobody knows the number of.
	unknown := e.create("Unknown")
	e.startQR(unknown.ID)
	e.sessions.emit(t, unknown.ID, account.Paired{})
	e.sessions.emit(t, unknown.ID, account.Connected{})

	e.clock.Advance(5 * time.Minute) // the periodic sweep runs

	if got := e.wantStatus(fromJID.ID, account.StatusActive, ""); got.PhoneNumber != "+15550100090" {
		t.Fatalf("repaired from JID: phone %q", got.PhoneNumber)
	}
	if got := e.wantStatus(fromSession.ID, account.StatusActive, account.ReasonConnected); got.PhoneNumber != "+15550100091" || got.JID != "15550100091:5@s.whatsapp.net" {
		t.Fatalf("repaired from session: %+v", got)
	}
	// The unknown one timed out with the activation at the same moment, or
	// is still warming; it must not have become ACTIVE without a number.
	if got := e.get(unknown.ID); got.Status == account.StatusActive {
		t.Fatalf("account without a number became ACTIVE: %+v", got)
	}
	if e.metrics.phoneCount("sweep_repaired") != 2 {
		t.Fatalf("phone metrics = %v", e.metrics.phone)
	}

	rep, err := e.sup.SweepHealth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Repaired != 0 {
		t.Fatalf("second sweep repaired %d again", rep.Repaired)
	}
}

func TestHealthSweepCountsMissingAndRecordsActivity(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{ActivationTimeout: time.Hour})
	ctx := context.Background()
	unknown := e.create("Unknown")
	e.startQR(unknown.ID)
	e.sessions.emit(t, unknown.ID, account.Paired{})
	e.sessions.emit(t, unknown.ID, account.Connected{})
	online := e.activate("Online", "15550100092:1@s.whatsapp.net")
	e.sessions.setOnline(online.ID, true)
	e.clock.Advance(time.Minute)

	rep, err := e.sup.SweepHealth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checked != 1 || rep.Missing != 1 || rep.Repaired != 0 || rep.Active != 1 {
		t.Fatalf("report = %+v", rep)
	}
	if e.metrics.phoneCount("sweep_missing") == 0 {
		t.Fatalf("phone metrics = %v", e.metrics.phone)
	}
	if got := e.get(online.ID); !got.LastActiveAt.Equal(e.clock.Now()) {
		t.Fatalf("last active %v, want %v", got.LastActiveAt, e.clock.Now())
	}
}
