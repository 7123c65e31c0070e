package contact

import (
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// A search finds part of any one name or of the number, ignoring case, and
// never a match spanning two names; on Postgres its statement is served by
// the trigram indexes (the expression the query searches is the indexed
// one).
func TestSearchNamesAndNumbers(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := New(db, Options{Logger: zerolog.Nop(), DefaultRegion: "DE"})
		for _, o := range []Observation{
			{Phone: "+4915111110001", FullName: "Ab", PushName: "Cd", Source: Source{Kind: SourceManual}},
			{Phone: "+4915122220002", BusinessName: "Bäckerei Müller", Source: Source{Kind: SourceManual}},
			{LID: "123456@lid", PushName: "50% off_sale", Source: Source{Kind: SourceManual}},
		} {
			if _, _, err := s.Upsert(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		for search, want := range map[string]int{
			"ab": 1, "CD": 1, "bc": 0, "abcd": 0, // not across two names
			"müller": 1, "KEREI": 1,
			"50%": 1, "0%": 1, "f_s": 1, "f s": 0, // % and _ are literal
			"0151 2222": 1, "1111": 1, "4915": 2, "999": 0,
		} {
			page, err := s.List(ctx, ListInput{Filter: Filter{Search: search}})
			if err != nil {
				t.Fatal(err)
			}
			if page.TotalCount != want || len(page.Contacts) != want {
				t.Errorf("search %q: totalCount %d, %d contacts, want %d", search, page.TotalCount, len(page.Contacts), want)
			}
		}
		if db.Kind != store.Postgres {
			return
		}
		// Enough contacts for the planner to prefer an index to a scan.
		_, err := db.ExecContext(ctx, `INSERT INTO mkt_wap_contacts (id, phone_e164, full_name, first_seen_at, last_seen_at, created_at, updated_at)
			SELECT 'seeded-' || g, '+4917' || lpad(g::text, 9, '0'), 'Seeded Name ' || g, now(), now(), now(), now()
			FROM generate_series(1, 20000) AS g`)
		if err != nil {
			t.Fatal(err)
		}
		// VACUUM moves the new rows from the trigram indexes' pending lists
		// into the indexes proper, as autovacuum does.
		if _, err := db.ExecContext(ctx, "VACUUM ANALYZE mkt_wap_contacts"); err != nil {
			t.Fatal(err)
		}
		for search, index := range map[string]string{"name 12345": "mkt_wap_contacts_names_trgm_idx", "0151 2222": "mkt_wap_contacts_phone_trgm_idx"} {
			q := applyFilter(db.NewSelect().Model((*contactRow)(nil)), Filter{Search: search}).String()
			var plan []string
			if err := db.NewRaw("EXPLAIN "+q).Scan(ctx, &plan); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(plan, "\n"), index) {
				t.Errorf("search %q does not use %s:\n%s\n%s", search, index, q, strings.Join(plan, "\n"))
			}
		}
	})
}
