package contact

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
	"wagraph/internal/paging"
	"wagraph/internal/textrule"
)

// personaRow is a persona as stored; ContactCount is read from the counts
// that triggers on contact_personas keep (personaCount).
type personaRow struct {
	bun.BaseModel `bun:"table:personas,alias:p"`

	ID           string    `bun:"id,pk"`
	Name         string    `bun:"name,notnull"`
	NameKey      string    `bun:"name_key,notnull"`
	Description  string    `bun:"description,notnull"`
	CreatedAt    time.Time `bun:"created_at,notnull"`
	UpdatedAt    time.Time `bun:"updated_at,notnull"`
	ContactCount int       `bun:"contact_count,scanonly"`
}

func (r *personaRow) toPersona() *Persona {
	return &Persona{ID: r.ID, Name: r.Name, Description: r.Description, ContactCount: r.ContactCount, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// personaRepo reads and writes personas and their links.
type personaRepo struct{}

// personaCount is a persona's contact count: the sum of its rows in
// persona_contact_counts, which triggers on contact_personas keep exact
// (migration 20261127170000_persona_contact_count; one row per persona on
// SQLite, a few dozen at most on Postgres).
const personaCount = "(SELECT COALESCE(SUM(pc.n), 0) FROM persona_contact_counts AS pc WHERE pc.persona_id = p.id) AS contact_count"

// pgForeignKeyViolation is Postgres's SQLSTATE for a foreign key violation.
const pgForeignKeyViolation = "23503"

func personaNotFound(id string) error {
	return apperr.Newf(apperr.NotFound, "no persona with id %q", id)
}

func (personaRepo) get(ctx context.Context, db bun.IDB, id string) (*personaRow, error) {
	r := new(personaRow)
	err := db.NewSelect().Model(r).Column("p.*").ColumnExpr(personaCount).Where("p.id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, personaNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("contact: get persona %s: %w", id, err)
	}
	return r, nil
}

func (personaRepo) ofContact(ctx context.Context, db bun.IDB, contactID string) ([]*Persona, error) {
	var rows []*personaRow
	err := db.NewSelect().Model(&rows).Column("p.*").ColumnExpr(personaCount).
		Where("EXISTS (SELECT 1 FROM contact_personas AS l WHERE l.persona_id = p.id AND l.contact_id = ?)", contactID).
		OrderExpr("p.name_key ASC").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("contact: personas of %s: %w", contactID, err)
	}
	out := make([]*Persona, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.toPersona())
	}
	return out, nil
}

var personaName = textrule.Label{Field: "name", What: "persona name", MaxChars: maxPersonaNameLen, Example: "Coffee lovers Berlin"}

func checkDescription(d string) (string, error) {
	d = strings.TrimSpace(d)
	if !utf8.ValidString(d) || utf8.RuneCountInString(d) > maxDescriptionRune ||
		strings.ContainsFunc(d, func(r rune) bool { return isControl(r) && r != '\n' }) {
		return "", apperr.Invalid("description", fmt.Sprintf("the description must be text of at most %d characters without control characters", maxDescriptionRune),
			"Describe who the persona is for in a few sentences.")
	}
	return d, nil
}

func nameTaken(name string) error {
	return apperr.Newf(apperr.Conflict, "a persona named %q exists already", name).
		WithSuggestion("Choose another name, or add the contacts to the existing persona.")
}

// CreatePersona adds a persona. Names are unique, ignoring case.
func (s *Service) CreatePersona(ctx context.Context, name, description string) (*Persona, error) {
	name, err := personaName.Check(name)
	if err != nil {
		return nil, err
	}
	if description, err = checkDescription(description); err != nil {
		return nil, err
	}
	now := s.now()
	r := &personaRow{ID: newID(), Name: name, NameKey: strings.ToLower(name), Description: description, CreatedAt: now, UpdatedAt: now}
	res, err := s.db.NewInsert().Model(r).On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("contact: create persona: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, nameTaken(name)
	}
	return r.toPersona(), nil
}

// UpdatePersonaInput renames or describes a persona; nil fields stay.
type UpdatePersonaInput struct {
	ID          string
	Name        *string
	Description *string
}

