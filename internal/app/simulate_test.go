package app_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"wagraph/internal/account"
	"wagraph/internal/apptest"
	"wagraph/internal/auth"
	"wagraph/internal/pubsub"
	"wagraph/internal/whatsapp"
)

// These tests read the certificate root whatsmeow trusts, a process-wide
// setting, so none of them runs in parallel.

const scanDelay = 300 * time.Millisecond

// The demo a new user runs: --simulate, an account created and activated
// over GraphQL, and the simulated phone links it after the scan delay,
// through unmodified whatsmeow and the protocol simulator.
func TestSimulateModeLinksAccounts(t *testing.T) {
	s := apptest.Start(t, apptest.Env{"SIMULATE": "true", "SIMULATE_SCAN_DELAY": scanDelay.String()})
	sim := s.App.Simulator
	if sim == nil {
		t.Fatal("simulate mode started no simulator")
	}
	if whatsapp.TrustedRoot() != sim.RootPublicKey() {
		t.Fatal("whatsmeow does not trust the simulator's root key")
	}
	var warned bool
	for _, l := range s.Logs.Lines(t) {
		msg, _ := l["message"].(string)
		if l["level"] == "warn" && strings.Contains(msg, "SIMULATE MODE") && strings.Contains(msg, "no real WhatsApp server is contacted") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no start-up warning that WhatsApp is simulated:\n%s", s.Logs.String())
	}
	op := s.Client(apptest.Bearer(s.Token(t, auth.Operator)))

	tests := []struct {
		name       string
		activation string // startActivation's input besides accountId
		phone      *regexp.Regexp
	}{
		{"QR", `method: QR`, regexp.MustCompile(`^\+1555\d{7}$`)},
		{"pairing code", `method: PAIRING_CODE, phoneNumber: "+49 151 23456789"`, regexp.MustCompile(`^\+4915123456789$`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := apptest.Post(t, op, `mutation { createAccount(input: {name: "Demo `+tt.name+`"}) { account { id } } }`).NoErrors(t)
			id, _ := apptest.Path(data, "createAccount", "account", "id").(string)
			events, err := s.App.Bus.Subscribe(t.Context(), string(account.AllStatusTopic))
			if err != nil {
				t.Fatal(err)
			}
			defer events.Close()

			started := time.Now()
			data = apptest.Post(t, op, fmt.Sprintf(`mutation { startActivation(input: {accountId: %q, %s}) {
				account { status activation { secondsRemaining pairingCode qr { code imageDataUrl expiresAt } } } } }`, id, tt.activation)).NoErrors(t)
			acc := apptest.Path(data, "startActivation", "account")
			code, _ := apptest.Path(acc, "activation", "qr", "code").(string)
			img, _ := apptest.Path(acc, "activation", "qr", "imageDataUrl").(string)
			pairing, _ := apptest.Path(acc, "activation", "pairingCode").(string)
			if apptest.Path(acc, "status") != "AWAITING_SCAN" ||
				(tt.name == "QR" && (!strings.HasPrefix(code, "2@") || !strings.HasPrefix(img, "data:image/png;base64,"))) ||
				(tt.name != "QR" && len(pairing) != 9) {
				t.Fatalf("startActivation = %v; want AWAITING_SCAN with the first code", acc)
			}

			var scanned time.Duration
			for done := false; !done; {
				ev := nextStatus(t, events, id)
				switch ev.To {
				case account.StatusAuthenticating:
					scanned = time.Since(started)
				case account.StatusActive:
					done = true
				case account.StatusAwaitingScan, account.StatusWarming:
				default:
					t.Fatalf("account went to %s (%+v) on its way to ACTIVE", ev.To, ev.Reason)
				}
			}
			if scanned < scanDelay {
				t.Errorf("the simulated phone linked after %v, before the %v scan delay", scanned, scanDelay)
			}

			data = apptest.Post(t, op, fmt.Sprintf(`{ account(id: %q) { status phoneNumber jid activation { method } } }`, id)).NoErrors(t)
			got := apptest.Path(data, "account")
			phone, _ := apptest.Path(got, "phoneNumber").(string)
			if apptest.Path(got, "status") != "ACTIVE" || !tt.phone.MatchString(phone) || apptest.Path(got, "activation") != nil {
				t.Fatalf("account after the scan = %v; want ACTIVE with a phone number like %s", got, tt.phone)
			}
			jid, _ := apptest.Path(got, "jid").(string)
			if account.PhoneFromJID(jid) != phone || !sim.ConnectedDevice(jid) {
				t.Errorf("jid %q: want the phone's device, connected to the simulator", jid)
			}
		})
	}
}

