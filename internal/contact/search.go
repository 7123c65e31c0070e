package contact

import (
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// searchNames is what a name search matches on Postgres: the lower-cased
// full, push and business names joined by \x01, which names never hold
// (cleanName) and searches may not (checkFilter), so a match lies within
// one name, as with one LIKE per name. It is the expression of the trigram
// index of migration 20261127171000_contact_search_trgm, written the same
// way, so the planner uses the index.
const searchNames = `lower(coalesce(c.full_name, '') || E'\x01' || coalesce(c.push_name, '') || E'\x01' || coalesce(c.business_name, ''))`

// applySearch adds the search condition: the number's digits when s is
// written like a number, else part of a name, ignoring case.
func applySearch(q *bun.SelectQuery, s string) *bun.SelectQuery {
	if digits, ok := numberLike(s); ok {
		// On Postgres, served by the trigram index on the number.
		return q.Where(`c.phone_e164 LIKE ?`, "%"+digits+"%")
	}
	pattern := "%" + escapeLike(strings.ToLower(s)) + "%"
	if q.Dialect().Name() == dialect.PG {
		return q.Where(searchNames+` LIKE ? ESCAPE '\'`, pattern)
	}
	// SQLite: one LIKE per name, over every contact.
	return q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Where(`LOWER(COALESCE(c.full_name, '')) LIKE ? ESCAPE '\'`, pattern).
			WhereOr(`LOWER(COALESCE(c.push_name, '')) LIKE ? ESCAPE '\'`, pattern).
			WhereOr(`LOWER(COALESCE(c.business_name, '')) LIKE ? ESCAPE '\'`, pattern)
	})
}
