package observe_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"wagraph/internal/account"
	"wagraph/internal/observe"
)

func TestAccountMetricsAreExported(t *testing.T) {
	m := observe.NewMetrics()
	a := m.Accounts()
	a.Transition(account.StatusAwaitingScan, account.StatusPending, account.ReasonActivationTimeout)
	a.PhoneExtracted("pair_success")
	a.ActivationTimedOut()
	a.ReconnectScheduled()
	a.Restored("session_missing")

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`wagraph_account_transitions_total{reason="ACTIVATION_TIMEOUT",to="PENDING"} 1`,
		`wagraph_account_phone_extraction_total{result="pair_success"} 1`,
		`wagraph_account_activation_timeouts_total 1`,
		`wagraph_account_reconnects_scheduled_total 1`,
		`wagraph_account_restores_total{result="session_missing"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestComponentUpGauge(t *testing.T) {
	m := observe.NewMetrics()
	m.RegisterHealth(observe.NewHealth("test", time.Second,
		observe.Check{Name: "good", Check: func(context.Context) error { return nil }},
		observe.Check{Name: "bad", Check: func(context.Context) error { return errors.New("down") }},
	))
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{`wagraph_component_up{component="good"} 1`, `wagraph_component_up{component="bad"} 0`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestLeaseMetricsAreExported(t *testing.T) {
	m := observe.NewMetrics()
	l := m.Leases()
	l.Owned(7)
	l.TakenOver("lapsed")
	l.Routed("reset", "timeout", 250*time.Millisecond)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`wagraph_lease_accounts_owned 7`,
		`wagraph_lease_takeovers_total{reason="lapsed"} 1`,
		`wagraph_routed_commands_total{kind="reset",outcome="timeout"} 1`,
		`wagraph_routed_command_duration_seconds_bucket{kind="reset",le="0.25"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
