package contact_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/apperr"
	"wagraph/internal/contact"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// clock is a fake clock that moves only when told.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newService(t *testing.T, db *store.DB) (*contact.Service, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	return contact.New(db, contact.Options{Logger: zerolog.Nop(), Now: c.now, DefaultRegion: "DE"}), c
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func upsert(t *testing.T, s *contact.Service, o contact.Observation) (*contact.Contact, contact.Outcome) {
	t.Helper()
	c, out, err := s.Upsert(context.Background(), o)
	if err != nil {
		t.Fatalf("upsert %+v: %v", o, err)
	}
	return c, out
}

func group(account, jid string) contact.Source {
	return contact.Source{Kind: contact.SourceGroup, AccountID: account, GroupJID: jid}
}

func TestIdentityAndDedup(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		s, clk := newService(t, db)
		ctx := context.Background()
		seen := clk.t.Add(-time.Hour)
		a, out := upsert(t, s, contact.Observation{Phone: "+49 151 23456789", PushName: "Ana", SeenAt: seen, Source: group("acc1", "g1@g.us")})
		if out != contact.Created || a.Phone != "+4915123456789" {
			t.Fatalf("first sighting: %v %+v", out, a)
		}
		// The same person in another group of another account, written
		// nationally (default region DE) and as a JID.
		b, out := upsert(t, s, contact.Observation{Phone: "0151 23456789", SeenAt: clk.t, Source: group("acc2", "g2@g.us")})
		if out != contact.Updated || b.ID != a.ID || !b.LastSeenAt.Equal(clk.t) || !b.FirstSeenAt.Equal(seen) {
			t.Fatalf("second sighting: %v %+v", out, b)
		}
		c, out := upsert(t, s, contact.Observation{Phone: "4915123456789@s.whatsapp.net", SeenAt: clk.t, Source: group("acc2", "g2@g.us")})
		if out != contact.Unchanged || c.ID != a.ID || c.PushName != "Ana" {
			t.Fatalf("third sighting: %v %+v", out, c)
		}
		srcs := must[[]contact.Source](t)(s.Sources(ctx, a.ID))
		if len(srcs) != 2 || srcs[0].GroupJID != "g1@g.us" || srcs[1].AccountID != "acc2" {
			t.Fatalf("sources: %+v", srcs)
		}
		// A LID-only contact is its own contact until linked.
		l, out := upsert(t, s, contact.Observation{LID: "987654321@lid", Source: group("acc1", "g1@g.us")})
		if out != contact.Created || l.ID == a.ID || l.Phone != "" {
			t.Fatalf("lid: %v %+v", out, l)
		}
		l2, out := upsert(t, s, contact.Observation{LID: "987654321", Source: group("acc1", "g1@g.us")})
		if out != contact.Unchanged || l2.ID != l.ID {
			t.Fatalf("lid again: %v %+v", out, l2)
		}
		page := must[*contact.Page](t)(s.List(ctx, contact.ListInput{}))
		if page.TotalCount != 2 {
			t.Fatalf("total %d, want 2", page.TotalCount)
		}
		// Bad identities are refused with a field.
		for _, o := range []contact.Observation{{}, {Phone: "12"}, {LID: "abc@lid"}, {LID: "1@s.whatsapp.net"}} {
			o.Source = group("a", "g")
			if _, _, err := s.Upsert(ctx, o); apperr.CodeOf(err) != apperr.InvalidInput {
				t.Errorf("%+v: %v, want INVALID_INPUT", o, err)
			}
		}
	})
}