// nextStatus returns the account's next status event.
func nextStatus(t *testing.T, events pubsub.Subscription, id string) account.StatusEvent {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case m, ok := <-events.C():
			if !ok {
				t.Fatalf("status events ended: %v", events.Err())
			}
			ev, err := pubsub.Decode[account.StatusEvent](m)
			if err != nil {
				t.Fatal(err)
			}
			if ev.AccountID == id {
				return ev
			}
		case <-timeout:
			t.Fatal("no status change within 30s")
		}
	}
}

// An account logged out after the demo linked it can be linked again: the
// phone scans the new activation's code with another fresh number.
func TestSimulateModeLinksAgainAfterLogout(t *testing.T) {
	s := apptest.Start(t, apptest.Env{"SIMULATE": "true", "SIMULATE_SCAN_DELAY": scanDelay.String()})
	op := s.Client(apptest.Bearer(s.Token(t, auth.Operator)))
	data := apptest.Post(t, op, `mutation { createAccount(input: {name: "Twice"}) { account { id } } }`).NoErrors(t)
	id, _ := apptest.Path(data, "createAccount", "account", "id").(string)
	events, err := s.App.Bus.Subscribe(t.Context(), string(account.AllStatusTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	var phones []string
	for range 2 {
		apptest.Post(t, op, fmt.Sprintf(`mutation { startActivation(input: {accountId: %q, method: QR}) { account { id } } }`, id)).NoErrors(t)
		for ev := nextStatus(t, events, id); ev.To != account.StatusActive; ev = nextStatus(t, events, id) {
			if !ev.To.Activating() {
				t.Fatalf("account went to %s (%+v) on its way to ACTIVE", ev.To, ev.Reason)
			}
		}
		a, err := s.App.Accounts.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		phones = append(phones, a.PhoneNumber)
		apptest.Post(t, op, fmt.Sprintf(`mutation { logoutAccount(input: {accountId: %q}) { account { id } } }`, id)).NoErrors(t)
		if ev := nextStatus(t, events, id); ev.To != account.StatusLoggedOut {
			t.Fatalf("after logoutAccount: %s", ev.To)
		}
	}
	if phones[0] == "" || phones[1] == "" || phones[0] == phones[1] {
		t.Errorf("phone numbers of the two links: %q; want two different fresh numbers", phones)
	}
}

// Real mode must leave whatsmeow's trust alone: a simulator's root there
// would make every real connection fail. (Run after the simulate-mode tests,
// the trusted root is a simulator's, so a real mode that wrote WhatsApp's own
// key back is caught too.)
func TestRealModeLeavesWhatsAppTrustAlone(t *testing.T) {
	before := whatsapp.TrustedRoot()

	s := apptest.Start(t, nil)
	op := s.Client(apptest.Bearer(s.Token(t, auth.Operator)))
	apptest.Post(t, op, `mutation { createAccount(input: {name: "Real"}) { account { id } } }`).NoErrors(t)
	if s.App.Simulator != nil || s.App.SimulateGuide("http://x") != "" {
		t.Error("real mode started the simulator")
	}
	s.App.Close()
	if got := whatsapp.TrustedRoot(); got != before {
		t.Errorf("real mode changed the trusted certificate root to %x", got)
	}
	if strings.Contains(s.Logs.String(), "SIMULATE MODE") {
		t.Error("real mode logged that it simulates WhatsApp")
	}
}
