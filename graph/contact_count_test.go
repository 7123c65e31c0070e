package graph_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/99designs/gqlgen/client"
	"github.com/uptrace/bun"

	"wagraph/internal/apptest"
	"wagraph/internal/auth"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// countSpy records the counting statements a database runs.
type countSpy struct {
	mu     sync.Mutex
	counts []string
}

func (s *countSpy) BeforeQuery(ctx context.Context, e *bun.QueryEvent) context.Context {
	if strings.Contains(strings.ToLower(e.Query), "count(") {
		s.mu.Lock()
		s.counts = append(s.counts, e.Query)
		s.mu.Unlock()
	}
	return ctx
}

func (*countSpy) AfterQuery(context.Context, *bun.QueryEvent) {}

func (s *countSpy) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.counts
	s.counts = nil
	return out
}

// contacts counts its matches only when the query selects totalCount
// (directly or through a fragment): a page of a search or of combined
// filters costs its own rows, a count every match.
func TestContactsCountOnlyWhenSelected(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		spy := &countSpy{}
		db.AddQueryHook(spy)
		op := contactAPI(t, db)(auth.Operator)
		apptest.Post(t, op, `mutation { importContactsCsvText(input: {csv: "phone,name\n+4915123456781,Ana\n+4915123456782,Anabel\n+4915123456783,Bruno"}) { report { created } } }`).NoErrors(t)
		spy.take()

		data := apptest.Post(t, op, `{ contacts(first: 1, filter: {search: "ana"}) { edges { node { fullName } } pageInfo { hasNextPage } } }`).NoErrors(t)
		if apptest.Path(data, "contacts", "pageInfo", "hasNextPage") != true {
			t.Fatalf("contacts = %v", data)
		}
		if got := spy.take(); len(got) != 0 {
			t.Fatalf("counted without totalCount: %v", got)
		}
		for _, q := range []string{
			`{ contacts(first: 1, filter: {search: "ana"}) { totalCount } }`,
			`{ contacts(first: 1, filter: {search: "ana"}) { ...n } } fragment n on ContactConnection { totalCount }`,
			`query($all: Boolean!) { contacts(first: 1, filter: {search: "ana"}) { edges { cursor } totalCount @include(if: $all) } }`,
		} {
			var opts []client.Option
			if strings.Contains(q, "$all") {
				opts = append(opts, client.Var("all", true))
			}
			data := apptest.Post(t, op, q, opts...).NoErrors(t)
			if apptest.Path(data, "contacts", "totalCount") != float64(2) {
				t.Fatalf("%s: %v", q, data)
			}
		}
		apptest.Post(t, op, `query($all: Boolean!) { contacts(first: 1, filter: {search: "ana"}) { edges { cursor } totalCount @include(if: $all) } }`, client.Var("all", false)).NoErrors(t)
		if got := spy.take(); len(got) != 3 {
			t.Fatalf("%d counts for three queries with totalCount and one without: %v", len(got), got)
		}
	})
}
