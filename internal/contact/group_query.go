package contact

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strings"

	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
	"wagraph/internal/paging"
)

// GroupPage is one page of an account's groups, by name.
type GroupPage struct {
	Groups      []*Group
	HasNextPage bool
	TotalCount  int
}

// ParticipantPage is one page of a group's members, by JID.
type ParticipantPage struct {
	Participants []Participant
	HasNextPage  bool
	TotalCount   int
}

func checkAccountID(accountID string) error {
	if strings.TrimSpace(accountID) == "" {
		return apperr.Invalid("accountId", "an account id is needed", "Give the id of one of the accounts (accounts query).")
	}
	return nil
}

// ListGroups returns the account's groups as last read from WhatsApp,
// ordered by name (then JID), after the group afterJID, optionally those
// whose name contains search (ignoring case). It never calls WhatsApp.
func (g *GroupService) ListGroups(ctx context.Context, accountID, search string, first *int, afterJID string) (*GroupPage, error) {
	n, err := paging.Size(first)
	if err != nil {
		return nil, err
	}
	if err := checkAccountID(accountID); err != nil {
		return nil, err
	}
	filter := func(q *bun.SelectQuery) *bun.SelectQuery {
		q = q.Where("g.account_id = ?", accountID)
		if search = strings.TrimSpace(search); search != "" {
			q = q.Where(`LOWER(g.name) LIKE ? ESCAPE '\'`, "%"+escapeLike(strings.ToLower(search))+"%")
		}
		return q
	}
	total, err := filter(g.db.NewSelect().Model((*groupRow)(nil))).Count(ctx)
	if err != nil {
		return nil, fmt.Errorf("contact: count groups: %w", err)
	}
	var rows []*groupRow
	q := filter(g.db.NewSelect().Model(&rows))
	if afterJID != "" {
		after, err := getGroup(ctx, g.db, accountID, afterJID)
		if err != nil {
			return nil, apperr.Invalid("after", "the cursor names a group the account is no longer in",
				"Start again without 'after': the groups were refreshed meanwhile.")
		}
		q = q.Where("(g.name > ? OR (g.name = ? AND g.jid > ?))", after.Name, after.Name, after.JID)
	}
	if err := q.OrderExpr("g.name ASC, g.jid ASC").Limit(int64(n + 1)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("contact: list groups: %w", err)
	}
	page := &GroupPage{TotalCount: int(total), Groups: []*Group{}}
	if len(rows) > n {
		rows, page.HasNextPage = rows[:n], true
	}
	for _, r := range rows {
		page.Groups = append(page.Groups, r.toGroup())
	}
	return page, nil
}

// GetGroup returns one of the account's groups as last read from WhatsApp.
func (g *GroupService) GetGroup(ctx context.Context, accountID, jid string) (*Group, error) {
	if err := checkAccountID(accountID); err != nil {
		return nil, err
	}
	r, err := getGroup(ctx, g.db, accountID, jid)
	if err != nil {
		return nil, err
	}
	return r.toGroup(), nil
}

// Participants returns a page of a group's members (as last read from
// WhatsApp), ordered by JID, after the member afterJID.
func (g *GroupService) Participants(ctx context.Context, accountID, groupJID string, first *int, afterJID string) (*ParticipantPage, error) {
	n, err := paging.Size(first)
	if err != nil {
		return nil, err
	}
	total, err := g.db.NewSelect().Model((*participantRow)(nil)).
		Where("account_id = ? AND group_jid = ?", accountID, groupJID).Count(ctx)
	if err != nil {
		return nil, fmt.Errorf("contact: count group members: %w", err)
	}
	rows, err := participantsAfter(ctx, g.db, accountID, groupJID, afterJID, n+1)
	if err != nil {
		return nil, err
	}
	page := &ParticipantPage{TotalCount: int(total), Participants: []Participant{}}
	if len(rows) > n {
		rows, page.HasNextPage = rows[:n], true
	}
	for _, r := range rows {
		page.Participants = append(page.Participants, r.toParticipant())
	}
	return page, nil
}

