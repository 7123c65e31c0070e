package graph_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/client"

	"wagraph/internal/apptest"
	"wagraph/internal/auth"
)

// seriesCount counts the series of the GraphQL operation metrics.
func seriesCount(t *testing.T, s *apptest.Server) int {
	t.Helper()
	families, err := s.App.Metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "wagraph_graphql_operation") {
			n += len(f.GetMetric())
		}
	}
	return n
}

// TestOperationNamesAddNoSeries: the operation name is the client's to
// choose, so it must not become a label value. 1000 random names, with and
// without a token, public and refused, add no series after the first of
// each kind.
func TestOperationNamesAddNoSeries(t *testing.T) {
	s := apptest.Start(t, nil)
	token := s.Token(t, auth.Viewer)
	queries := []string{"query %s { health { status } }", "query %s { viewer { role } }", "query %s { a: health { status } b: viewer { role } }"}
	for _, c := range [](func() string){
		func() string { return "" },
		func() string { return token },
	} {
		for _, q := range queries {
			apptest.Post(t, clientWith(s, c()), fmt.Sprintf(q, "First"))
		}
	}
	before := seriesCount(t, s)
	for i := range 1000 {
		name := fmt.Sprintf("Op%d_%x", i, rand.Uint64())
		tok := ""
		if i%2 == 0 {
			tok = token
		}
		apptest.Post(t, clientWith(s, tok), fmt.Sprintf(queries[i%len(queries)], name))
	}
	if after := seriesCount(t, s); after != before {
		t.Errorf("1000 operation names added %d series (%d before, %d after)", after-before, before, after)
	}
	metrics := scrapeMetrics(t, s)
	for _, want := range []string{`name="health"`, `name="viewer"`, `name="multiple"`} {
		if !strings.Contains(metrics, "wagraph_graphql_operations_total{"+want) {
			t.Errorf("no operations series with %s:\n%s", want, metrics)
		}
	}
}

func clientWith(s *apptest.Server, token string) *client.Client {
	if token == "" {
		return s.Client()
	}
	return s.Client(apptest.Bearer(token))
}
