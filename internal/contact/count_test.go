package contact_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"wagraph/internal/contact"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// Pages of a persona (and the export by persona) continue after their
// position in both directions, each member once, and the counts of the
// filters that are counted from their own tables match the members.
func TestPersonaPagesAndCounts(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		s, _ := newService(t, db)
		ctx := context.Background()
		p := must[*contact.Persona](t)(s.CreatePersona(ctx, "Every third", ""))
		var want []string
		for i := range 30 {
			c, _ := upsert(t, s, contact.Observation{Phone: fmt.Sprintf("+4915123456%03d", i), Source: group(fmt.Sprintf("acc%d", i%2), "g@g.us")})
			if i%3 == 0 {
				want = append(want, c.ID)
				must[int](t)(s.AddToPersona(ctx, p.ID, contact.Selection{IDs: []string{c.ID}}))
			}
		}
		slices.Sort(want)
		for _, tc := range []struct {
			desc bool
			f    contact.Filter
		}{
			{false, contact.Filter{PersonaID: p.ID}},
			{true, contact.Filter{PersonaID: p.ID}},
			{false, contact.Filter{PersonaID: p.ID, HasPhone: ptr(true)}}, // joined, not read first
			{true, contact.Filter{PersonaID: p.ID, HasPhone: ptr(true)}},
		} {
			desc := tc.desc
			var got []string
			after := ""
			for range 20 {
				page := must[*contact.Page](t)(s.List(ctx, contact.ListInput{Filter: tc.f,
					Order: contact.Order{Desc: desc}, First: ptr(3), After: after}))
				if page.TotalCount != len(want) {
					t.Fatalf("totalCount %d, want %d", page.TotalCount, len(want))
				}
				for _, c := range page.Contacts {
					got = append(got, c.ID)
				}
				if !page.HasNextPage {
					break
				}
				after = page.Positions[len(page.Positions)-1]
			}
			w := slices.Clone(want)
			if desc {
				slices.Reverse(w)
			}
			if !slices.Equal(got, w) {
				t.Fatalf("desc=%v: pages gave %v, want %v", desc, got, w)
			}
		}
		var out bytes.Buffer
		if n := must[int](t)(s.ExportCSV(ctx, &out, contact.Filter{PersonaID: p.ID})); n != len(want) || strings.Count(out.String(), "\n") != len(want)+1 {
			t.Fatalf("export: %d contacts:\n%s", n, out.String())
		}
		for f, n := range map[string]int{"acc0": 15, "acc1": 15} {
			if got := must[*contact.Page](t)(s.List(ctx, contact.ListInput{Filter: contact.Filter{AccountID: f}})).TotalCount; got != n {
				t.Fatalf("account %s: %d, want %d", f, got, n)
			}
		}
		if got := must[*contact.Page](t)(s.List(ctx, contact.ListInput{Filter: contact.Filter{GroupJID: "g@g.us", Source: contact.SourceGroup}})).TotalCount; got != 30 {
			t.Fatalf("group: %d, want 30", got)
		}
	})
}