func TestLIDMergeKeepsHistories(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		s, clk := newService(t, db)
		ctx := context.Background()
		early := clk.t.Add(-48 * time.Hour)
		// LID first: a member of a group listed by LID, in a persona.
		lidOnly, _ := upsert(t, s, contact.Observation{LID: "111222333@lid", PushName: "Bea", SeenAt: early,
			Attributes: map[string]string{"city": "Porto"}, Source: group("acc1", "lid-group@g.us")})
		p := must[*contact.Persona](t)(s.CreatePersona(ctx, "Porto", ""))
		must[int](t)(s.AddToPersona(ctx, p.ID, contact.Selection{IDs: []string{lidOnly.ID}}))
		// The number separately, from an import, opted out.
		phone, _ := upsert(t, s, contact.Observation{Phone: "+351912345678", FullName: "Beatriz Lima",
			Attributes: map[string]string{"city": "Lisboa", "tier": "gold"}, Source: contact.Source{Kind: contact.SourceImport, ImportID: "imp1"}})
		must[int](t)(s.SetOptOut(ctx, contact.Selection{IDs: []string{phone.ID}}, true))

		clk.t = clk.t.Add(time.Minute)
		merged, out, err := s.LinkLID(ctx, "111222333@lid", "+351912345678", contact.Source{Kind: contact.SourceWhatsApp, AccountID: "acc1"})
		if err != nil || out != contact.Merged {
			t.Fatalf("link: %v %v", out, err)
		}
		if merged.ID != phone.ID || merged.LID != "111222333@lid" || merged.PushName != "Bea" || merged.FullName != "Beatriz Lima" ||
			!merged.FirstSeenAt.Equal(early) || !merged.OptedOut || merged.Attributes["city"] != "Lisboa" || merged.Attributes["tier"] != "gold" {
			t.Fatalf("merged: %+v", merged)
		}
		if _, err := s.Get(ctx, lidOnly.ID); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("LID-only contact still there: %v", err)
		}
		srcs := must[[]contact.Source](t)(s.Sources(ctx, merged.ID))
		kinds := map[contact.SourceKind]bool{}
		for _, src := range srcs {
			kinds[src.Kind] = true
		}
		if len(srcs) != 3 || !kinds[contact.SourceGroup] || !kinds[contact.SourceImport] || !kinds[contact.SourceWhatsApp] {
			t.Fatalf("sources after merge: %+v", srcs)
		}
		ps := must[[]*contact.Persona](t)(s.PersonasOf(ctx, merged.ID))
		if len(ps) != 1 || ps[0].ID != p.ID || ps[0].ContactCount != 1 {
			t.Fatalf("personas after merge: %+v", ps)
		}
		// The LID now finds the number's contact.
		again, out := upsert(t, s, contact.Observation{LID: "111222333@lid", Source: group("acc1", "lid-group@g.us")})
		if again.ID != phone.ID || out != contact.Unchanged {
			t.Fatalf("lid after merge: %v %+v", out, again)
		}
		// LID first, number learnt later, with no number contact yet: the
		// same contact gets the number.
		solo, _ := upsert(t, s, contact.Observation{LID: "444@lid", Source: group("acc1", "g")})
		linked, out, err := s.LinkLID(ctx, "444@lid", "+5511987654321", contact.Source{Kind: contact.SourceWhatsApp})
		if err != nil || out != contact.Updated || linked.ID != solo.ID || linked.Phone != "+5511987654321" {
			t.Fatalf("link solo: %v %v %+v", out, err, linked)
		}
		// A LID that belongs to another number is a conflict.
		if _, _, err := s.LinkLID(ctx, "444@lid", "+351912345678", contact.Source{Kind: contact.SourceWhatsApp}); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("conflicting link: %v", err)
		}
		if n := must[*contact.Page](t)(s.List(ctx, contact.ListInput{})).TotalCount; n != 2 {
			t.Fatalf("total %d, want 2", n)
		}
	})
}

