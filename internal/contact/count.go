package contact

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"wagraph/internal/store"
)

// count returns how many contacts match f (the pages' totalCount). A
// filter on a persona alone is the persona's stored contact count
// (personaCount), kept exact by triggers on its links: a few rows, where
// counting the links of a persona of a tenth of a million contacts read
// 100,000 index entries and was most of the page's time. A filter on provenance alone is counted
// from the sources, which name existing contacts only (foreign key, deleted
// with the contact): an index range instead of a join over every contact,
// which at a million contacts is the difference between milliseconds and a
// second.
func (s *Service) count(ctx context.Context, f Filter) (int, error) {
	if f.PersonaID != "" && f == (Filter{PersonaID: f.PersonaID}) {
		var n int
		err := s.db.NewSelect().Table("persona_contact_counts").ColumnExpr("COALESCE(SUM(n), 0)").Where("persona_id = ?", f.PersonaID).Scan(ctx, &n)
		if err != nil {
			return 0, fmt.Errorf("contact: count persona: %w", err)
		}
		return n, nil
	}
	if (f.AccountID != "" || f.GroupJID != "" || f.Source != "") && f == (Filter{AccountID: f.AccountID, GroupJID: f.GroupJID, Source: f.Source}) {
		// Provenance alone: the distinct contacts of the matching sources,
		// read from the sources' indexes (every source names an existing
		// contact: foreign key, deleted with it).
		distinct := "count(DISTINCT contact_id)"
		if s.db.Kind == store.Postgres {
			// Ids compared byte-wise: the database's text collation makes
			// the distinct several times slower and orders nothing here.
			distinct = `count(DISTINCT contact_id COLLATE "C")`
		}
		q := s.db.NewSelect().Table("contact_sources").ColumnExpr(distinct)
		if f.AccountID != "" {
			q = q.Where("account_id = ?", f.AccountID)
		}
		if f.GroupJID != "" {
			q = q.Where("group_jid = ?", f.GroupJID)
		}
		if f.Source != "" {
			q = q.Where("kind = ?", string(f.Source))
		}
		var n int
		if err := q.Scan(ctx, &n); err != nil {
			return 0, fmt.Errorf("contact: count sources: %w", err)
		}
		return n, nil
	}
	n, err := applyFilter(s.db.NewSelect().Model((*contactRow)(nil)), f).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("contact: count: %w", err)
	}
	return int(n), nil
}

// pageFilter is applyFilter for a page. In id order, a persona's members
// are joined rather than tested one contact at a time: the persona's links
// are read in contact order from the page's position on (an index range of
// the persona), so a page costs its own rows whatever its depth and
// however few contacts the persona has; testing every contact in id order
// read ten contacts per member of a persona of a tenth, and deep pages
// (the export by persona) got slower with every page.
func pageFilter(q *bun.SelectQuery, f Filter, o Order, after *position, limit int) *bun.SelectQuery {
	if f.PersonaID == "" || o.column() != "" {
		return applyFilter(q, f)
	}
	cmp, dir := ">", "ASC"
	if o.Desc {
		cmp, dir = "<", "DESC"
	}
	if f == (Filter{PersonaID: f.PersonaID}) {
		// The persona alone: the page is the persona's next links, read
		// first (the planner would otherwise walk the contacts in id order
		// and test ten for each member of a persona of a tenth).
		sub := "SELECT contact_id FROM contact_personas WHERE persona_id = ?"
		args := []any{f.PersonaID}
		if after != nil {
			sub += " AND contact_id " + cmp + " ?"
			args = append(args, after.id)
		}
		args = append(args, limit)
		return applyFilter(q, Filter{}).Where("c.id IN ("+sub+" ORDER BY contact_id "+dir+" LIMIT ?)", args...)
	}
	persona := f.PersonaID
	f.PersonaID = ""
	// One link per contact and persona (primary key): the join repeats no
	// contact.
	q = q.Join("JOIN contact_personas AS cp ON cp.contact_id = c.id AND cp.persona_id = ?", persona)
	if after != nil {
		q = q.Where("cp.contact_id "+cmp+" ?", after.id)
	}
	return applyFilter(q, f)
}
