package contact

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// A group's members are mostly people the contact base does not know yet
// on a first scrape. Rather than the upsert's lookups, insert and source
// statements per member, insertNewMembers looks the group's numbers and
// LIDs up in two statements per batch, inserts the members neither of
// which is known with one multi-row statement, and records their sources
// with another. The rest (known numbers or LIDs: updates and merges) go
// through the upsert one by one.

// member is a group member with its normalized identity.
type member struct {
	p  Participant
	id identity
	o  Observation
}

// insertNewMembers inserts, in tx, the members whose number and LID are
// both unknown, with their sources; it returns them as contacts (in the
// order of ms) and the members left for the upsert.
func (g *GroupService) insertNewMembers(ctx context.Context, tx bun.IDB, ms []member, src Source, now time.Time) ([]*Contact, []member, error) {
	var (
		created []*Contact
		rest    []member
	)
	for start := 0; start < len(ms); start += participantBatch {
		batch := ms[start:min(start+participantBatch, len(ms))]
		known, err := knownIdentities(ctx, tx, batch)
		if err != nil {
			return nil, nil, err
		}
		taken := map[string]bool{} // a number or LID twice in the batch
		var rows []*contactRow
		var fresh []member
		for _, m := range batch {
			if known[m.id.phone] || known[m.id.lid] || taken[m.id.phone] || taken[m.id.lid] {
				rest = append(rest, m)
				continue
			}
			for _, k := range []string{m.id.phone, m.id.lid} {
				if k != "" {
					taken[k] = true
				}
			}
			r := &contactRow{ID: newID(), Phone: m.id.phone, LID: m.id.lid, FirstSeenAt: now, LastSeenAt: now, CreatedAt: now, UpdatedAt: now}
			applyObservation(r, m.o, time.Time{}, now)
			rows = append(rows, r)
			fresh = append(fresh, m)
		}
		if len(rows) == 0 {
			continue
		}
		// A concurrent writer may have taken a number or LID meanwhile:
		// those rows are skipped and go through the upsert.
		if _, err := tx.NewInsert().Model(&rows).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
			return nil, nil, fmt.Errorf("contact: insert group members: %w", err)
		}
		ids := make([]string, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
		}
		var inserted []string
		if err := tx.NewSelect().Model((*contactRow)(nil)).Column("id").Where("id IN (?)", bun.In(ids)).Scan(ctx, &inserted); err != nil {
			return nil, nil, fmt.Errorf("contact: check inserted group members: %w", err)
		}
		ok := make(map[string]bool, len(inserted))
		for _, id := range inserted {
			ok[id] = true
		}
		var withSource []string
		for i, r := range rows {
			if !ok[r.ID] {
				rest = append(rest, fresh[i])
				continue
			}
			created = append(created, r.toContact())
			withSource = append(withSource, r.ID)
		}
		if err := addSources(ctx, tx, withSource, src, now); err != nil {
			return nil, nil, err
		}
	}
	return created, rest, nil
}

// knownIdentities returns which of the batch's numbers and LIDs a contact
// already has.
func knownIdentities(ctx context.Context, tx bun.IDB, batch []member) (map[string]bool, error) {
	var phones, lids []string
	for _, m := range batch {
		if m.id.phone != "" {
			phones = append(phones, m.id.phone)
		}
		if m.id.lid != "" {
			lids = append(lids, m.id.lid)
		}
	}
	known := map[string]bool{}
	for column, values := range map[string][]string{"phone_e164": phones, "lid": lids} {
		if len(values) == 0 {
			continue
		}
		var found []string
		err := tx.NewSelect().Model((*contactRow)(nil)).Column(column).
			Where("? IN (?)", bun.Ident(column), bun.In(values)).Scan(ctx, &found)
		if err != nil {
			return nil, fmt.Errorf("contact: look group members up: %w", err)
		}
		for _, v := range found {
			known[v] = true
		}
	}
	return known, nil
}

// addSources records one source for many new contacts in one statement.
func addSources(ctx context.Context, tx bun.IDB, contactIDs []string, s Source, t time.Time) error {
	if len(contactIDs) == 0 {
		return nil
	}
	type sourceRow struct {
		bun.BaseModel `bun:"table:contact_sources"`
		ContactID     string    `bun:"contact_id"`
		Kind          string    `bun:"kind"`
		AccountID     string    `bun:"account_id"`
		GroupJID      string    `bun:"group_jid"`
		ImportID      string    `bun:"import_id"`
		FirstSeenAt   time.Time `bun:"first_seen_at"`
		LastSeenAt    time.Time `bun:"last_seen_at"`
	}
	rows := make([]sourceRow, len(contactIDs))
	for i, id := range contactIDs {
		rows[i] = sourceRow{ContactID: id, Kind: string(s.Kind), AccountID: s.AccountID, GroupJID: s.GroupJID, ImportID: s.ImportID, FirstSeenAt: t, LastSeenAt: t}
	}
	if _, err := tx.NewInsert().Model(&rows).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
		return fmt.Errorf("contact: record group member sources: %w", err)
	}
	return nil
}

