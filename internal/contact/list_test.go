package contact_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
	"wagraph/internal/contact"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// queryCounter counts the statements a database runs.
type queryCounter struct{ n atomic.Int64 }

func (q *queryCounter) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	q.n.Add(1)
	return ctx
}
func (*queryCounter) AfterQuery(context.Context, *bun.QueryEvent) {}

func ptr[T any](v T) *T { return &v }

// seed creates 25 contacts: 20 with numbers seen in two groups of acc1 (even
// and odd), 5 LID-only in acc2's group; names Contact 00..24, seen a minute
// apart in reverse order.
func seed(t *testing.T, s *contact.Service, base time.Time) []*contact.Contact {
	t.Helper()
	var out []*contact.Contact
	for i := range 25 {
		o := contact.Observation{PushName: fmt.Sprintf("Contact %02d", i), SeenAt: base.Add(-time.Duration(i) * time.Minute)}
		switch {
		case i >= 20:
			o.LID = fmt.Sprintf("%d@lid", 900000+i)
			o.Source = group("acc2", "lids@g.us")
		case i%2 == 0:
			o.Phone = fmt.Sprintf("+49151000000%02d", i)
			o.Source = group("acc1", "even@g.us")
		default:
			o.Phone = fmt.Sprintf("+49151000000%02d", i)
			o.Source = group("acc1", "odd@g.us")
		}
		c, _ := upsert(t, s, o)
		out = append(out, c)
	}
	return out
}

func TestFiltersAndPagination(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		s, clk := newService(t, db)
		ctx := context.Background()
		all := seed(t, s, clk.t)
		must[int](t)(s.SetOptOut(ctx, contact.Selection{IDs: []string{all[3].ID, all[4].ID}}, true))

		count := func(f contact.Filter) int {
			t.Helper()
			return must[*contact.Page](t)(s.List(ctx, contact.ListInput{Filter: f, First: ptr(0)})).TotalCount
		}
		for name, tc := range map[string]struct {
			f    contact.Filter
			want int
		}{
			"all":             {contact.Filter{}, 25},
			"account":         {contact.Filter{AccountID: "acc1"}, 20},
			"group":           {contact.Filter{GroupJID: "even@g.us"}, 10},
			"account+group":   {contact.Filter{AccountID: "acc2", GroupJID: "even@g.us"}, 0},
			"source":          {contact.Filter{Source: contact.SourceGroup}, 25},
			"source import":   {contact.Filter{Source: contact.SourceImport}, 0},
			"has phone":       {contact.Filter{HasPhone: ptr(true)}, 20},
			"lid only":        {contact.Filter{HasPhone: ptr(false)}, 5},
			"opted out":       {contact.Filter{OptedOut: ptr(true)}, 2},
			"search name":     {contact.Filter{Search: "contact 1"}, 10},
			"search number":   {contact.Filter{Search: "0151 000000 1"}, 10},
			"search like esc": {contact.Filter{Search: "%"}, 0},
		} {
			if got := count(tc.f); got != tc.want {
				t.Errorf("%s: %d contacts, want %d", name, got, tc.want)
			}
		}

		// Page through every order in both directions: each contact once,
		// in order, with the total on every page.
		for _, order := range []contact.Order{{}, {Desc: true}, {Field: contact.OrderLastSeen}, {Field: contact.OrderLastSeen, Desc: true}, {Field: contact.OrderFirstSeen}} {
			var got []*contact.Contact
			after := ""
			for pages := 0; ; pages++ {
				p := must[*contact.Page](t)(s.List(ctx, contact.ListInput{Order: order, First: ptr(7), After: after}))
				if p.TotalCount != 25 || pages > 5 {
					t.Fatalf("%+v: total %d after %d pages", order, p.TotalCount, pages)
				}
				got = append(got, p.Contacts...)
				if !p.HasNextPage {
					break
				}
				after = p.Positions[len(p.Positions)-1]
			}
			if len(got) != 25 {
				t.Fatalf("%+v: %d contacts over all pages, want 25", order, len(got))
			}
			for i := 1; i < len(got); i++ {
				a, b := got[i-1], got[i]
				var ok bool
				switch order.Field {
				case contact.OrderLastSeen:
					ok = a.LastSeenAt.Before(b.LastSeenAt) != order.Desc
				case contact.OrderFirstSeen:
					ok = !a.FirstSeenAt.After(b.FirstSeenAt)
				default:
					ok = (a.ID < b.ID) != order.Desc
				}
				if !ok {
					t.Fatalf("%+v: out of order at %d: %s then %s", order, i, a.PushName, b.PushName)
				}
			}
		}
		// A position from another order is refused.
		p := must[*contact.Page](t)(s.List(ctx, contact.ListInput{First: ptr(1)}))
		_, err := s.List(ctx, contact.ListInput{Order: contact.Order{Field: contact.OrderLastSeen}, After: p.Positions[0]})
		if apperr.CodeOf(err) != apperr.InvalidInput {
			t.Fatalf("foreign position: %v", err)
		}
		if _, err := s.List(ctx, contact.ListInput{First: ptr(101)}); apperr.CodeOf(err) != apperr.InvalidInput {
			t.Fatalf("first 101: %v", err)
		}
	})
}

