package contact_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"wagraph/internal/apperr"
	"wagraph/internal/contact"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// Personas' stored contact counts (the persona filter's totalCount and
// personas' contactCount) stay equal to their links while writers add and
// remove links concurrently, by ids and by filter, delete contacts (the
// links go by cascade), merge LID-only contacts into numbers (the links
// move) and delete a persona.
func TestPersonaCountsStayExactUnderConcurrentWrites(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		s, _ := newService(t, db)
		ctx := context.Background()
		var personas []string
		for _, name := range []string{"A", "B", "C", "Doomed"} {
			personas = append(personas, must[*contact.Persona](t)(s.CreatePersona(ctx, name, "")).ID)
		}
		var ids []string
		for i := range 120 {
			c, _ := upsert(t, s, contact.Observation{Phone: fmt.Sprintf("+4915112345%03d", i), Source: group("acc", fmt.Sprintf("g%d@g.us", i%4))})
			ids = append(ids, c.ID)
		}
		for i := range 30 {
			c, _ := upsert(t, s, contact.Observation{LID: fmt.Sprintf("%d@lid", 700000+i), Source: group("acc", "lids@g.us")})
			ids = append(ids, c.ID)
		}
		pick := func(r *rand.Rand, n int) []string {
			out := make([]string, n)
			for i := range out {
				out[i] = ids[r.IntN(len(ids))]
			}
			return out
		}
		const writers, steps = 6, 25
		var wg sync.WaitGroup
		errs := make(chan error, writers*steps)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(w), 11))
				for step := range steps {
					p := personas[r.IntN(len(personas))]
					var err error
					switch op := r.IntN(7); {
					case w == 0 && step == steps/2:
						err = s.DeletePersona(ctx, personas[3])
					case op == 0 || op == 1:
						_, err = s.AddToPersona(ctx, p, contact.Selection{IDs: pick(r, 1+r.IntN(15))})
					case op == 2:
						_, err = s.AddToPersona(ctx, p, contact.Selection{Filter: &contact.Filter{GroupJID: fmt.Sprintf("g%d@g.us", r.IntN(4))}})
					case op == 3:
						_, err = s.RemoveFromPersona(ctx, p, contact.Selection{IDs: pick(r, 1+r.IntN(10))})
					case op == 4:
						_, err = s.RemoveFromPersona(ctx, p, contact.Selection{Filter: &contact.Filter{PersonaID: personas[r.IntN(3)], HasPhone: ptr(r.IntN(2) == 0)}})
					case op == 5:
						_, err = s.Delete(ctx, pick(r, 1+r.IntN(3)))
					default:
						// A LID learnt for a number: the LID-only contact
						// merges into the number's, with its links.
						i := r.IntN(30)
						_, _, err = s.LinkLID(ctx, fmt.Sprintf("%d@lid", 700000+i), fmt.Sprintf("+4915112345%03d", 60+i), group("acc", "lids@g.us"))
					}
					if _, ok := apperr.As(err); err != nil && !ok {
						errs <- err // a database error (a deadlock, say), not a refusal
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		listed := map[string]int{}
		for _, p := range must[*contact.PersonaPage](t)(s.ListPersonas(ctx, ptr(10), "", "")).Personas {
			listed[p.ID] = p.ContactCount
		}
		if _, ok := listed[personas[3]]; ok || len(listed) != 3 {
			t.Fatalf("personas listed: %v", listed)
		}
		for _, p := range personas[:3] {
			var links int
			if err := db.NewRaw("SELECT count(*) FROM contact_personas WHERE persona_id = ?", p).Scan(ctx, &links); err != nil {
				t.Fatal(err)
			}
			page := must[*contact.Page](t)(s.List(ctx, contact.ListInput{Filter: contact.Filter{PersonaID: p}, First: ptr(1)}))
			got := must[*contact.Persona](t)(s.GetPersona(ctx, p))
			if page.TotalCount != links || got.ContactCount != links || listed[p] != links {
				t.Errorf("persona %s has %d links; totalCount %d, contactCount %d, listed %d", got.Name, links, page.TotalCount, got.ContactCount, listed[p])
			}
			var rows int
			if err := db.NewRaw("SELECT count(*) FROM persona_contact_counts WHERE persona_id = ?", p).Scan(ctx, &rows); err != nil {
				t.Fatal(err)
			}
			if rows > 32+writers {
				t.Errorf("persona %s's count is kept in %d rows: they are not folded", got.Name, rows)
			}
		}
		var left int
		if err := db.NewRaw("SELECT count(*) FROM persona_contact_counts WHERE persona_id = ?", personas[3]).Scan(ctx, &left); err != nil || left != 0 {
			t.Fatalf("the deleted persona left %d count rows (%v)", left, err)
		}
	})
}
