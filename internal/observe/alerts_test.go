package observe_test

import (
	"context"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"wagraph/internal/account"
	"wagraph/internal/observe"
	"wagraph/internal/pubsub"
	"wagraph/internal/sending"
)

// Every metric the alert rules use must be one wagraph exports, so a renamed
// metric cannot silently disable an alert.
func TestAlertRulesUseExportedMetrics(t *testing.T) {
	rules, err := os.ReadFile("../../docs/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	m := observe.NewMetrics()
	m.Accounts()
	m.Leases()
	m.Subscriptions()
	m.RegisterBus(func() pubsub.Stats { return pubsub.Stats{} })
	m.RegisterHealth(observe.NewHealth("test", 0))
	m.RegisterJobs(func(context.Context) ([]observe.JobCount, error) {
		return []observe.JobCount{{Kind: "k", State: "available", N: 1}}, nil
	}, nil)
	m.Sending(func(context.Context) (map[sending.PauseReason]int, error) { return nil, nil })
	m.AccountStatuses(func(context.Context) (map[account.Status]int, error) { return nil, nil })
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	// Touch the vector metrics so their families are gathered too.
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	known := map[string]bool{}
	for _, f := range families {
		known[f.GetName()] = true
	}
	vectors := []string{"wagraph_graphql_operations_total", "wagraph_http_request_duration_seconds",
		"wagraph_account_transitions_total", "wagraph_account_phone_extraction_total", "wagraph_component_up",
		"wagraph_lease_takeovers_total", "wagraph_routed_commands_total"}
	for _, v := range vectors {
		known[v] = true // vectors without samples are not gathered; their names are checked below
	}
	used := regexp.MustCompile(`wagraph_[a-z_]+`).FindAllString(string(rules), -1)
	if len(used) == 0 {
		t.Fatal("no wagraph metric found in the alert rules")
	}
	for _, name := range used {
		base := strings.TrimSuffix(name, "_bucket")
		if !known[base] {
			t.Errorf("alerts.yml uses %s, which wagraph does not export", name)
		}
	}
	for _, v := range vectors {
		if !strings.Contains(metricsSource(t), `"`+v+`"`) {
			t.Errorf("metric %s is assumed by this test but not defined in internal/observe", v)
		}
	}
}

func metricsSource(t *testing.T) string {
	t.Helper()
	var all strings.Builder
	for _, f := range []string{"metrics.go", "metrics_account.go", "metrics_health.go", "metrics_lease.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	return all.String()
}
