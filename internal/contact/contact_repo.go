package contact

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
)

// contactRow is a contact as stored in mkt_wap_contacts.
type contactRow struct {
	bun.BaseModel `bun:"table:mkt_wap_contacts,alias:c"`

	ID           string    `bun:"id,pk"`
	Phone        string    `bun:"phone_e164,nullzero"`
	LID          string    `bun:"lid,nullzero"`
	PushName     string    `bun:"push_name,nullzero"`
	FullName     string    `bun:"full_name,nullzero"`
	BusinessName string    `bun:"business_name,nullzero"`
	FirstSeenAt  time.Time `bun:"first_seen_at,notnull"`
	LastSeenAt   time.Time `bun:"last_seen_at,notnull"`
	OptedOut     bool      `bun:"opted_out,notnull"`
	OptedOutAt   time.Time `bun:"opted_out_at,nullzero"`
	Attributes   string    `bun:"attributes,notnull"`
	CreatedAt    time.Time `bun:"created_at,notnull"`
	UpdatedAt    time.Time `bun:"updated_at,notnull"`
}

func (r *contactRow) attributes() map[string]string {
	m := map[string]string{}
	if r.Attributes != "" {
		_ = json.Unmarshal([]byte(r.Attributes), &m) // written by setAttributes only
	}
	return m
}

func (r *contactRow) setAttributes(m map[string]string) {
	if len(m) == 0 {
		r.Attributes = "{}"
		return
	}
	b, _ := json.Marshal(m) // map[string]string always marshals
	r.Attributes = string(b)
}

