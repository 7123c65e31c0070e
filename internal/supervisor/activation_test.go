package supervisor_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"wagraph/internal/account"
	"wagraph/internal/apperr"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
	"wagraph/internal/supervisor"
)

func TestQRActivationReachesActiveWithPhoneNumber(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		e := newEnvWithDB(t, db, account.Options{})
		all := subscribe(t, e.bus, account.AllStatusTopic)
		a := e.create("Sales 1")
		own := subscribe(t, e.bus, account.StatusTopic(a.ID))
		qrs := subscribe(t, e.bus, account.QRTopic(a.ID))

		a = e.startQR(a.ID)
		if a.Status != account.StatusAwaitingScan || a.Activation == nil || a.Activation.QR == nil {
			t.Fatalf("after startActivation: %+v, activation %+v; want AWAITING_SCAN with the first QR code", a, a.Activation)
		}
		if a.Activation.QR.Code != "qr-1" || a.Activation.Method != account.MethodQR {
			t.Fatalf("activation = %+v, QR %+v", a.Activation, a.Activation.QR)
		}
		if got, want := a.Activation.ExpiresAt, e.clock.Now().Add(5*time.Minute); !got.Equal(want) {
			t.Fatalf("activation expires at %v, want %v", got, want)
		}
		if got := a.Activation.SecondsRemaining(e.clock.Now()); got != 300 {
			t.Fatalf("seconds remaining = %d, want 300", got)
		}
		req := e.sessions.lastStart(t)
		if req.JID != "" || req.Method != account.MethodQR || req.AccountID != a.ID {
			t.Fatalf("session started with %+v, want a QR pairing", req)
		}

		e.sessions.emit(t, a.ID, account.QRCode{Code: "qr-2", ExpiresAt: e.clock.Now().Add(20 * time.Second)})
		if got := e.get(a.ID).Activation.QR.Code; got != "qr-2" {
			t.Fatalf("current QR = %q, want the rotated qr-2", got)
		}

		e.pair(a.ID, "15550100001:7@s.whatsapp.net")
		a = e.wantStatus(a.ID, account.StatusAuthenticating, account.ReasonPaired)
		if a.PhoneNumber != "+15550100001" || a.Activation.QR != nil {
			t.Fatalf("after pairing: phone %q, QR %+v; want the phone number and no QR", a.PhoneNumber, a.Activation.QR)
		}

		e.sessions.emit(t, a.ID, account.Connected{Device: account.Device{JID: "15550100001:7@s.whatsapp.net", PushName: "Sales"}})
		a = e.wantStatus(a.ID, account.StatusActive, account.ReasonConnected)
		if a.PhoneNumber != "+15550100001" || a.JID != "15550100001:7@s.whatsapp.net" || a.LID != "1234567@lid" ||
			a.PushName != "Sales" || a.Platform != "android" || a.Activation != nil || a.LastConnectedAt.IsZero() {
			t.Fatalf("active account = %+v", a)
		}
		if want := a.LastActiveAt.Add(14 * 24 * time.Hour); !a.SessionExpiresAt.Equal(want) {
			t.Fatalf("session expires at %v, want %v", a.SessionExpiresAt, want)
		}

		wantPath := []account.Status{account.StatusPending, account.StatusAwaitingScan, account.StatusAuthenticating, account.StatusWarming, account.StatusActive}
		if got := statuses(e.history(a.ID)); !slices.Equal(got, wantPath) {
			t.Fatalf("history = %v, want %v", got, wantPath)
		}
		if a.Version != int64(len(wantPath)) {
			t.Fatalf("version = %d, want %d", a.Version, len(wantPath))
		}
		// The account's own topic was subscribed after creation.
		for name, evs := range map[string][]account.StatusEvent{"all": all(), "own": append([]account.StatusEvent{{}}, own()...)} {
			if len(evs) != len(wantPath) {
				t.Fatalf("%s topic got %d events, want %d", name, len(evs), len(wantPath))
			}
			for i, ev := range evs[1:] {
				if ev.Version != int64(i+2) || ev.To != wantPath[i+1] || ev.From != wantPath[i] || ev.AccountID != a.ID {
					t.Fatalf("%s event %d = %+v, want version %d to %s", name, i, ev, i+2, wantPath[i+1])
				}
			}
			if last := evs[len(evs)-1]; last.PhoneNumber != "+15550100001" || last.Reason.Suggestion != "" ||
				last.Account == nil || last.Account.Status != account.StatusActive || last.Account.Version != last.Version ||
				last.Account.JID != "15550100001:7@s.whatsapp.net" {
				t.Fatalf("last event = %+v", last)
			}
		}
		// The QR topic follows the activation to its end: codes, then its
		// progress after the scan, then Done at ACTIVE.
		q := qrs()
		if len(q) != 5 || q[0].Code != "qr-1" || q[1].Code != "qr-2" ||
			q[2].Status != account.StatusAuthenticating || q[2].Code != "" || q[2].Done ||
			q[3].Status != account.StatusWarming || q[3].Done ||
			q[4].Status != account.StatusActive || !q[4].Done {
			t.Fatalf("QR events = %+v, want qr-1, qr-2, AUTHENTICATING, WARMING, then done at ACTIVE", q)
		}
		for _, ev := range q {
			if ev.Done != ev.ActivationExpiresAt.IsZero() {
				t.Fatalf("QR event %+v: the activation deadline should be set until the activation is done", ev)
			}
		}
		for i := 1; i < len(q); i++ {
			if q[i].Version <= q[i-1].Version {
				t.Fatalf("QR event versions not increasing: %+v", q)
			}
		}
		if e.metrics.phoneCount("pair_success") != 1 {
			t.Fatalf("phone metric = %v", e.metrics.phone)
		}
		snap, err := e.svc.CurrentQR(context.Background(), a.ID)
		if err != nil || snap.Done || snap.Code != "" || snap.Status != account.StatusActive || snap.Version != q[4].Version || snap.StatusVersion != a.Version {
			t.Fatalf("CurrentQR after activation = %+v, %v", snap, err)
		}
	})
}

