package contact

import (
	"context"
	"fmt"
)

// Recipients returns the contacts a selection names (ids, or a filter such
// as a persona), in id order, at most max of them: max+1 rows are read, so a
// caller can tell a selection that is too large. Unknown ids are left out.
// The sending queue uses it (internal/message).
func (s *Service) Recipients(ctx context.Context, sel Selection, max int) ([]*Contact, error) {
	sel, err := checkSelection(sel)
	if err != nil {
		return nil, err
	}
	var rows []*contactRow
	q := s.db.NewSelect().Model(&rows).Where("c.id IN (?)", selectIDs(s.db.DB, sel)).OrderExpr("c.id").Limit(int64(max) + 1)
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("contact: select recipients: %w", err)
	}
	out := make([]*Contact, len(rows))
	for i, r := range rows {
		out[i] = r.toContact()
	}
	return out, nil
}

// ByPhone returns the contact with the E.164 number phone, or nil when
// there is none.
func (s *Service) ByPhone(ctx context.Context, phone string) (*Contact, error) {
	r, err := contactRepo{}.findBy(ctx, s.db.DB, "phone_e164", phone) // no lock: a read only
	if err != nil || r == nil {
		return nil, err
	}
	return r.toContact(), nil
}
