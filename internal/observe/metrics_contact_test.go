package observe_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"wagraph/internal/contact"
	"wagraph/internal/observe"
)

func TestContactMetricsAreExported(t *testing.T) {
	m := observe.NewMetrics()
	count := 42
	var countErr error
	c := m.Contacts(func(context.Context) (int, error) { return count, countErr })
	c.Upserted(contact.Merged)
	c.ImportRows("invalid", 3)
	body := scrape(t, m)
	for _, want := range []string{
		`wagraph_contact_upserts_total{outcome="MERGED"} 1`,
		`wagraph_contact_import_rows_total{outcome="invalid"} 3`,
		"wagraph_contacts 42",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// A failed count leaves the gauge out rather than reporting 0.
	countErr = errors.New("database down")
	if body := scrape(t, m); strings.Contains(body, "wagraph_contacts ") {
		t.Errorf("gauge reported while its count fails")
	}
}
