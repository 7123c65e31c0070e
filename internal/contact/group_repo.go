package contact

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
)

// groupRow is a group as stored in wa_groups.
type groupRow struct {
	bun.BaseModel `bun:"table:wa_groups,alias:g"`

	AccountID        string    `bun:"account_id,pk"`
	JID              string    `bun:"jid,pk"`
	Name             string    `bun:"name,notnull"`
	Topic            string    `bun:"topic,notnull"`
	ParticipantCount int       `bun:"participant_count,notnull"`
	Announce         bool      `bun:"is_announce,notnull"`
	Community        bool      `bun:"is_community,notnull"`
	AddressingMode   string    `bun:"addressing_mode,notnull"`
	RefreshedAt      time.Time `bun:"refreshed_at,notnull"`
}

func (r *groupRow) toGroup() *Group {
	return &Group{
		AccountID: r.AccountID, JID: r.JID, Name: r.Name, Topic: r.Topic, ParticipantCount: r.ParticipantCount,
		Announce: r.Announce, Community: r.Community, AddressingMode: r.AddressingMode, RefreshedAt: r.RefreshedAt.UTC(),
	}
}

func groupRowOf(g Group, at time.Time) *groupRow {
	return &groupRow{
		AccountID: g.AccountID, JID: g.JID, Name: cleanName(g.Name), Topic: g.Topic, ParticipantCount: g.ParticipantCount,
		Announce: g.Announce, Community: g.Community, AddressingMode: g.AddressingMode, RefreshedAt: at,
	}
}

// participantRow is a member as stored in wa_group_participants.
type participantRow struct {
	bun.BaseModel `bun:"table:wa_group_participants,alias:p"`

	AccountID   string `bun:"account_id,pk"`
	GroupJID    string `bun:"group_jid,pk"`
	JID         string `bun:"jid,pk"`
	Phone       string `bun:"phone_e164,notnull"`
	LID         string `bun:"lid,notnull"`
	DisplayName string `bun:"display_name,notnull"`
	Admin       bool   `bun:"is_admin,notnull"`
	SuperAdmin  bool   `bun:"is_super_admin,notnull"`
	// ContactName is the name of the member's contact, when there is one
	// (read by participantsAfter).
	ContactName string `bun:"contact_name,scanonly"`
}

// toParticipant names the member by WhatsApp's display name, else by its
// contact's name.
func (r *participantRow) toParticipant() Participant {
	name := r.DisplayName
	if name == "" {
		name = r.ContactName
	}
	return Participant{JID: r.JID, Phone: r.Phone, LID: r.LID, DisplayName: name, Admin: r.Admin, SuperAdmin: r.SuperAdmin}
}

// participantBatch bounds one multi-row insert (8 columns: far below
// SQLite's limit on bound variables).
const participantBatch = 500

func groupNotFound(accountID, jid string) error {
	return apperr.Newf(apperr.NotFound, "account %s has no group %s", accountID, jid).
		WithSuggestion("Refresh the account's groups (refreshGroups), then pick a JID from the groups query.")
}

func getGroup(ctx context.Context, db bun.IDB, accountID, jid string) (*groupRow, error) {
	var r groupRow
	err := db.NewSelect().Model(&r).Where("account_id = ? AND jid = ?", accountID, jid).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, groupNotFound(accountID, jid)
	}
	if err != nil {
		return nil, fmt.Errorf("contact: load group: %w", err)
	}
	return &r, nil
}

// saveGroup writes a group and, with members, replaces its members, in tx.
func saveGroup(ctx context.Context, tx bun.IDB, g WAGroup, at time.Time, members bool) error {
	row := groupRowOf(g.Group, at)
	if row.ParticipantCount < len(g.Participants) {
		row.ParticipantCount = len(g.Participants)
	}
	_, err := tx.NewInsert().Model(row).
		On("CONFLICT (account_id, jid) DO UPDATE").
		Set("name = EXCLUDED.name, topic = EXCLUDED.topic, participant_count = EXCLUDED.participant_count").
		Set("is_announce = EXCLUDED.is_announce, is_community = EXCLUDED.is_community").
		Set("addressing_mode = EXCLUDED.addressing_mode, refreshed_at = EXCLUDED.refreshed_at").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("contact: save group: %w", err)
	}
	if !members {
		return nil
	}
	if _, err := tx.NewDelete().Model((*participantRow)(nil)).
		Where("account_id = ? AND group_jid = ?", g.AccountID, g.JID).Exec(ctx); err != nil {
		return fmt.Errorf("contact: clear group members: %w", err)
	}
	seen := make(map[string]bool, len(g.Participants))
	rows := make([]participantRow, 0, min(len(g.Participants), participantBatch))
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
			return fmt.Errorf("contact: save group members: %w", err)
		}
		rows = rows[:0]
		return nil
	}
	for _, p := range g.Participants {
		if p.JID == "" || seen[p.JID] {
			continue
		}
		seen[p.JID] = true
		rows = append(rows, participantRow{
			AccountID: g.AccountID, GroupJID: g.JID, JID: p.JID, Phone: p.Phone, LID: p.LID,
			DisplayName: cleanName(p.DisplayName), Admin: p.Admin || p.SuperAdmin, SuperAdmin: p.SuperAdmin,
		})
		if len(rows) == participantBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}