func participantsAfter(ctx context.Context, db bun.IDB, accountID, groupJID, afterJID string, limit int) ([]*participantRow, error) {
	var rows []*participantRow
	// The contact's name: its full name, else its push or business name,
	// found by number, else by LID.
	q := db.NewSelect().Model(&rows).Column("p.*").
		ColumnExpr(`COALESCE(cp.full_name, cp.push_name, cp.business_name, cl.full_name, cl.push_name, cl.business_name, '') AS contact_name`).
		Join(`LEFT JOIN mkt_wap_contacts AS cp ON p.phone_e164 <> '' AND cp.phone_e164 = p.phone_e164`).
		Join(`LEFT JOIN mkt_wap_contacts AS cl ON p.lid <> '' AND cl.lid = p.lid`).
		Where("p.account_id = ? AND p.group_jid = ?", accountID, groupJID)
	if afterJID != "" {
		q = q.Where("p.jid > ?", afterJID)
	}
	if err := q.OrderExpr("p.jid ASC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("contact: list group members: %w", err)
	}
	return rows, nil
}

// RefreshGroups reads the account's groups from WhatsApp in one call and
// stores them with their members; groups the account has left are
// removed. It returns how many groups the account is in.
func (g *GroupService) RefreshGroups(ctx context.Context, accountID string) (int, error) {
	if err := checkAccountID(accountID); err != nil {
		return 0, err
	}
	if err := g.pacer.wait(ctx, accountID); err != nil {
		return 0, err
	}
	groups, err := g.whatsapp().JoinedGroups(ctx, accountID)
	g.opts.Metrics.WhatsAppCall("joined_groups", err)
	if err != nil {
		return 0, waError(accountID, err)
	}
	if err := g.storeJoined(ctx, accountID, groups, true); err != nil {
		return 0, err
	}
	g.log.Info().Str("account_id", accountID).Int("groups", len(groups)).Msg("groups refreshed")
	return len(groups), nil
}

// storeJoined writes the account's joined groups (with members, or the
// groups alone) in one transaction and removes the ones it is no longer in.
func (g *GroupService) storeJoined(ctx context.Context, accountID string, groups []WAGroup, members bool) error {
	now := g.svc.now()
	return g.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		jids := make([]string, 0, len(groups))
		for _, wg := range groups {
			wg.AccountID = accountID
			if err := saveGroup(ctx, tx, wg, now, members); err != nil {
				return err
			}
			jids = append(jids, wg.JID)
		}
		q := tx.NewDelete().Model((*groupRow)(nil)).Where("account_id = ?", accountID)
		if len(jids) > 0 {
			q = q.Where("jid NOT IN (?)", bun.In(jids))
		}
		if _, err := q.Exec(ctx); err != nil {
			return fmt.Errorf("contact: remove groups left: %w", err)
		}
		return nil
	})
}

// ParticipantsHeader is the participants CSV's header row.
var ParticipantsHeader = []string{"jid", "phone", "lid", "name", "role"}

// ExportParticipantsCSV writes a group's members (as last read from
// WhatsApp) to w as CSV, in batches, with the contacts export's formula
// escaping. It returns how many members it wrote; a group the account does
// not have is NOT_FOUND before anything is written.
func (g *GroupService) ExportParticipantsCSV(ctx context.Context, w io.Writer, accountID, groupJID string) (int, error) {
	if err := checkAccountID(accountID); err != nil {
		return 0, err
	}
	if _, err := getGroup(ctx, g.db, accountID, groupJID); err != nil {
		return 0, err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(ParticipantsHeader); err != nil {
		return 0, err
	}
	n, after := 0, ""
	for {
		rows, err := participantsAfter(ctx, g.db, accountID, groupJID, after, exportBatch)
		if err != nil {
			return n, err
		}
		for _, r := range rows {
			p := r.toParticipant()
			rec := []string{p.JID, p.Phone, p.LID, p.DisplayName, p.Role()}
			for i := range rec {
				rec[i] = escapeCell(rec[i])
			}
			if err := cw.Write(rec); err != nil {
				return n, err
			}
			n++
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return n, err
		}
		if len(rows) < exportBatch {
			return n, nil
		}
		after = rows[len(rows)-1].JID
	}
}