func (r *contactRow) toContact() *Contact {
	return &Contact{
		ID: r.ID, Phone: r.Phone, LID: r.LID,
		PushName: r.PushName, FullName: r.FullName, BusinessName: r.BusinessName,
		FirstSeenAt: r.FirstSeenAt, LastSeenAt: r.LastSeenAt,
		OptedOut: r.OptedOut, OptedOutAt: r.OptedOutAt,
		Attributes: r.attributes(),
		CreatedAt:  r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

// contactRepo reads and writes contacts, their sources and persona links.
// Its methods take bun.IDB so they work inside and outside a transaction.
type contactRepo struct {
	// lockRows adds FOR UPDATE to reads that precede a write (Postgres;
	// SQLite serialises write transactions anyway).
	lockRows bool
}

func contactNotFound(id string) error {
	return apperr.Newf(apperr.NotFound, "no contact with id %q", id)
}

func (cr contactRepo) get(ctx context.Context, db bun.IDB, id string) (*contactRow, error) {
	r := new(contactRow)
	err := db.NewSelect().Model(r).Where("c.id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, contactNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("contact: get %s: %w", id, err)
	}
	return r, nil
}

// findBy returns the contact whose column equals value, locked for update,
// or nil.
func (cr contactRepo) findBy(ctx context.Context, tx bun.IDB, column, value string) (*contactRow, error) {
	if value == "" {
		return nil, nil
	}
	r := new(contactRow)
	q := tx.NewSelect().Model(r).Where("c."+column+" = ?", value) // column is one of ours, never input
	if cr.lockRows {
		q = q.For("UPDATE")
	}
	err := q.Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("contact: find by %s: %w", column, err)
	}
	return r, nil
}

// insertIgnore inserts r unless its phone or LID is taken (by a concurrent
// writer); it reports whether it inserted.
func (contactRepo) insertIgnore(ctx context.Context, tx bun.IDB, r *contactRow) (bool, error) {
	res, err := tx.NewInsert().Model(r).On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("contact: insert: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

func (contactRepo) update(ctx context.Context, tx bun.IDB, r *contactRow) error {
	if _, err := tx.NewUpdate().Model(r).WherePK().Exec(ctx); err != nil {
		return fmt.Errorf("contact: update %s: %w", r.ID, err)
	}
	return nil
}

// addSource records that a contact was seen at a source at t, widening the
// source's first and last seen.
func (contactRepo) addSource(ctx context.Context, tx bun.IDB, contactID string, s Source, t time.Time) error {
	_, err := tx.NewRaw(`INSERT INTO contact_sources (contact_id, kind, account_id, group_jid, import_id, first_seen_at, last_seen_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) `+sourceConflict,
		contactID, string(s.Kind), s.AccountID, s.GroupJID, s.ImportID, t, t).Exec(ctx)
	if err != nil {
		return fmt.Errorf("contact: record source: %w", err)
	}
	return nil
}

// sourceConflict merges a source row into an existing one: the earliest
// first seen, the latest last seen.
const sourceConflict = `ON CONFLICT (contact_id, kind, account_id, group_jid, import_id) DO UPDATE SET
	first_seen_at = CASE WHEN excluded.first_seen_at < contact_sources.first_seen_at THEN excluded.first_seen_at ELSE contact_sources.first_seen_at END,
	last_seen_at = CASE WHEN excluded.last_seen_at > contact_sources.last_seen_at THEN excluded.last_seen_at ELSE contact_sources.last_seen_at END`

// moveHistory gives target every source and persona link of from, in two
// statements; from's own rows go when from is deleted.
func (contactRepo) moveHistory(ctx context.Context, tx bun.IDB, from, target string) error {
	_, err := tx.NewRaw(`INSERT INTO contact_sources (contact_id, kind, account_id, group_jid, import_id, first_seen_at, last_seen_at)
		SELECT ?, kind, account_id, group_jid, import_id, first_seen_at, last_seen_at FROM contact_sources WHERE contact_id = ? `+sourceConflict,
		target, from).Exec(ctx)
	if err != nil {
		return fmt.Errorf("contact: move sources: %w", err)
	}
	_, err = tx.NewRaw(`INSERT INTO contact_personas (persona_id, contact_id, added_at)
		SELECT persona_id, ?, added_at FROM contact_personas WHERE contact_id = ? ON CONFLICT DO NOTHING`,
		target, from).Exec(ctx)
	if err != nil {
		return fmt.Errorf("contact: move persona links: %w", err)
	}
	return nil
}

func (contactRepo) sources(ctx context.Context, db bun.IDB, contactID string) ([]Source, error) {
	var rows []struct {
		Kind        string    `bun:"kind"`
		AccountID   string    `bun:"account_id"`
		GroupJID    string    `bun:"group_jid"`
		ImportID    string    `bun:"import_id"`
		FirstSeenAt time.Time `bun:"first_seen_at"`
		LastSeenAt  time.Time `bun:"last_seen_at"`
	}
	err := db.NewSelect().Table("contact_sources").
		Column("kind", "account_id", "group_jid", "import_id", "first_seen_at", "last_seen_at").
		Where("contact_id = ?", contactID).
		OrderExpr("first_seen_at ASC, kind ASC, account_id ASC, group_jid ASC, import_id ASC").
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("contact: sources of %s: %w", contactID, err)
	}
	out := make([]Source, 0, len(rows))
	for _, r := range rows {
		out = append(out, Source{Kind: SourceKind(r.Kind), AccountID: r.AccountID, GroupJID: r.GroupJID, ImportID: r.ImportID,
			FirstSeenAt: r.FirstSeenAt, LastSeenAt: r.LastSeenAt})
	}
	return out, nil
}

// selectIDs is "SELECT c.id FROM mkt_wap_contacts AS c WHERE <selection>",
// for the bulk statements that take a subquery.
func selectIDs(db bun.IDB, sel Selection) *bun.SelectQuery {
	q := db.NewSelect().Model((*contactRow)(nil)).Column("c.id")
	if sel.Filter != nil {
		return applyFilter(q, *sel.Filter)
	}
	return q.Where("c.id IN (?)", bun.In(sel.IDs))
}

// applyFilter adds f's conditions to a query over contacts aliased c. It
// always adds one condition, so the query can be used in INSERT … SELECT …
// ON CONFLICT, which SQLite parses only after a WHERE.
func applyFilter(q *bun.SelectQuery, f Filter) *bun.SelectQuery {
	q = q.Where("1 = 1")
	if f.PersonaID != "" {
		q = q.Where("EXISTS (SELECT 1 FROM contact_personas AS cp WHERE cp.contact_id = c.id AND cp.persona_id = ?)", f.PersonaID)
	}
	if f.AccountID != "" || f.GroupJID != "" || f.Source != "" {
		var conds []string
		var args []any
		if f.AccountID != "" {
			conds, args = append(conds, "cs.account_id = ?"), append(args, f.AccountID)
		}
		if f.GroupJID != "" {
			conds, args = append(conds, "cs.group_jid = ?"), append(args, f.GroupJID)
		}
		if f.Source != "" {
			conds, args = append(conds, "cs.kind = ?"), append(args, string(f.Source))
		}
		q = q.Where("EXISTS (SELECT 1 FROM contact_sources AS cs WHERE cs.contact_id = c.id AND "+strings.Join(conds, " AND ")+")", args...)
	}
	if s := strings.TrimSpace(f.Search); s != "" {
		q = applySearch(q, s)
	}
	if f.HasPhone != nil {
		if *f.HasPhone {
			q = q.Where("c.phone_e164 IS NOT NULL")
		} else {
			q = q.Where("c.phone_e164 IS NULL")
		}
	}
	if f.OptedOut != nil {
		q = q.Where("c.opted_out = ?", *f.OptedOut)
	}
	return q
}

// numberLike reports whether s is written like (part of) a phone number,
// and returns the digits to look for.
func numberLike(s string) (string, bool) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' || r == ' ' || r == '-' || r == '(' || r == ')' || r == '.' || r == '/':
		default:
			return "", false
		}
	}
	// A national trunk 0 or an international 00 is not part of the E.164
	// form: 0151 2345 finds +49151 2345….
	digits := strings.TrimLeft(b.String(), "0")
	return digits, len(digits) >= 3
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// cleanName makes a name WhatsApp or a file gave fit for storage: valid
// UTF-8, control characters turned into spaces, trimmed, at most maxNameRunes long.
func cleanName(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' ' // a line break in a quoted cell: names stay on one line
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > maxNameRunes {
		s = string(r[:maxNameRunes])
	}
	return s
}

// maxNameRunes bounds stored names; WhatsApp's push names are far shorter.
const maxNameRunes = 200