func TestPairingCodeActivation(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	a := e.create("Support")
	qrs := subscribe(t, e.bus, account.QRTopic(a.ID))
	got, err := e.sup.StartActivation(context.Background(), account.StartActivationInput{
		AccountID: a.ID, Method: account.MethodPairingCode, PhoneNumber: "+49 151 2345 6789",
	})
	if err != nil {
		t.Fatal(err)
	}
	if req := e.sessions.lastStart(t); req.PhoneNumber != "+4915123456789" || req.Method != account.MethodPairingCode {
		t.Fatalf("session started with %+v, want the E.164 number", req)
	}
	if got.Activation == nil || got.Activation.PairingCode != "ABCD-EFGH" || got.Activation.PhoneNumber != "+4915123456789" || got.Activation.QR != nil {
		t.Fatalf("activation = %+v", got.Activation)
	}
	if q := qrs(); len(q) != 1 || q[0].PairingCode != "ABCD-EFGH" || q[0].ExpiresAt.IsZero() {
		t.Fatalf("QR topic = %+v, want the pairing code", q)
	}
	snap, err := e.svc.CurrentQR(context.Background(), a.ID)
	if err != nil || snap.PairingCode != "ABCD-EFGH" || snap.Done || snap.Status != account.StatusAwaitingScan || snap.ActivationExpiresAt.IsZero() {
		t.Fatalf("CurrentQR = %+v, %v", snap, err)
	}
	// QR codes are not shown when the user asked for a pairing code.
	e.sessions.emit(t, a.ID, account.QRCode{Code: "ignored", ExpiresAt: e.clock.Now().Add(time.Minute)})
	if e.get(a.ID).Activation.QR != nil {
		t.Fatal("a QR code was stored for a pairing-code activation")
	}
	e.pair(a.ID, "4915123456789:3@s.whatsapp.net")
	e.sessions.emit(t, a.ID, account.Connected{})
	if a := e.wantStatus(a.ID, account.StatusActive, ""); a.PhoneNumber != "+4915123456789" {
		t.Fatalf("phone = %q", a.PhoneNumber)
	}
}

func TestStartActivationRejectsBadInput(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	a := e.create("Bad input")
	cases := []struct {
		name  string
		in    account.StartActivationInput
		field string
	}{
		{"unknown method", account.StartActivationInput{AccountID: a.ID, Method: "SMOKE"}, "method"},
		{"pairing without number", account.StartActivationInput{AccountID: a.ID, Method: account.MethodPairingCode}, "phoneNumber"},
		{"pairing with letters", account.StartActivationInput{AccountID: a.ID, Method: account.MethodPairingCode, PhoneNumber: "call me"}, "phoneNumber"},
		{"pairing with a short number", account.StartActivationInput{AccountID: a.ID, Method: account.MethodPairingCode, PhoneNumber: "+49 12"}, "phoneNumber"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.sup.StartActivation(context.Background(), c.in)
			ae, ok := apperr.As(err)
			if !ok || ae.Code != apperr.InvalidInput || ae.Field != c.field || ae.Suggestion == "" {
				t.Fatalf("err = %v, want INVALID_INPUT on %s with a suggestion", err, c.field)
			}
		})
	}
	e.wantStatus(a.ID, account.StatusPending, account.ReasonCreated)
	if _, err := e.sup.StartActivation(context.Background(), account.StartActivationInput{AccountID: "nope", Method: account.MethodQR}); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("unknown account: %v, want NOT_FOUND", err)
	}
}

