package contact

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
	"wagraph/internal/paging"
	"wagraph/internal/textrule"
)

// Page sizes and bulk limits.
const (
	DefaultPageSize = paging.Default
	MaxPageSize     = paging.Max
	// MaxIDs is the most ids one bulk operation takes; larger sets are
	// selected by filter.
	MaxIDs = 1000
	// Attribute limits per contact.
	MaxAttributes      = 50
	MaxAttributeKey    = 64
	MaxAttributeValue  = 1000
	MaxNameLength      = 200
	maxPersonaNameLen  = 100
	maxDescriptionRune = 1000
)

func checkAttributes(m map[string]string) error {
	if len(m) > MaxAttributes {
		return apperr.Invalid("attributes", fmt.Sprintf("%d attributes given; a contact has at most %d", len(m), MaxAttributes),
			"Keep the attributes a campaign needs; put the rest elsewhere.")
	}
	for k, v := range m {
		if k == "" || len(k) > MaxAttributeKey || !utf8.ValidString(k) || strings.ContainsFunc(k, isControl) {
			return apperr.Invalid("attributes", fmt.Sprintf("attribute key '%s' must be 1 to %d bytes of text without control characters", clip(k), MaxAttributeKey),
				"Use short keys such as city or customer_id.")
		}
		if len(v) > MaxAttributeValue || !utf8.ValidString(v) {
			return apperr.Invalid("attributes", fmt.Sprintf("the value of attribute '%s' must be valid text of at most %d bytes", clip(k), MaxAttributeValue),
				"Shorten the value.")
		}
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// Get returns one contact; NOT_FOUND when there is none with that id.
func (s *Service) Get(ctx context.Context, id string) (*Contact, error) {
	r, err := s.contacts.get(ctx, s.db.DB, id)
	if err != nil {
		return nil, err
	}
	return r.toContact(), nil
}

// Sources returns where a contact came from, oldest first.
func (s *Service) Sources(ctx context.Context, contactID string) ([]Source, error) {
	return s.contacts.sources(ctx, s.db.DB, contactID)
}

// PersonasOf returns the personas a contact is linked to, by name.
func (s *Service) PersonasOf(ctx context.Context, contactID string) ([]*Persona, error) {
	return s.personas.ofContact(ctx, s.db.DB, contactID)
}

// ListInput selects a page of contacts.
type ListInput struct {
	Filter Filter
	Order  Order
	First  *int
	// After is the position of the last contact of the previous page (from
	// Page.Positions), in the same order.
	After string
	// SkipCount leaves Page.TotalCount 0 without counting, for callers that
	// do not show it: the count of a search or of combined filters reads
	// every match, a page only its own rows.
	SkipCount bool
}

// Page is one page of contacts.
type Page struct {
	Contacts []*Contact
	// Positions[i] is Contacts[i]'s position, to list after it.
	Positions   []string
	HasNextPage bool
	TotalCount  int
}

// List returns a page of contacts matching the filter, in the order asked
// for, with how many match in all (unless in.SkipCount).
func (s *Service) List(ctx context.Context, in ListInput) (*Page, error) {
	n, err := paging.Size(in.First)
	if err != nil {
		return nil, err
	}
	f, err := checkFilter(in.Filter)
	if err != nil {
		return nil, err
	}
	if err := in.Order.check(); err != nil {
		return nil, err
	}
	var after *position
	if in.After != "" {
		p, err := in.Order.parse(in.After)
		if err != nil {
			return nil, err
		}
		after = &p
	}
	var total int
	if !in.SkipCount {
		if total, err = s.count(ctx, f); err != nil {
			return nil, err
		}
	}
	rows, err := s.page(ctx, s.db.DB, f, in.Order, after, n+1)
	if err != nil {
		return nil, err
	}
	page := &Page{TotalCount: total}
	if len(rows) > n {
		rows, page.HasNextPage = rows[:n], true
	}
	for _, r := range rows {
		page.Contacts = append(page.Contacts, r.toContact())
		page.Positions = append(page.Positions, in.Order.positionOf(r))
	}
	return page, nil
}

func (s *Service) page(ctx context.Context, db bun.IDB, f Filter, o Order, after *position, limit int) ([]*contactRow, error) {
	var rows []*contactRow
	q := o.apply(pageFilter(db.NewSelect().Model(&rows), f, o, after, limit), after)
	if err := q.Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("contact: list: %w", err)
	}
	return rows, nil
}

func checkFilter(f Filter) (Filter, error) {
	if f.Source != "" && !f.Source.Valid() {
		return f, apperr.Invalid("source", "unknown source kind '"+clip(string(f.Source))+"'", "Use GROUP, IMPORT, MANUAL or WHATSAPP.")
	}
	f.Search = strings.TrimSpace(f.Search)
	if len(f.Search) > 200 || !utf8.ValidString(f.Search) || strings.ContainsFunc(f.Search, isControl) {
		return f, apperr.Invalid("search", "the search must be text of at most 200 bytes", "Search for part of a name or number.")
	}
	return f, nil
}

// checkSelection validates a bulk selection: ids or a filter, not both,
// not neither.
func checkSelection(sel Selection) (Selection, error) {
	switch {
	case sel.Filter != nil && len(sel.IDs) > 0:
		return sel, apperr.Invalid("contactIds", "give contact ids or a filter, not both", "Select the contacts one way.")
	case sel.Filter != nil:
		f, err := checkFilter(*sel.Filter)
		sel.Filter = &f
		return sel, err
	case len(sel.IDs) == 0:
		return sel, apperr.Invalid("contactIds", "no contacts selected", "Give contact ids, or a filter that selects the contacts.")
	case len(sel.IDs) > MaxIDs:
		return sel, apperr.Invalid("contactIds", fmt.Sprintf("%d ids given; at most %d", len(sel.IDs), MaxIDs),
			"Select large sets with a filter instead of ids, e.g. by persona, group or search.")
	}
	return sel, nil
}

// UpdateInput is what updateContact takes; nil fields stay as they are.
type UpdateInput struct {
	ID string
	// FullName: "" clears it.
	FullName *string
	// Attributes replace all attributes when not nil.
	Attributes map[string]string
	OptedOut   *bool
}

var fullNameRule = textrule.Label{Field: "fullName", What: "contact name", MaxChars: MaxNameLength, Example: "Ana Souza"}

// Update changes a contact's name, attributes or opt-out.
func (s *Service) Update(ctx context.Context, in UpdateInput) (*Contact, error) {
	var name string
	if in.FullName != nil && strings.TrimSpace(*in.FullName) != "" {
		n, err := fullNameRule.Check(*in.FullName)
		if err != nil {
			return nil, err
		}
		name = n
	}
	if err := checkAttributes(in.Attributes); err != nil {
		return nil, err
	}
	var row *contactRow
	err := s.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		r, err := s.contacts.findBy(ctx, tx, "id", in.ID)
		if err != nil {
			return err
		}
		if r == nil {
			return contactNotFound(in.ID)
		}
		now := s.now()
		if in.FullName != nil {
			r.FullName = name
		}
		if in.Attributes != nil {
			r.setAttributes(in.Attributes)
		}
		if in.OptedOut != nil && *in.OptedOut != r.OptedOut {
			r.OptedOut = *in.OptedOut
			r.OptedOutAt = now
			if !r.OptedOut {
				r.OptedOutAt = time.Time{}
			}
		}
		r.UpdatedAt = now
		row = r
		return s.contacts.update(ctx, tx, r)
	})
	if err != nil {
		return nil, err
	}
	return row.toContact(), nil
}

