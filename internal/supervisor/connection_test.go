package supervisor_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"wagraph/internal/account"
	"wagraph/internal/apperr"
	"wagraph/internal/store"
	"wagraph/internal/supervisor"
)

func TestDroppedConnectionReconnectsWithBackoff(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{}, supervisor.Options{ReconnectBaseDelay: 2 * time.Second})
	a := e.activate("Dropped", "15550100020:1@s.whatsapp.net")
	starts := e.sessions.startCount()
	e.sessions.emit(t, a.ID, account.Disconnected{})
	e.wantStatus(a.ID, account.StatusReconnecting, account.ReasonWADisconnected)

	// Jitter 0.5 → the first delay is 1.5s (half of 2s fixed, half random).
	e.clock.Advance(1499 * time.Millisecond)
	if e.sessions.startCount() != starts {
		t.Fatal("reconnected before the backoff delay")
	}
	e.clock.Advance(time.Millisecond)
	if req := e.sessions.lastStart(t); e.sessions.startCount() != starts+1 || req.JID != "15550100020:1@s.whatsapp.net" {
		t.Fatalf("after the delay: %d starts, last %+v; want a login with the stored device", e.sessions.startCount()-starts, req)
	}
	e.wantStatus(a.ID, account.StatusActive, account.ReasonConnected)
	if e.metrics.reconnects != 1 {
		t.Fatalf("reconnects counted = %d", e.metrics.reconnects)
	}
}

func TestFlappingAccountHitsTheCapAndStops(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{MaxReconnectAttempts: 4, StableAfter: 5 * time.Minute}, supervisor.Options{
		ReconnectBaseDelay: time.Second, ReconnectMaxDelay: 8 * time.Second, TimeoutCheckInterval: time.Hour,
	})
	a := e.activate("Flapper", "15550100021:1@s.whatsapp.net")
	for i := 1; i <= 4; i++ {
		e.sessions.emit(t, a.ID, account.Disconnected{})
		e.wantStatus(a.ID, account.StatusReconnecting, account.ReasonWADisconnected)
		e.clock.Advance(8 * time.Second) // past any backoff: the fake connects again at once
		e.wantStatus(a.ID, account.StatusActive, account.ReasonConnected)
		e.clock.Advance(10 * time.Second) // up briefly, then drops again
	}
	e.sessions.emit(t, a.ID, account.Disconnected{})
	got := e.wantStatus(a.ID, account.StatusFailed, account.ReasonReconnectLimit)
	if !strings.Contains(got.Reason.Message, "4 reconnect attempts") || got.Reason.Suggestion == "" {
		t.Fatalf("reason = %+v", got.Reason)
	}
	starts := e.sessions.startCount()
	e.clock.Advance(time.Hour)
	if e.sessions.startCount() != starts {
		t.Fatal("a FAILED account kept reconnecting")
	}

	// reconnectAccount starts a fresh series.
	if _, err := e.sup.Reconnect(context.Background(), a.ID); err != nil {
		t.Fatal(err)
	}
	e.wantStatus(a.ID, account.StatusActive, account.ReasonConnected)
}

func TestStableConnectionResetsTheAttemptCount(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{MaxReconnectAttempts: 2, StableAfter: time.Minute}, supervisor.Options{
		ReconnectBaseDelay: time.Second, ReconnectMaxDelay: 4 * time.Second, TimeoutCheckInterval: time.Hour,
	})
	a := e.activate("Mostly fine", "15550100022:1@s.whatsapp.net")
	for i := 0; i < 5; i++ {
		e.sessions.emit(t, a.ID, account.Disconnected{})
		e.clock.Advance(4 * time.Second)
		e.wantStatus(a.ID, account.StatusActive, "")
		e.clock.Advance(2 * time.Minute) // connected long enough to count as stable
	}
}

func TestConnectErrorsBackOffUntilTheCap(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{MaxReconnectAttempts: 3}, supervisor.Options{
		ReconnectBaseDelay: time.Second, ReconnectMaxDelay: 4 * time.Second, TimeoutCheckInterval: time.Hour,
	})
	a := e.activate("Unreachable", "15550100023:1@s.whatsapp.net")
	e.sessions.startErr = func(supervisor.StartRequest) error { return errors.New("dial tcp: i/o timeout") }
	e.sessions.emit(t, a.ID, account.Disconnected{})
	// delays with jitter 0.5: 0.75s, 1.5s, 3s
	for _, d := range []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second} {
		e.wantStatus(a.ID, account.StatusReconnecting, "")
		before := e.sessions.startCount()
		e.clock.Advance(d)
		if e.sessions.startCount() != before+1 {
			t.Fatalf("no attempt after %v", d)
		}
	}
	got := e.wantStatus(a.ID, account.StatusFailed, account.ReasonReconnectLimit)
	if !strings.Contains(got.Reason.Message, "i/o timeout") {
		t.Fatalf("reason message %q does not carry the last error", got.Reason.Message)
	}
}

