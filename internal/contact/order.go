package contact

import (
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
)

// OrderField is what contacts are sorted by. Ties are broken by id, so
// every order is total and pages never skip or repeat a contact.
type OrderField string

const (
	// OrderCreated sorts by creation (ids are time-ordered UUIDv7).
	OrderCreated   OrderField = "CREATED_AT"
	OrderFirstSeen OrderField = "FIRST_SEEN_AT"
	OrderLastSeen  OrderField = "LAST_SEEN_AT"
)

// Order is a sort order for contacts; the zero value is oldest first.
type Order struct {
	Field OrderField
	Desc  bool
}

func (o Order) field() OrderField {
	if o.Field == "" {
		return OrderCreated
	}
	return o.Field
}

func (o Order) check() error {
	switch o.field() {
	case OrderCreated, OrderFirstSeen, OrderLastSeen:
		return nil
	}
	return apperr.Invalid("orderBy", "unknown order '"+clip(string(o.Field))+"'", "Order by CREATED_AT, FIRST_SEEN_AT or LAST_SEEN_AT.")
}

func (o Order) column() string {
	switch o.field() {
	case OrderFirstSeen:
		return "c.first_seen_at"
	case OrderLastSeen:
		return "c.last_seen_at"
	}
	return ""
}

func (o Order) dir() string {
	if o.Desc {
		return "DESC"
	}
	return "ASC"
}

// tag names the order inside a position, so a position from one order is
// refused in another.
func (o Order) tag() string { return string(o.field()) + "." + o.dir() }

// position is where a page ends: the sort value and the id.
type position struct {
	at time.Time
	id string
}

// positionOf is r's position in this order: "<order>|<unix micros>|<id>".
func (o Order) positionOf(r *contactRow) string {
	v := ""
	switch o.field() {
	case OrderFirstSeen:
		v = strconv.FormatInt(r.FirstSeenAt.UnixMicro(), 10)
	case OrderLastSeen:
		v = strconv.FormatInt(r.LastSeenAt.UnixMicro(), 10)
	}
	return o.tag() + "|" + v + "|" + r.ID
}

func (o Order) parse(s string) (position, error) {
	bad := apperr.Invalid("after", "the cursor is not one this list handed out in this order",
		"Pass the endCursor from the previous page of the same list with the same orderBy, or leave 'after' out to start from the beginning.")
	parts := strings.Split(s, "|")
	if len(parts) != 3 || parts[0] != o.tag() || parts[2] == "" || len(parts[2]) > 64 {
		return position{}, bad
	}
	p := position{id: parts[2]}
	if o.column() != "" {
		us, err := strconv.ParseInt(parts[1], 10, 64)
		if err != nil {
			return position{}, bad
		}
		p.at = time.UnixMicro(us).UTC()
	} else if parts[1] != "" {
		return position{}, bad
	}
	return p, nil
}

// apply sorts q and starts it after the position.
func (o Order) apply(q *bun.SelectQuery, after *position) *bun.SelectQuery {
	cmp := ">"
	if o.Desc {
		cmp = "<"
	}
	col := o.column()
	if after != nil {
		if col == "" {
			q = q.Where("c.id "+cmp+" ?", after.id)
		} else {
			q = q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
				return q.Where(col+" "+cmp+" ?", after.at).
					WhereOr(col+" = ? AND c.id "+cmp+" ?", after.at, after.id)
			})
		}
	}
	if col != "" {
		q = q.OrderExpr(col + " " + o.dir())
	}
	return q.OrderExpr("c.id " + o.dir())
}