// Delete removes contacts by id, with their sources and persona links,
// and returns how many there were.
func (s *Service) Delete(ctx context.Context, ids []string) (int, error) {
	if _, err := checkSelection(Selection{IDs: ids}); err != nil {
		return 0, err
	}
	res, err := s.db.NewDelete().Model((*contactRow)(nil)).Where("id IN (?)", bun.In(ids)).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("contact: delete: %w", err)
	}
	n, _ := res.RowsAffected()
	s.log.Info().Int64("contacts", n).Msg("contacts deleted")
	return int(n), nil
}

// SetOptOut marks the selected contacts as opted out (or back in), in one
// statement, and returns how many changed. Sending honours the flag.
func (s *Service) SetOptOut(ctx context.Context, sel Selection, optedOut bool) (int, error) {
	sel, err := checkSelection(sel)
	if err != nil {
		return 0, err
	}
	now := s.now()
	q := s.db.NewUpdate().Model((*contactRow)(nil)).
		Set("opted_out = ?", optedOut).
		Set("updated_at = ?", now).
		Where("id IN (?)", selectIDs(s.db.DB, sel)).
		Where("opted_out = ?", !optedOut)
	if optedOut {
		q = q.Set("opted_out_at = ?", now)
	} else {
		q = q.Set("opted_out_at = NULL")
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("contact: set opt-out: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
