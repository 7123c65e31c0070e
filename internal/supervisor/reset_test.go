package supervisor_test

import (
	"context"
	"testing"
	"time"

	"wagraph/internal/account"
	"wagraph/internal/store"
	"wagraph/internal/supervisor"
)

// driveTo brings a new account into status the way it would get there.
func driveTo(t *testing.T, e *env, status account.Status, jid string) *account.Account {
	t.Helper()
	switch status {
	case account.StatusPending:
		return e.create("Pending")
	case account.StatusAwaitingScan:
		a := e.create("Awaiting")
		return e.startQR(a.ID)
	case account.StatusAuthenticating:
		a := e.create("Authenticating")
		e.startQR(a.ID)
		e.pair(a.ID, jid)
		return e.get(a.ID)
	case account.StatusWarming:
		a := e.create("Warming")
		e.startQR(a.ID)
		e.sessions.emit(t, a.ID, account.Paired{})
		e.sessions.emit(t, a.ID, account.Connected{})
		return e.get(a.ID)
	}
	a := e.activate(string(status), jid)
	switch status {
	case account.StatusDisconnected:
		e.sessions.emit(t, a.ID, account.KeepAliveTimeout{ErrorCount: 1})
	case account.StatusReconnecting:
		e.sessions.emit(t, a.ID, account.Disconnected{})
	case account.StatusLoggedOut:
		e.sessions.emit(t, a.ID, account.LoggedOut{})
	case account.StatusBanned:
		e.sessions.emit(t, a.ID, account.TemporaryBan{Code: 101, Until: e.clock.Now().Add(time.Hour)})
	case account.StatusFailed:
		e.sessions.emit(t, a.ID, account.ConnectFailed{})
	case account.StatusExpired:
		if err := e.sup.Close(); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(15 * 24 * time.Hour)
		e.start()
	}
	return e.get(a.ID)
}

func TestResetFromEveryStatus(t *testing.T) {
	for _, st := range account.Statuses {
		t.Run(string(st), func(t *testing.T) {
			e := newEnv(t, store.SQLite, account.Options{}, supervisor.Options{TimeoutCheckInterval: time.Hour})
			const jid = "15550100060:1@s.whatsapp.net"
			a := driveTo(t, e, st, jid)
			if a.Status != st {
				t.Fatalf("could not bring the account to %s: it is %s", st, a.Status)
			}
			got, err := e.sup.Reset(context.Background(), a.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != account.StatusPending || got.Reason.Code != account.ReasonResetByUser || got.Version != a.Version+1 {
				t.Fatalf("after reset: %s (%s) v%d", got.Status, got.Reason.Code, got.Version)
			}
			if got.JID != "" || got.PhoneNumber != "" || got.Activation != nil || !got.BannedUntil.IsZero() {
				t.Fatalf("reset left state behind: %+v", got)
			}
			if a.JID != "" && !e.sessions.loggedOut(a.JID) {
				t.Fatalf("the device %s was not unlinked and deleted", a.JID)
			}
			h := e.history(a.ID)
			if last := h[len(h)-1]; last.From != st || last.To != account.StatusPending || last.Reason.Code != account.ReasonResetByUser {
				t.Fatalf("last history entry = %+v", last)
			}
			// Nothing from before the reset comes back later.
			starts := e.sessions.startCount()
			e.clock.Advance(2 * time.Hour)
			e.wantStatus(a.ID, account.StatusPending, account.ReasonResetByUser)
			if e.sessions.startCount() != starts {
				t.Fatal("a session was started after the reset")
			}
			// And the account can be linked again.
			e.startQR(a.ID)
			e.wantStatus(a.ID, account.StatusAwaitingScan, "")
		})
	}
}

func TestStartActivationRemovesOldDeviceOfFailedAccount(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	const jid = "15550100061:1@s.whatsapp.net"
	a := driveTo(t, e, account.StatusFailed, jid)
	e.startQR(a.ID)
	if !e.sessions.loggedOut(jid) {
		t.Fatal("the failed account's old device was not removed before relinking")
	}
	got := e.wantStatus(a.ID, account.StatusAwaitingScan, "")
	if got.JID != "" || got.PhoneNumber != "" {
		t.Fatalf("old device fields kept: %+v", got)
	}
}