func TestPersonaBulkOpsByFilterInOneStatement(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		s, clk := newService(t, db)
		ctx := context.Background()
		all := seed(t, s, clk.t)
		p := must[*contact.Persona](t)(s.CreatePersona(ctx, "Evens", "members of the even group"))
		if _, err := s.CreatePersona(ctx, "EVENS", ""); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("same name in other case: %v", err)
		}

		counter := &queryCounter{}
		db.AddQueryHook(counter)
		before := counter.n.Load()
		added := must[int](t)(s.AddToPersona(ctx, p.ID, contact.Selection{Filter: &contact.Filter{GroupJID: "even@g.us"}}))
		// One statement to check the persona exists, one to link them all.
		if added != 10 || counter.n.Load()-before != 2 {
			t.Fatalf("added %d in %d statements; want 10 in 2", added, counter.n.Load()-before)
		}
		// Again: nothing new.
		if again := must[int](t)(s.AddToPersona(ctx, p.ID, contact.Selection{Filter: &contact.Filter{GroupJID: "even@g.us"}})); again != 0 {
			t.Fatalf("added again: %d", again)
		}
		must[int](t)(s.AddToPersona(ctx, p.ID, contact.Selection{IDs: []string{all[21].ID}}))
		if n := must[*contact.Page](t)(s.List(ctx, contact.ListInput{Filter: contact.Filter{PersonaID: p.ID}})).TotalCount; n != 11 {
			t.Fatalf("persona has %d contacts, want 11", n)
		}
		before = counter.n.Load()
		removed := must[int](t)(s.RemoveFromPersona(ctx, p.ID, contact.Selection{Filter: &contact.Filter{Search: "contact 0"}}))
		if removed != 5 || counter.n.Load()-before != 2 { // 00 02 04 06 08
			t.Fatalf("removed %d in %d statements; want 5 in 2", removed, counter.n.Load()-before)
		}
		page := must[*contact.PersonaPage](t)(s.ListPersonas(ctx, nil, "", ""))
		if page.TotalCount != 1 || page.Personas[0].ContactCount != 6 || page.Personas[0].Description != "members of the even group" {
			t.Fatalf("personas: %+v", page.Personas[0])
		}
		renamed := must[*contact.Persona](t)(s.UpdatePersona(ctx, contact.UpdatePersonaInput{ID: p.ID, Name: ptr("Even group"), Description: ptr("")}))
		if renamed.Name != "Even group" || renamed.Description != "" || renamed.ContactCount != 6 {
			t.Fatalf("renamed: %+v", renamed)
		}
		// Opt-out by filter, and selections that are refused.
		if n := must[int](t)(s.SetOptOut(ctx, contact.Selection{Filter: &contact.Filter{PersonaID: p.ID}}, true)); n != 6 {
			t.Fatalf("opted out %d, want 6", n)
		}
		for _, sel := range []contact.Selection{{}, {IDs: []string{"x"}, Filter: &contact.Filter{}}} {
			if _, err := s.AddToPersona(ctx, p.ID, sel); apperr.CodeOf(err) != apperr.InvalidInput {
				t.Errorf("%+v: %v", sel, err)
			}
		}
		if _, err := s.AddToPersona(ctx, "nope", contact.Selection{IDs: []string{all[0].ID}}); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("unknown persona: %v", err)
		}
		// Deleting contacts removes their links; deleting the persona keeps the contacts.
		if n := must[int](t)(s.Delete(ctx, []string{all[10].ID, all[12].ID})); n != 2 {
			t.Fatalf("deleted %d", n)
		}
		if got := must[*contact.Persona](t)(s.GetPersona(ctx, p.ID)).ContactCount; got != 4 {
			t.Fatalf("after delete: %d contacts in persona, want 4", got)
		}
		if err := s.DeletePersona(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		if n := must[*contact.Page](t)(s.List(ctx, contact.ListInput{})).TotalCount; n != 23 {
			t.Fatalf("contacts after persona delete: %d", n)
		}
	})
}

func TestUpdateContact(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		s, _ := newService(t, db)
		ctx := context.Background()
		c, _ := upsert(t, s, contact.Observation{Phone: "+4915123456789", Source: contact.Source{Kind: contact.SourceManual}})
		u := must[*contact.Contact](t)(s.Update(ctx, contact.UpdateInput{ID: c.ID, FullName: ptr("Ana Souza"), Attributes: map[string]string{"city": "Recife"}, OptedOut: ptr(true)}))
		if u.FullName != "Ana Souza" || u.Attributes["city"] != "Recife" || !u.OptedOut || u.OptedOutAt.IsZero() {
			t.Fatalf("updated: %+v", u)
		}
		got := must[*contact.Contact](t)(s.Get(ctx, c.ID))
		if got.FullName != "Ana Souza" || got.Attributes["city"] != "Recife" || !got.OptedOut {
			t.Fatalf("stored: %+v", got)
		}
		if _, err := s.Update(ctx, contact.UpdateInput{ID: "nope"}); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("unknown: %v", err)
		}
		if _, err := s.Update(ctx, contact.UpdateInput{ID: c.ID, FullName: ptr("a\u202eb")}); apperr.CodeOf(err) != apperr.InvalidInput {
			t.Fatalf("bidi name: %v", err)
		}
	})
}