func TestStartActivationFailureEndsInPending(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	a := e.create("Offline")
	e.sessions.startErr = func(supervisor.StartRequest) error { return errors.New("dial tcp: connection refused") }
	_, err := e.sup.StartActivation(context.Background(), account.StartActivationInput{AccountID: a.ID, Method: account.MethodQR})
	if ae, ok := apperr.As(err); !ok || ae.Code != apperr.Unavailable || !ae.Retryable {
		t.Fatalf("err = %v, want a retryable UNAVAILABLE", err)
	}
	got := e.wantStatus(a.ID, account.StatusPending, account.ReasonActivationFailed)
	if got.Activation != nil {
		t.Fatalf("activation left behind: %+v", got.Activation)
	}
}

func TestActivationTimesOutAfterFiveMinutes(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	a := e.create("Slow scanner")
	e.startQR(a.ID)
	e.clock.Advance(5*time.Minute - time.Second)
	e.wantStatus(a.ID, account.StatusAwaitingScan, "")
	e.clock.Advance(time.Second)
	got := e.wantStatus(a.ID, account.StatusPending, account.ReasonActivationTimeout)
	if got.Reason.Suggestion == "" || got.Activation != nil {
		t.Fatalf("after timeout: %+v", got)
	}
	if e.metrics.timeouts != 1 {
		t.Fatalf("timeouts counted = %d", e.metrics.timeouts)
	}
	// Events from the stopped session change nothing.
	e.sessions.emit(t, a.ID, account.Paired{Device: account.Device{JID: "15550100009:1@s.whatsapp.net"}})
	e.wantStatus(a.ID, account.StatusPending, account.ReasonActivationTimeout)
}

func TestActivationTimeoutAfterScanRemovesHalfMadeDevice(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{ActivationTimeout: 2 * time.Minute})
	a := e.create("Paired, never logged in")
	e.startQR(a.ID)
	const jid = "15550100002:4@s.whatsapp.net"
	e.pair(a.ID, jid)
	e.wantStatus(a.ID, account.StatusAuthenticating, "")
	e.clock.Advance(2 * time.Minute)
	got := e.wantStatus(a.ID, account.StatusPending, account.ReasonActivationTimeout)
	if got.JID != "" || got.PhoneNumber != "" {
		t.Fatalf("device fields left after reset: %+v", got)
	}
	if !e.sessions.loggedOut(jid) {
		t.Fatal("the half-made device store was not removed")
	}
}

func TestWarmingWithoutPhoneNumberTimesOut(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	a := e.create("No number")
	e.startQR(a.ID)
	// WhatsApp sent no JID: the phone number cannot be derived yet.
	e.sessions.emit(t, a.ID, account.Paired{Device: account.Device{LID: "42@lid"}})
	e.sessions.emit(t, a.ID, account.Connected{})
	e.wantStatus(a.ID, account.StatusWarming, account.ReasonLoggedIn)
	e.clock.Advance(5 * time.Minute)
	e.wantStatus(a.ID, account.StatusPending, account.ReasonActivationTimeout)
}

func TestPhoneNumberFoundLaterCompletesWarming(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	a := e.create("Late number")
	e.startQR(a.ID)
	e.sessions.emit(t, a.ID, account.Paired{Device: account.Device{LID: "42@lid"}})
	e.sessions.emit(t, a.ID, account.Connected{})
	e.sessions.emit(t, a.ID, account.PhoneNumberMissing{Attempts: 2})
	e.sessions.emit(t, a.ID, account.PhoneNumberFound{JID: "15550100010:2@s.whatsapp.net", Source: "retry"})
	got := e.wantStatus(a.ID, account.StatusActive, account.ReasonConnected)
	if got.PhoneNumber != "+15550100010" || got.JID != "15550100010:2@s.whatsapp.net" {
		t.Fatalf("account = %+v", got)
	}
	if e.metrics.phoneCount("retry") != 1 || e.metrics.phoneCount("missing") != 1 {
		t.Fatalf("phone metrics = %v", e.metrics.phone)
	}
	// A second report changes nothing.
	e.sessions.emit(t, a.ID, account.PhoneNumberFound{PhoneNumber: "+15550100099"})
	if got := e.get(a.ID); got.PhoneNumber != "+15550100010" {
		t.Fatalf("phone overwritten: %q", got.PhoneNumber)
	}
}

