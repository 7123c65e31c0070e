package observe_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"wagraph/internal/observe"
)

func TestJobMetricsByKindAndState(t *testing.T) {
	m := observe.NewMetrics()
	var fail bool
	m.RegisterJobs(func(context.Context) ([]observe.JobCount, error) {
		if fail {
			return nil, errors.New("database down")
		}
		return []observe.JobCount{{Kind: "scrape_group", State: "running", N: 2}, {Kind: "scrape_group", State: "discarded", N: 1}}, nil
	}, []string{"available", "running", "discarded"})

	out := scrape(t, m)
	for series, want := range map[string]float64{
		`wagraph_jobs{kind="scrape_group",state="running"}`:   2,
		`wagraph_jobs{kind="scrape_group",state="discarded"}`: 1,
		`wagraph_jobs_count_up`:                               1,
	} {
		if got := sample(t, out, series); got != want {
			t.Errorf("%s = %v, want %v\n%s", series, got, want, out)
		}
	}
	if !containsLine(out, `wagraph_jobs{kind="scrape_group",state="available"} 0`) {
		t.Errorf("no zero series for a state without jobs:\n%s", out)
	}

	fail = true
	out = scrape(t, m)
	if sample(t, out, "wagraph_jobs_count_up") != 0 || containsLine(out, `wagraph_jobs{kind="scrape_group",state="running"} 2`) {
		t.Errorf("with the database down: want wagraph_jobs_count_up 0 and no stale counts:\n%s", out)
	}
}

func containsLine(exposition, line string) bool {
	for l := range strings.Lines(exposition) {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}
