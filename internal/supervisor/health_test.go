package supervisor_test

import (
	"context"
	"testing"
	"time"

	"wagraph/internal/account"
	"wagraph/internal/store"
	"wagraph/internal/supervisor"
)

func TestPhoneSweepRepairsMissingPhoneNumbers(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
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
	// A WARMING account only known by its LID, whose session runs on another
	// instance (no live session here): whatsmeow's device store, shared by
	// the instances, knows its JID.
	fromStore := e.create("Store knows")
	e.startQR(fromStore.ID)
	e.sessions.emit(t, fromStore.ID, account.Paired{Device: account.Device{LID: "98765432101234@lid"}})
	e.sessions.emit(t, fromStore.ID, account.Connected{})
	e.wantStatus(fromStore.ID, account.StatusWarming, "")
	if err := e.sessions.Stop(ctx, fromStore.ID); err != nil {
		t.Fatal(err)
	}
	e.sessions.storeDeviceInfo("98765432101234@lid", account.Device{JID: "15550100093:2@s.whatsapp.net", LID: "98765432101234@lid"})
	// A WARMING account nobody knows the number of.
	unknown := e.create("Unknown")
	e.startQR(unknown.ID)
	e.sessions.emit(t, unknown.ID, account.Paired{})
	e.sessions.emit(t, unknown.ID, account.Connected{})

	rep, err := e.sup.SweepPhoneNumbers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checked != 4 || rep.Repaired != 3 || rep.Missing != 1 {
		t.Fatalf("report = %+v", rep)
	}
	if got := e.wantStatus(fromJID.ID, account.StatusActive, ""); got.PhoneNumber != "+15550100090" {
		t.Fatalf("repaired from JID: phone %q", got.PhoneNumber)
	}
	if got := e.wantStatus(fromSession.ID, account.StatusActive, account.ReasonConnected); got.PhoneNumber != "+15550100091" || got.JID != "15550100091:5@s.whatsapp.net" {
		t.Fatalf("repaired from session: %+v", got)
	}
	if got := e.wantStatus(fromStore.ID, account.StatusActive, account.ReasonConnected); got.PhoneNumber != "+15550100093" || got.JID != "15550100093:2@s.whatsapp.net" {
		t.Fatalf("repaired from the device store: %+v", got)
	}
	if got := e.get(unknown.ID); got.Status == account.StatusActive {
		t.Fatalf("account without a number became ACTIVE: %+v", got)
	}
	if e.metrics.phoneCount("sweep_repaired") != 3 || e.metrics.phoneCount("sweep_missing") != 1 {
		t.Fatalf("phone metrics = %v", e.metrics.phone)
	}

	rep, err = e.sup.SweepPhoneNumbers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Repaired != 0 {
		t.Fatalf("second sweep repaired %d again", rep.Repaired)
	}
}

// Activity is recorded by each instance for its own connected sessions,
// on the supervisor's timer, not by the leader's sweep.
func TestActivityOfConnectedSessionsIsRecordedPeriodically(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{ActivationTimeout: time.Hour}, supervisor.Options{ActivityInterval: 5 * time.Minute})
	online := e.activate("Online", "15550100092:1@s.whatsapp.net")
	offline := e.activate("Offline", "15550100094:1@s.whatsapp.net")
	e.sessions.setOnline(online.ID, true)
	before := e.get(offline.ID).LastActiveAt

	e.clock.Advance(5 * time.Minute) // the activity timer fires

	if got := e.get(online.ID); !got.LastActiveAt.Equal(e.clock.Now()) {
		t.Fatalf("last active %v, want %v", got.LastActiveAt, e.clock.Now())
	}
	if got := e.get(offline.ID); !got.LastActiveAt.Equal(before) {
		t.Fatalf("offline session's activity moved from %v to %v", before, got.LastActiveAt)
	}
	n, err := e.sup.RecordActivity(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("RecordActivity = %d, %v; want 1", n, err)
	}
}
