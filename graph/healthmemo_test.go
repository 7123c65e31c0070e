package graph_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"wagraph/graph"
	"wagraph/internal/observe"
)

// TestHealthChecksRunOncePerOperation: health needs no token, so a query that
// selects it under 100 aliases must not run the readiness checks (database
// round trips) 100 times.
func TestHealthChecksRunOncePerOperation(t *testing.T) {
	var runs atomic.Int64
	check := observe.Check{Name: "database", Check: func(context.Context) error { runs.Add(1); return nil }}
	h := graph.NewHandler(&graph.Resolver{Readiness: observe.NewHealth("test", time.Second, check)},
		graph.HandlerOptions{ComplexityLimit: 1000, ParserTokenLimit: 5000})
	var q strings.Builder
	q.WriteString(`{"query":"{`)
	for i := range 100 {
		q.WriteString(" a" + string(rune('0'+i/10)) + string(rune('0'+i%10)) + ": health { status }")
	}
	q.WriteString(` }"}`)
	for round := 1; round <= 2; round++ {
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(q.String()))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "errors") || strings.Count(rec.Body.String(), `"UP"`) != 100 {
			t.Fatalf("round %d: %d %s", round, rec.Code, rec.Body.String())
		}
		if got := runs.Load(); got != int64(round) {
			t.Errorf("after %d operations the checks ran %d times, want once per operation", round, got)
		}
	}
}
