package observe

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"wagraph/internal/contact"
)

// ImportMetrics observes job-backed contact imports; it implements
// contact.ImportMetrics. Rows by outcome are counted by ContactMetrics
// (wagraph_contact_import_rows_total); jobs by River state by the jobs
// gauge (kind import_contacts).
type ImportMetrics struct {
	finished *prometheus.CounterVec
	rows     prometheus.Counter
	bytes    prometheus.Counter
	batch    prometheus.Histogram
}

var _ contact.ImportMetrics = (*ImportMetrics)(nil)

// Imports registers and returns the import jobs' metrics.
func (m *Metrics) Imports() *ImportMetrics {
	im := &ImportMetrics{
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wagraph_contact_imports_finished_total", Help: "Job-backed contact imports that ended, by final state (DONE, FAILED, CANCELED).",
		}, []string{"state"}),
		rows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wagraph_contact_import_batch_rows_total", Help: "Data rows of committed import batches, dry runs included (rows per second: its rate).",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wagraph_contact_import_bytes_total", Help: "Bytes of uploaded files imported by committed batches, dry runs included.",
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "wagraph_contact_import_batch_seconds", Help: "How long one import batch took to read, write and checkpoint.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}),
	}
	for _, s := range []contact.ImportState{contact.ImportDone, contact.ImportFailed, contact.ImportCanceled} {
		im.finished.WithLabelValues(string(s)) // every state from the start, at 0
	}
	m.Registry.MustRegister(im.finished, im.rows, im.bytes, im.batch)
	return im
}

// ImportFinished implements contact.ImportMetrics.
func (im *ImportMetrics) ImportFinished(s contact.ImportState) {
	im.finished.WithLabelValues(string(s)).Inc()
}

// ImportBatch implements contact.ImportMetrics.
func (im *ImportMetrics) ImportBatch(rows int, bytes int64, took time.Duration) {
	im.rows.Add(float64(rows))
	im.bytes.Add(float64(bytes))
	im.batch.Observe(took.Seconds())
}