// Members the contact base knows already (a person in several groups, a
// scrape run again) are mostly seen again and nothing else: their contact
// only gets a later last seen and maybe a name. updateKnownMembers writes
// those in three statements per batch (their rows read at once, one
// multi-row upsert by id, one multi-row source upsert) and leaves the rest
// (a number or LID to fill in, a merge, a conflict, a contact twice in
// the batch) to the upsert, one by one.

// knownMember is a member whose contact updateKnownMembers wrote.
type knownMember struct {
	row     *contactRow
	outcome Outcome
}

// updateKnownMembers updates, in tx, the contacts of the members that
// match exactly one contact with the same number and LID; it returns them
// and the members left for the upsert.
func (g *GroupService) updateKnownMembers(ctx context.Context, tx bun.IDB, ms []member, src Source, now time.Time) ([]knownMember, []member, error) {
	var (
		done []knownMember
		rest []member
	)
	for start := 0; start < len(ms); start += participantBatch {
		batch := ms[start:min(start+participantBatch, len(ms))]
		byPhone, byLID, err := contactsOf(ctx, tx, batch)
		if err != nil {
			return nil, nil, err
		}
		taken := map[string]bool{} // contact ids of the batch
		var changed []*contactRow
		var ids []string
		for _, m := range batch {
			p, l := byPhone[m.id.phone], byLID[m.id.lid]
			row := p
			if row == nil {
				row = l
			}
			if row == nil || (p != nil && l != nil && p.ID != l.ID) || taken[row.ID] ||
				row.Phone != m.id.phone && m.id.phone != "" || row.LID != m.id.lid && m.id.lid != "" ||
				row.Phone == "" && m.id.phone != "" || row.LID == "" && m.id.lid != "" {
				rest = append(rest, m)
				continue
			}
			taken[row.ID] = true
			seen := m.o.SeenAt.UTC().Truncate(time.Microsecond)
			outcome := Unchanged
			if applyObservation(row, m.o, seen, now) {
				row.UpdatedAt, outcome = now, Updated
				changed = append(changed, row)
			}
			done = append(done, knownMember{row: row, outcome: outcome})
			ids = append(ids, row.ID)
		}
		if len(changed) > 0 {
			_, err := tx.NewInsert().Model(&changed).On("CONFLICT (id) DO UPDATE").
				Set("push_name = EXCLUDED.push_name, full_name = EXCLUDED.full_name, business_name = EXCLUDED.business_name").
				Set("first_seen_at = EXCLUDED.first_seen_at, last_seen_at = EXCLUDED.last_seen_at").
				Set("opted_out = EXCLUDED.opted_out, opted_out_at = EXCLUDED.opted_out_at").
				Set("attributes = EXCLUDED.attributes, updated_at = EXCLUDED.updated_at").
				Exec(ctx)
			if err != nil {
				return nil, nil, fmt.Errorf("contact: update group members: %w", err)
			}
		}
		if err := upsertSources(ctx, tx, ids, src, now); err != nil {
			return nil, nil, err
		}
	}
	return done, rest, nil
}

// contactsOf reads the contacts that have one of the batch's numbers or
// LIDs.
func contactsOf(ctx context.Context, tx bun.IDB, batch []member) (byPhone, byLID map[string]*contactRow, err error) {
	var phones, lids []string
	for _, m := range batch {
		if m.id.phone != "" {
			phones = append(phones, m.id.phone)
		}
		if m.id.lid != "" {
			lids = append(lids, m.id.lid)
		}
	}
	var rows []*contactRow
	q := tx.NewSelect().Model(&rows)
	switch {
	case len(phones) > 0 && len(lids) > 0:
		q = q.Where("c.phone_e164 IN (?) OR c.lid IN (?)", bun.In(phones), bun.In(lids))
	case len(phones) > 0:
		q = q.Where("c.phone_e164 IN (?)", bun.In(phones))
	case len(lids) > 0:
		q = q.Where("c.lid IN (?)", bun.In(lids))
	default:
		return nil, nil, nil
	}
	if err := q.Scan(ctx); err != nil {
		return nil, nil, fmt.Errorf("contact: read known group members: %w", err)
	}
	byPhone, byLID = make(map[string]*contactRow, len(rows)), make(map[string]*contactRow, len(rows))
	for _, r := range rows {
		if r.Phone != "" {
			byPhone[r.Phone] = r
		}
		if r.LID != "" {
			byLID[r.LID] = r
		}
	}
	return byPhone, byLID, nil
}

// upsertSources records one source for many known contacts in one
// statement, widening the first and last seen of those recorded before.
func upsertSources(ctx context.Context, tx bun.IDB, contactIDs []string, s Source, t time.Time) error {
	if len(contactIDs) == 0 {
		return nil
	}
	values := make([]any, 0, 7*len(contactIDs))
	rows := make([]string, len(contactIDs))
	for i, id := range contactIDs {
		rows[i] = "(?, ?, ?, ?, ?, ?, ?)"
		values = append(values, id, string(s.Kind), s.AccountID, s.GroupJID, s.ImportID, t, t)
	}
	_, err := tx.NewRaw(`INSERT INTO contact_sources (contact_id, kind, account_id, group_jid, import_id, first_seen_at, last_seen_at)
		VALUES `+strings.Join(rows, ", ")+" "+sourceConflict, values...).Exec(ctx)
	if err != nil {
		return fmt.Errorf("contact: record group member sources: %w", err)
	}
	return nil
}