func TestActivationTimeoutSurvivesRestart(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	a := e.create("Restarted mid-activation")
	e.startQR(a.ID)
	e.pair(a.ID, "15550100003:1@s.whatsapp.net") // AUTHENTICATING, device stored
	if err := e.sup.Close(); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(6 * time.Minute) // wagraph is down past the deadline
	starts := e.sessions.startCount()
	e.start()
	e.wantStatus(a.ID, account.StatusPending, account.ReasonActivationTimeout)
	if e.sessions.startCount() != starts {
		t.Fatal("restore connected an activation that had already timed out")
	}
	if !e.sessions.loggedOut("15550100003:1@s.whatsapp.net") {
		t.Fatal("the half-made device was not removed")
	}
}

func TestActivationResumesAfterRestartWithinDeadline(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	a := e.create("Quick restart")
	e.startQR(a.ID)
	e.sessions.onStart = func(req supervisor.StartRequest) []account.SessionEvent { return nil }
	e.pair(a.ID, "15550100004:1@s.whatsapp.net")
	e.restart()
	// The paired device logs in again; its activation deadline still holds.
	if req := e.sessions.lastStart(t); req.JID != "15550100004:1@s.whatsapp.net" {
		t.Fatalf("restore started %+v, want a login with the paired device", req)
	}
	e.wantStatus(a.ID, account.StatusAuthenticating, account.ReasonPaired)
	e.clock.Advance(5 * time.Minute)
	e.wantStatus(a.ID, account.StatusPending, account.ReasonActivationTimeout)
}

func TestCodesExhaustedAndPairFailedEndActivation(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	a := e.create("Nobody scanned")
	e.startQR(a.ID)
	e.sessions.emit(t, a.ID, account.CodesExhausted{})
	e.wantStatus(a.ID, account.StatusPending, account.ReasonCodesExpired)

	b := e.create("Rejected")
	e.startQR(b.ID)
	e.pair(b.ID, "15550100005:1@s.whatsapp.net")
	e.sessions.emit(t, b.ID, account.PairFailed{Message: "signature mismatch"})
	got := e.wantStatus(b.ID, account.StatusPending, account.ReasonPairFailed)
	if !e.sessions.loggedOut("15550100005:1@s.whatsapp.net") || got.Reason.Message == "" {
		t.Fatalf("pair failure: %+v; device removed %v", got.Reason, e.sessions.loggedOut("15550100005:1@s.whatsapp.net"))
	}

	c := e.create("Lost connection")
	e.startQR(c.ID)
	e.sessions.emit(t, c.ID, account.Disconnected{})
	e.wantStatus(c.ID, account.StatusPending, account.ReasonActivationStopped)
}

func TestRestartActivationWithAnotherMethod(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	a := e.create("Changed mind")
	e.startQR(a.ID)
	old := e.sessions.lastStart(t)
	got, err := e.sup.StartActivation(context.Background(), account.StartActivationInput{AccountID: a.ID, Method: account.MethodPairingCode, PhoneNumber: "+14155550123"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Activation.Method != account.MethodPairingCode || got.Activation.QR != nil {
		t.Fatalf("activation = %+v", got.Activation)
	}
	// The first session's late QR code does not come back.
	e.sessions.mu.Lock()
	e.sessions.refs[a.ID] = old.SessionRef
	e.sessions.mu.Unlock()
	e.sessions.emit(t, a.ID, account.QRCode{Code: "stale"})
	if e.get(a.ID).Activation.QR != nil {
		t.Fatal("an event from the replaced session was applied")
	}
}

func TestInvalidTransitionsAreRejected(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	pending := e.create("Pending")
	active := e.activate("Active", "15550100006:1@s.whatsapp.net")
	ctx := context.Background()
	cases := []struct {
		name string
		do   func() error
	}{
		{"logout a pending account", func() error { _, err := e.sup.Logout(ctx, pending.ID); return err }},
		{"reconnect a pending account", func() error { _, err := e.sup.Reconnect(ctx, pending.ID); return err }},
		{"activate an active account", func() error {
			_, err := e.sup.StartActivation(ctx, account.StartActivationInput{AccountID: active.ID, Method: account.MethodQR})
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.do()
			ae, ok := apperr.As(err)
			if !ok || ae.Code != apperr.InvalidTransition || ae.Suggestion == "" {
				t.Fatalf("err = %v, want INVALID_TRANSITION with a suggestion", err)
			}
		})
	}
	e.wantStatus(pending.ID, account.StatusPending, account.ReasonCreated)
	e.wantStatus(active.ID, account.StatusActive, "")
}
