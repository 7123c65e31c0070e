package observe_test

import (
	"strings"
	"testing"
	"time"

	"wagraph/internal/contact"
	"wagraph/internal/observe"
)

func TestImportMetricsAreExported(t *testing.T) {
	m := observe.NewMetrics()
	im := m.Imports()
	im.ImportBatch(10_000, 400_000, 250*time.Millisecond)
	im.ImportBatch(500, 20_000, 10*time.Millisecond)
	im.ImportFinished(contact.ImportDone)
	body := scrape(t, m)
	for _, want := range []string{
		`wagraph_contact_imports_finished_total{state="DONE"} 1`,
		`wagraph_contact_imports_finished_total{state="FAILED"} 0`,
		`wagraph_contact_imports_finished_total{state="CANCELED"} 0`,
		"wagraph_contact_import_batch_rows_total 10500",
		"wagraph_contact_import_bytes_total 420000",
		"wagraph_contact_import_batch_seconds_count 2",
		`wagraph_contact_import_batch_seconds_bucket{le="0.01"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