// UpdatePersona renames a persona or changes its description.
func (s *Service) UpdatePersona(ctx context.Context, in UpdatePersonaInput) (*Persona, error) {
	set := map[string]any{}
	if in.Name != nil {
		name, err := personaName.Check(*in.Name)
		if err != nil {
			return nil, err
		}
		set["name"], set["name_key"] = name, strings.ToLower(name)
	}
	if in.Description != nil {
		d, err := checkDescription(*in.Description)
		if err != nil {
			return nil, err
		}
		set["description"] = d
	}
	var out *personaRow
	err := s.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if key, ok := set["name_key"]; ok {
			n, err := tx.NewSelect().Model((*personaRow)(nil)).Where("p.name_key = ? AND p.id <> ?", key, in.ID).Count(ctx)
			if err != nil {
				return err
			}
			if n > 0 {
				return nameTaken(set["name"].(string))
			}
		}
		q := tx.NewUpdate().Model((*personaRow)(nil)).Set("updated_at = ?", s.now()).Where("id = ?", in.ID)
		for _, col := range []string{"name", "name_key", "description"} {
			if v, ok := set[col]; ok {
				q = q.Set(col+" = ?", v)
			}
		}
		res, err := q.Exec(ctx)
		if err != nil {
			return fmt.Errorf("contact: update persona: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return personaNotFound(in.ID)
		}
		out, err = s.personas.get(ctx, tx, in.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.toPersona(), nil
}

// DeletePersona removes a persona and its links; the contacts stay.
func (s *Service) DeletePersona(ctx context.Context, id string) error {
	res, err := s.db.NewDelete().Model((*personaRow)(nil)).Where("id = ?", id).Exec(ctx)
	if err != nil {
		return fmt.Errorf("contact: delete persona: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return personaNotFound(id)
	}
	return nil
}

// GetPersona returns one persona with its contact count.
func (s *Service) GetPersona(ctx context.Context, id string) (*Persona, error) {
	r, err := s.personas.get(ctx, s.db.DB, id)
	if err != nil {
		return nil, err
	}
	return r.toPersona(), nil
}

// PersonaPage is one page of personas.
type PersonaPage struct {
	Personas    []*Persona
	HasNextPage bool
	TotalCount  int
}

// ListPersonas returns personas in creation order with their contact
// counts, after the persona afterID, optionally those whose name contains
// search.
func (s *Service) ListPersonas(ctx context.Context, first *int, afterID, search string) (*PersonaPage, error) {
	n, err := paging.Size(first)
	if err != nil {
		return nil, err
	}
	filter := func(q *bun.SelectQuery) *bun.SelectQuery {
		if search = strings.TrimSpace(search); search != "" {
			q = q.Where(`p.name_key LIKE ? ESCAPE '\'`, "%"+escapeLike(strings.ToLower(search))+"%")
		}
		return q
	}
	total, err := filter(s.db.NewSelect().Model((*personaRow)(nil))).Count(ctx)
	if err != nil {
		return nil, fmt.Errorf("contact: count personas: %w", err)
	}
	var rows []*personaRow
	q := filter(s.db.NewSelect().Model(&rows).Column("p.*").ColumnExpr(personaCount))
	if afterID != "" {
		q = q.Where("p.id > ?", afterID)
	}
	if err := q.OrderExpr("p.id ASC").Limit(int64(n + 1)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("contact: list personas: %w", err)
	}
	page := &PersonaPage{TotalCount: int(total)}
	if len(rows) > n {
		rows, page.HasNextPage = rows[:n], true
	}
	for _, r := range rows {
		page.Personas = append(page.Personas, r.toPersona())
	}
	return page, nil
}

// AddToPersona links the selected contacts to a persona in one statement
// (INSERT … SELECT), skipping those already linked, and returns how many
// were added.
func (s *Service) AddToPersona(ctx context.Context, personaID string, sel Selection) (int, error) {
	sel, err := checkSelection(sel)
	if err != nil {
		return 0, err
	}
	if _, err := s.personas.get(ctx, s.db.DB, personaID); err != nil {
		return 0, err
	}
	// Joined to the persona, so a persona deleted since the check above
	// gets no links instead of failing the statement on the foreign key.
	ids := selectIDs(s.db.DB, sel).Join("JOIN personas AS p ON p.id = ?", personaID).ColumnExpr("p.id").ColumnExpr("?", s.now())
	res, err := s.db.NewRaw("INSERT INTO contact_personas (contact_id, persona_id, added_at) ? ON CONFLICT DO NOTHING", ids).Exec(ctx)
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == pgForeignKeyViolation {
		// Postgres: a selected contact or the persona was deleted while the
		// statement ran (locking every selected contact to prevent it would
		// write to every page they are on). SQLite runs one writer at a time.
		return 0, apperr.New(apperr.Conflict, "a selected contact or the persona was deleted while the contacts were being added").
			WithSuggestion("Try again: the contacts still selected are added.")
	}
	if err != nil {
		return 0, fmt.Errorf("contact: add to persona: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// RemoveFromPersona unlinks the selected contacts from a persona in one
// statement and returns how many were removed.
func (s *Service) RemoveFromPersona(ctx context.Context, personaID string, sel Selection) (int, error) {
	sel, err := checkSelection(sel)
	if err != nil {
		return 0, err
	}
	if _, err := s.personas.get(ctx, s.db.DB, personaID); err != nil {
		return 0, err
	}
	res, err := s.db.NewDelete().TableExpr("contact_personas").
		Where("persona_id = ?", personaID).
		Where("contact_id IN (?)", selectIDs(s.db.DB, sel)).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("contact: remove from persona: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
