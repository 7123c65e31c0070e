package contact

import "context"

// Metrics receives the contact base's counters; the server wires it to
// Prometheus, tests and the default use NopMetrics. Implementations must
// be safe for concurrent use.
type Metrics interface {
	// Upserted counts one committed observation outside imports (a scrape,
	// a LID mapping, the API) by what it did: CREATED, UPDATED, UNCHANGED,
	// MERGED.
	Upserted(Outcome)
	// ImportRows counts rows of a committed import by outcome: "created",
	// "updated", "unchanged", "merged", "duplicate", "invalid".
	ImportRows(outcome string, n int)
}

// NopMetrics counts nothing.
type NopMetrics struct{}

func (NopMetrics) Upserted(Outcome)       {}
func (NopMetrics) ImportRows(string, int) {}

// Count returns how many contacts there are, for the contacts gauge.
func (s *Service) Count(ctx context.Context) (int, error) {
	n, err := s.db.NewSelect().Model((*contactRow)(nil)).Count(ctx)
	return int(n), err
}
