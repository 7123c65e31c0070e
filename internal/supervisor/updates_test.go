package supervisor_test

import (
	"context"
	"testing"

	"wagraph/internal/account"
	"wagraph/internal/store"
)

// Live views show the account as it is: a rename and a new push name are
// published too, each with the next revision, though the status (and its
// version) stays.
func TestUpdatesArePublished(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	a := e.activate("Before", "15550100090:1@s.whatsapp.net")
	events := subscribe(t, e.bus, account.StatusTopic(a.ID))

	name := "After"
	if _, err := e.svc.Update(context.Background(), account.UpdateInput{ID: a.ID, Name: &name}); err != nil {
		t.Fatal(err)
	}
	e.sessions.emit(t, a.ID, account.PushNameChanged{PushName: "Shop"})
	// Renaming to the same name changes nothing and publishes nothing.
	if _, err := e.svc.Update(context.Background(), account.UpdateInput{ID: a.ID, Name: &name}); err != nil {
		t.Fatal(err)
	}

	got := events()
	if len(got) != 2 {
		t.Fatalf("%d events, want 2 (rename, push name): %+v", len(got), got)
	}
	for i, ev := range got {
		if !ev.Updated || ev.Version != a.Version || ev.To != account.StatusActive || ev.Revision != a.Revision+int64(i+1) {
			t.Fatalf("event %d = %+v, want an update with revision %d at version %d", i, ev, a.Revision+int64(i+1), a.Version)
		}
	}
	if got[0].Account.Name != "After" || got[1].Account.PushName != "Shop" {
		t.Fatalf("events show %q / %q", got[0].Account.Name, got[1].Account.PushName)
	}
	if now := e.get(a.ID); now.Version != a.Version || now.Revision != a.Revision+2 {
		t.Fatalf("account version %d revision %d, want %d and %d", now.Version, now.Revision, a.Version, a.Revision+2)
	}
}
