package account

import (
	"strings"
	"testing"
	"time"

	"wagraph/internal/apperr"
)

func TestTransitionTableCoversEveryStatus(t *testing.T) {
	for _, from := range Statuses {
		targets, ok := transitions[from]
		if !ok || len(targets) == 0 {
			t.Fatalf("%s has no transitions", from)
		}
		for _, to := range targets {
			if !to.Valid() {
				t.Fatalf("%s → %q: unknown status", from, to)
			}
		}
		// Reset and activation timeout reach PENDING from everywhere.
		if !CanTransition(from, StatusPending) {
			t.Fatalf("%s cannot be reset to PENDING", from)
		}
	}
	if len(transitions) != len(Statuses) {
		t.Fatalf("table has %d statuses, want %d", len(transitions), len(Statuses))
	}
}

func TestTransitionRules(t *testing.T) {
	cases := []struct {
		from, to Status
		ok       bool
	}{
		{StatusPending, StatusAwaitingScan, true},
		{StatusPending, StatusActive, false},
		{StatusAwaitingScan, StatusAuthenticating, true},
		{StatusAwaitingScan, StatusActive, false},
		{StatusAuthenticating, StatusWarming, true},
		{StatusAuthenticating, StatusActive, false},
		{StatusWarming, StatusActive, true},
		{StatusActive, StatusReconnecting, true},
		{StatusActive, StatusAwaitingScan, false},
		{StatusReconnecting, StatusActive, true},
		{StatusReconnecting, StatusFailed, true},
		{StatusDisconnected, StatusActive, true},
		{StatusLoggedOut, StatusReconnecting, false},
		{StatusLoggedOut, StatusAwaitingScan, true},
		{StatusBanned, StatusActive, false},
		{StatusBanned, StatusReconnecting, true},
		{StatusExpired, StatusReconnecting, true},
		{StatusFailed, StatusReconnecting, true},
		{StatusFailed, StatusActive, false},
		{StatusPending, StatusLoggedOut, false},
	}
	for _, c := range cases {
		if got := CanTransition(c.from, c.to); got != c.ok {
			t.Errorf("CanTransition(%s, %s) = %v, want %v", c.from, c.to, got, c.ok)
		}
		err := checkTransition(c.from, c.to)
		if c.ok != (err == nil) {
			t.Errorf("checkTransition(%s, %s) = %v", c.from, c.to, err)
		}
		if err != nil {
			ae, _ := apperr.As(err)
			if ae == nil || ae.Code != apperr.InvalidTransition || ae.Suggestion == "" || !strings.Contains(ae.Message, string(c.from)) {
				t.Errorf("checkTransition(%s, %s) error = %#v", c.from, c.to, err)
			}
		}
	}
}

func TestEveryReasonHasTextAndSuggestion(t *testing.T) {
	for _, code := range ReasonCodes() {
		r := NewReason(code, "")
		if r.Message == "" {
			t.Errorf("%s has no message", code)
		}
		if r.Suggestion == "" && code != ReasonConnected {
			t.Errorf("%s has no suggestion", code)
		}
	}
	if r := NewReason(ReasonWALoggedOut, "custom"); r.Message != "custom" || r.Suggestion == "" {
		t.Fatalf("custom message: %+v", r)
	}
}

func TestStatusAndMethodHelpers(t *testing.T) {
	if Status("NAPPING").Valid() || !StatusFailed.Valid() {
		t.Fatal("Status.Valid")
	}
	for _, s := range Statuses {
		want := s == StatusAwaitingScan || s == StatusAuthenticating || s == StatusWarming
		if s.Activating() != want {
			t.Fatalf("%s.Activating() = %v", s, !want)
		}
	}
	if !MethodQR.Valid() || !MethodPairingCode.Valid() || Method("SMS").Valid() {
		t.Fatal("Method.Valid")
	}
	now := time.Now()
	a := &Activation{ExpiresAt: now.Add(1500 * time.Millisecond)}
	if got := a.SecondsRemaining(now); got != 2 {
		t.Fatalf("SecondsRemaining rounds up: got %d", got)
	}
	if got := a.SecondsRemaining(now.Add(time.Hour)); got != 0 {
		t.Fatalf("SecondsRemaining after expiry = %d", got)
	}
}

func TestNormalizePhone(t *testing.T) {
	cases := []struct {
		in, region, want string
	}{
		{"+49 151 2345 6789", "", "+4915123456789"},
		{"0049 151 23456789", "", "+4915123456789"},
		{"4915123456789", "", "+4915123456789"},
		{"(415) 555-0123", "US", "+14155550123"},
		{"+1 415-555-0123", "DE", "+14155550123"},
		{"0151 23456789", "de", "+4915123456789"},
	}
	for _, c := range cases {
		got, err := NormalizePhone(c.in, c.region)
		if err != nil || got != c.want {
			t.Errorf("NormalizePhone(%q, %q) = %q, %v; want %q", c.in, c.region, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "  ", "hello", "+49 12", "0151 23456789", "+999 1234567"} {
		_, err := NormalizePhone(bad, "")
		ae, ok := apperr.As(err)
		if !ok || ae.Code != apperr.InvalidInput || ae.Field != "phoneNumber" || !strings.Contains(ae.Suggestion, "international") {
			t.Errorf("NormalizePhone(%q) err = %v", bad, err)
		}
	}
}

func TestPhoneFromJID(t *testing.T) {
	cases := map[string]string{
		"15550100001:7@s.whatsapp.net":    "+15550100001",
		"15550100001@s.whatsapp.net":      "+15550100001",
		"15550100001.0:12@s.whatsapp.net": "+15550100001",
		"123456789@lid":                   "",
		"120363025246125244@g.us":         "",
		"":                                "",
		"abc@s.whatsapp.net":              "",
		"12@s.whatsapp.net":               "",
	}
	for in, want := range cases {
		if got := PhoneFromJID(in); got != want {
			t.Errorf("PhoneFromJID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSystemClock(t *testing.T) {
	var c Clock = SystemClock{}
	if time.Since(c.Now()) > time.Minute {
		t.Fatal("SystemClock.Now is off")
	}
}

func TestDescribeDuration(t *testing.T) {
	cases := map[time.Duration]string{
		15 * 24 * time.Hour: "15 days",
		5 * time.Hour:       "5 hours",
		90 * time.Second:    "1m30s",
	}
	for d, want := range cases {
		if got := describeDuration(d); got != want {
			t.Errorf("describeDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