// Writers racing to create the same person end with one contact, each
// without an error: the loser of the insert finds the winner's row.
func TestConcurrentUpsertsMakeOneContact(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		s, _ := newService(t, db)
		ctx := context.Background()
		const writers = 8
		errs := make(chan error, writers)
		ids := make(chan string, writers)
		for i := range writers {
			go func() {
				c, _, err := s.Upsert(ctx, contact.Observation{Phone: "+4915123456789", PushName: fmt.Sprint("w", i), Source: group(fmt.Sprint("acc", i), "g@g.us")})
				errs <- err
				if err == nil {
					ids <- c.ID
				}
			}()
		}
		for range writers {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		first := <-ids
		for range writers - 1 {
			if id := <-ids; id != first {
				t.Fatalf("two contacts for one number: %s and %s", first, id)
			}
		}
		if n := must[*contact.Page](t)(s.List(ctx, contact.ListInput{})).TotalCount; n != 1 {
			t.Fatalf("%d contacts, want 1", n)
		}
		if n := len(must[[]contact.Source](t)(s.Sources(ctx, first))); n != writers {
			t.Fatalf("%d sources, want %d", n, writers)
		}
	})
}

func TestRefusedObservationsAndFilters(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		s, _ := newService(t, db)
		ctx := context.Background()
		upsert(t, s, contact.Observation{Phone: "+4915123456789", LID: "1@lid", Source: contact.Source{Kind: contact.SourceManual}})
		many := map[string]string{}
		for i := range contact.MaxAttributes + 1 {
			many[fmt.Sprint("k", i)] = "v"
		}
		for name, tc := range map[string]struct {
			o    contact.Observation
			code apperr.Code
		}{
			"other LID for the number": {contact.Observation{Phone: "+4915123456789", LID: "2@lid"}, apperr.Conflict},
			"LID of another number":    {contact.Observation{Phone: "+4915123456780", LID: "1@lid"}, apperr.Conflict},
			"unknown source":           {contact.Observation{Phone: "+4915123456789", Source: contact.Source{Kind: "FAX"}}, apperr.InvalidInput},
			"too many attributes":      {contact.Observation{Phone: "+4915123456789", Attributes: many}, apperr.InvalidInput},
			"empty attribute key":      {contact.Observation{Phone: "+4915123456789", Attributes: map[string]string{"": "v"}}, apperr.InvalidInput},
			"attribute value too long": {contact.Observation{Phone: "+4915123456789", Attributes: map[string]string{"k": strings.Repeat("v", 1001)}}, apperr.InvalidInput},
		} {
			if tc.o.Source.Kind == "" {
				tc.o.Source.Kind = contact.SourceManual
			}
			if _, _, err := s.Upsert(ctx, tc.o); apperr.CodeOf(err) != tc.code {
				t.Errorf("%s: %v, want %s", name, err, tc.code)
			}
		}
		if _, _, err := s.LinkLID(ctx, "", "+4915123456789", contact.Source{Kind: contact.SourceWhatsApp}); apperr.CodeOf(err) != apperr.InvalidInput {
			t.Errorf("link without LID: %v", err)
		}
		for name, in := range map[string]contact.ListInput{
			"source":       {Filter: contact.Filter{Source: "FAX"}},
			"search":       {Filter: contact.Filter{Search: strings.Repeat("a", 201)}},
			"search ctrl":  {Filter: contact.Filter{Search: "a\x00"}},
			"order":        {Order: contact.Order{Field: "NAME"}},
			"bad position": {After: "CREATED_AT.ASC|x|"},
		} {
			if _, err := s.List(ctx, in); apperr.CodeOf(err) != apperr.InvalidInput {
				t.Errorf("%s: %v", name, err)
			}
		}
		if _, err := s.Delete(ctx, make([]string, contact.MaxIDs+1)); apperr.CodeOf(err) != apperr.InvalidInput {
			t.Errorf("too many ids: %v", err)
		}
		if err := s.DeletePersona(ctx, "nope"); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("delete unknown persona: %v", err)
		}
		if _, err := s.UpdatePersona(ctx, contact.UpdatePersonaInput{ID: "nope", Description: ptr("x")}); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("update unknown persona: %v", err)
		}
	})
}