func TestReconnectWithMissingDeviceLogsOut(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	a := e.activate("Vanished", "15550100024:1@s.whatsapp.net")
	if err := e.sessions.DeleteDevice(context.Background(), "15550100024:1@s.whatsapp.net"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sup.Reconnect(context.Background(), a.ID); err != nil {
		t.Fatal(err)
	}
	got := e.wantStatus(a.ID, account.StatusLoggedOut, account.ReasonSessionMissing)
	if got.JID != "" || got.PhoneNumber != "+15550100024" {
		t.Fatalf("after session missing: JID %q phone %q; want no JID and the number kept", got.JID, got.PhoneNumber)
	}
}

func TestWhatsAppEventsMapToStatuses(t *testing.T) {
	const jid = "15550100030:1@s.whatsapp.net"
	until := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name       string
		evt        account.SessionEvent
		want       account.Status
		reason     account.ReasonCode
		stopped    bool // the session is ended
		reconnects bool // a reconnect is scheduled
	}{
		{"logged out", account.LoggedOut{}, account.StatusLoggedOut, account.ReasonWALoggedOut, true, false},
		{"logged out with reason", account.LoggedOut{Reason: account.NewReason(account.ReasonWALoggedOut, "401: logged out from another device")}, account.StatusLoggedOut, account.ReasonWALoggedOut, true, false},
		{"stream replaced", account.StreamReplaced{}, account.StatusDisconnected, account.ReasonWAStreamReplaced, true, false},
		{"temporary ban", account.TemporaryBan{Code: 101, Message: "too many messages", Until: until}, account.StatusBanned, account.ReasonWATemporaryBan, true, false},
		{"keep-alive timeout", account.KeepAliveTimeout{ErrorCount: 3}, account.StatusDisconnected, account.ReasonWAKeepAliveTimeout, false, false},
		{"disconnected", account.Disconnected{}, account.StatusReconnecting, account.ReasonWADisconnected, false, true},
		{"client outdated", account.ConnectFailed{Reason: account.NewReason(account.ReasonWAClientOutdated, "")}, account.StatusFailed, account.ReasonWAClientOutdated, true, false},
		{"connect failure", account.ConnectFailed{}, account.StatusFailed, account.ReasonWAConnectFailure, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, store.SQLite, account.Options{}, supervisor.Options{TimeoutCheckInterval: time.Hour})
			a := e.activate("Mapped", jid)
			stops := len(e.sessions.stops)
			e.sessions.emit(t, a.ID, c.evt)
			got := e.wantStatus(a.ID, c.want, c.reason)
			if got.Reason.Suggestion == "" {
				t.Fatalf("no suggestion for %s", c.reason)
			}
			if stopped := len(e.sessions.stops) > stops; stopped != c.stopped {
				t.Fatalf("session stopped = %v, want %v", stopped, c.stopped)
			}
			starts := e.sessions.startCount()
			e.clock.Advance(10 * time.Minute)
			if reconnected := e.sessions.startCount() > starts; reconnected != c.reconnects {
				t.Fatalf("reconnected = %v, want %v", reconnected, c.reconnects)
			}
		})
	}
}

func TestLoggedOutDropsDeviceFields(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	a := e.activate("Unlinked on phone", "15550100031:1@s.whatsapp.net")
	e.sessions.emit(t, a.ID, account.LoggedOut{})
	got := e.wantStatus(a.ID, account.StatusLoggedOut, account.ReasonWALoggedOut)
	if got.JID != "" || got.PhoneNumber != "+15550100031" {
		t.Fatalf("account = %+v", got)
	}
	// It can be linked again directly.
	e.startQR(a.ID)
	e.wantStatus(a.ID, account.StatusAwaitingScan, account.ReasonActivationStarted)
}

func TestKeepAliveTimeoutRecovers(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	a := e.activate("Shaky", "15550100032:1@s.whatsapp.net")
	e.sessions.emit(t, a.ID, account.KeepAliveTimeout{ErrorCount: 1, LastSuccess: e.clock.Now()})
	e.wantStatus(a.ID, account.StatusDisconnected, account.ReasonWAKeepAliveTimeout)
	e.sessions.emit(t, a.ID, account.KeepAliveRestored{})
	e.wantStatus(a.ID, account.StatusActive, account.ReasonConnected)
	// Restored without a preceding timeout is a no-op.
	e.sessions.emit(t, a.ID, account.KeepAliveRestored{})
	if got := e.get(a.ID); got.Version != a.Version+2 {
		t.Fatalf("version = %d, want %d", got.Version, a.Version+2)
	}
}

