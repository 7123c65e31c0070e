package contact

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
)

// LIDsLearned takes LID → number mappings an account's client has just
// learnt from WhatsApp (its LID store: a group listing, a notification, a
// message): every contact known by one of those LIDs alone is merged into
// its number's contact (LinkLID: both histories kept), and stored group
// members listed by those LIDs get their number. Mappings of LIDs no
// contact has change nothing. It returns how many contacts it linked.
func (g *GroupService) LIDsLearned(ctx context.Context, accountID string, lidToPhone map[string]string) (int, error) {
	if len(lidToPhone) == 0 {
		return 0, nil
	}
	// Numbers are normalized only for the LIDs something here is waiting
	// for: libphonenumber is the costly part, and a group listing reports
	// every member's mapping (400,000 for 500 groups of 1,000).
	raw := make(map[string]string, len(lidToPhone))
	lids := make([]string, 0, len(lidToPhone))
	for l, p := range lidToPhone {
		lid, err := NormalizeLID(l)
		if err != nil {
			continue
		}
		raw[lid] = p
		lids = append(lids, lid)
	}
	norm := map[string]string{}
	phoneOf := func(lid string) (string, bool) {
		if p, ok := norm[lid]; ok {
			return p, p != ""
		}
		p, err := NormalizePhone(raw[lid], "")
		if err != nil {
			p = ""
		}
		norm[lid] = p
		return p, p != ""
	}
	linked := 0
	for start := 0; start < len(lids); start += participantBatch {
		batch := lids[start:min(start+participantBatch, len(lids))]
		var lidOnly []string
		err := g.db.NewSelect().Model((*contactRow)(nil)).Column("lid").
			Where("lid IN (?) AND phone_e164 IS NULL", bun.In(batch)).Scan(ctx, &lidOnly)
		if err != nil {
			return linked, fmt.Errorf("contact: find LID-only contacts: %w", err)
		}
		for _, lid := range lidOnly {
			phone, ok := phoneOf(lid)
			if !ok {
				continue
			}
			_, _, err := g.svc.LinkLID(ctx, lid, phone, Source{Kind: SourceWhatsApp, AccountID: accountID})
			if err != nil {
				g.log.Warn().Err(err).Str("account_id", accountID).Str("lid", lid).Msg("LID mapping not applied")
				continue
			}
			linked++
		}
		var unnumbered []string
		if err := g.db.NewSelect().Model((*participantRow)(nil)).ColumnExpr("DISTINCT lid").
			Where("lid IN (?) AND phone_e164 = ''", bun.In(batch)).Scan(ctx, &unnumbered); err != nil {
			return linked, fmt.Errorf("contact: find unnumbered group members: %w", err)
		}
		for _, lid := range unnumbered {
			phone, ok := phoneOf(lid)
			if !ok {
				continue
			}
			if _, err := g.db.NewUpdate().Model((*participantRow)(nil)).Set("phone_e164 = ?", phone).
				Where("lid = ? AND phone_e164 = ''", lid).Exec(ctx); err != nil {
				return linked, fmt.Errorf("contact: number group members: %w", err)
			}
		}
	}
	if linked > 0 {
		g.log.Info().Str("account_id", accountID).Int("linked", linked).Msg("LID-only contacts merged into their numbers")
	}
	return linked, nil
}