func TestTemporaryBanLiftsAtExpiry(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	a := e.activate("Banned", "15550100033:1@s.whatsapp.net")
	until := e.clock.Now().Add(time.Hour)
	e.sessions.emit(t, a.ID, account.TemporaryBan{Code: 102, Message: "too many people blocked you", Until: until})
	got := e.wantStatus(a.ID, account.StatusBanned, account.ReasonWATemporaryBan)
	if !got.BannedUntil.Equal(until) || !strings.Contains(got.Reason.Message, "102") {
		t.Fatalf("banned account = %+v", got)
	}
	// The sweep_timeouts job lifts the ban on the first run after it ends.
	e.clock.Advance(59 * time.Minute)
	e.sweepTimeouts()
	e.wantStatus(a.ID, account.StatusBanned, "")
	e.clock.Advance(time.Minute)
	e.sweepTimeouts()
	got = e.wantStatus(a.ID, account.StatusActive, account.ReasonConnected)
	h := e.history(a.ID)
	if prev := h[len(h)-2]; prev.To != account.StatusReconnecting || prev.Reason.Code != account.ReasonBanExpired {
		t.Fatalf("before ACTIVE: %+v, want RECONNECTING (BAN_EXPIRED)", prev)
	}
	if !got.BannedUntil.IsZero() {
		t.Fatal("ban expiry left on the account")
	}
}

func TestBanWithoutExpiryIsRetriedHourly(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	a := e.activate("Banned, no expiry", "15550100038:1@s.whatsapp.net")
	e.sessions.emit(t, a.ID, account.TemporaryBan{Code: 101})
	got := e.wantStatus(a.ID, account.StatusBanned, account.ReasonWATemporaryBan)
	if !got.BannedUntil.Equal(e.clock.Now().Add(time.Hour)) {
		t.Fatalf("banned until %v, want an hour from now", got.BannedUntil)
	}
	e.clock.Advance(50 * time.Minute)
	e.sweepTimeouts()
	e.wantStatus(a.ID, account.StatusBanned, "")
	e.clock.Advance(10 * time.Minute)
	e.sweepTimeouts()
	e.wantStatus(a.ID, account.StatusActive, "")
}

func TestStreamReplacedWaitsForReconnectByUser(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	a := e.activate("Replaced", "15550100034:1@s.whatsapp.net")
	e.sessions.emit(t, a.ID, account.StreamReplaced{})
	e.wantStatus(a.ID, account.StatusDisconnected, account.ReasonWAStreamReplaced)
	e.restart() // not restored either: it would kick the other client out
	e.wantStatus(a.ID, account.StatusDisconnected, account.ReasonWAStreamReplaced)
	if _, err := e.sup.Reconnect(context.Background(), a.ID); err != nil {
		t.Fatal(err)
	}
	e.wantStatus(a.ID, account.StatusActive, account.ReasonConnected)
}

func TestLogoutUnlinksDevice(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	a := e.activate("Leaving", "15550100035:1@s.whatsapp.net")
	got, err := e.sup.Logout(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != account.StatusLoggedOut || got.Reason.Code != account.ReasonLoggedOutByUser || got.JID != "" {
		t.Fatalf("after logout: %+v", got)
	}
	if !e.sessions.loggedOut("15550100035:1@s.whatsapp.net") {
		t.Fatal("the device was not unlinked")
	}
	// The old session's late events are ignored.
	e.sessions.emit(t, a.ID, account.Connected{})
	e.wantStatus(a.ID, account.StatusLoggedOut, "")
	_, err = e.sup.Logout(context.Background(), a.ID)
	if apperr.CodeOf(err) != apperr.InvalidTransition {
		t.Fatalf("second logout: %v, want INVALID_TRANSITION", err)
	}
}

func TestPushNameIsRecorded(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	a := e.activate("Named", "15550100036:1@s.whatsapp.net")
	e.sessions.emit(t, a.ID, account.PushNameChanged{PushName: "Shop Berlin"})
	if got := e.get(a.ID); got.PushName != "Shop Berlin" || got.Version != a.Version {
		t.Fatalf("push name %q version %d", got.PushName, got.Version)
	}
}

type unknownEvent struct{ account.StreamReplaced }

func TestUnknownSessionEventIsAnError(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	a := e.activate("Odd", "15550100037:1@s.whatsapp.net")
	if err := e.sessions.emitErr(a.ID, unknownEvent{}); err == nil {
		t.Fatal("an unknown event type was accepted")
	}
}
