package contact

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
)

// groupTally is what scraping one group did.
type groupTally struct {
	members, created, updated, merged, withoutPhone, errors int
	lastError                                               string
	outcomes                                                []Outcome
}

// scrapeGroup writes one group read from WhatsApp: the group and its
// members (as refreshGroups stores them), every member as a contact (by
// number, else LID; merged when both are known) with a provenance row for
// the account and group, the persona links, the job's counters and the
// group's checkpoint, in one transaction.
func (g *GroupService) scrapeGroup(ctx context.Context, row *scrapeRow, info *WAGroup) error {
	g.fillPhones(ctx, row.AccountID, info.Participants)
	personas := row.personas()
	source := Source{Kind: SourceGroup, AccountID: row.AccountID, GroupJID: info.JID}
	var t groupTally
	err := g.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		t = groupTally{}
		now := g.svc.now()
		if err := saveGroup(ctx, tx, *info, now, true); err != nil {
			return err
		}
		ids := make([]string, 0, len(info.Participants))
		count := func(c *Contact, outcome Outcome) {
			t.members++
			t.outcomes = append(t.outcomes, outcome)
			switch outcome {
			case Created:
				t.created++
			case Updated:
				t.updated++
			case Merged:
				t.merged++
			}
			if c.Phone == "" {
				t.withoutPhone++
			}
			ids = append(ids, c.ID)
		}
		skip := func(p Participant, err error) error {
			var e *apperr.Error
			if !errors.As(err, &e) || e.Code == apperr.Internal {
				return err
			}
			t.errors++
			t.lastError = p.JID + ": " + e.Message
			return nil
		}
		ms := make([]member, 0, len(info.Participants))
		for _, p := range info.Participants {
			if p.Self {
				continue
			}
			m, err := g.memberOf(p, source, now)
			if err != nil {
				if err := skip(p, err); err != nil {
					return err
				}
				continue
			}
			ms = append(ms, m)
		}
		created, rest, err := g.insertNewMembers(ctx, tx, ms, source, now)
		if err != nil {
			return err
		}
		for _, c := range created {
			count(c, Created)
		}
		known, rest, err := g.updateKnownMembers(ctx, tx, rest, source, now)
		if err != nil {
			return err
		}
		for _, k := range known {
			count(k.row.toContact(), k.outcome)
		}
		for _, m := range rest {
			row, outcome, err := g.svc.upsert(ctx, tx, m.id, m.o, now)
			if err != nil {
				if err := skip(m.p, err); err != nil {
					return err
				}
				continue
			}
			count(row.toContact(), outcome)
		}
		if err := linkPersonas(ctx, tx, personas, ids, now); err != nil {
			return err
		}
		if _, err := tx.NewUpdate().Model((*scrapeGroupRow)(nil)).Set("done_at = ?", now).Set("members = ?", t.members).
			Where("scrape_id = ? AND group_jid = ?", row.ID, info.JID).Exec(ctx); err != nil {
			return fmt.Errorf("contact: checkpoint scrape group: %w", err)
		}
		q := tx.NewUpdate().Model((*scrapeRow)(nil)).
			Set("groups_done = groups_done + 1").Set("members_seen = members_seen + ?", t.members).
			Set("contacts_created = contacts_created + ?", t.created).Set("contacts_updated = contacts_updated + ?", t.updated).
			Set("contacts_merged = contacts_merged + ?", t.merged).Set("members_without_phone = members_without_phone + ?", t.withoutPhone).
			Set("errors = errors + ?", t.errors).Set("rate_limited = 0").
			Set("version = version + 1").Set("updated_at = ?", now).Where("id = ?", row.ID)
		if t.lastError != "" {
			q = q.Set("last_error = ?", t.lastError)
		}
		if _, err := q.Exec(ctx); err != nil {
			return fmt.Errorf("contact: count scrape progress: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, o := range t.outcomes {
		g.svc.opts.Metrics.Upserted(o)
	}
	g.opts.Metrics.MembersScraped(t.members)
	g.publishCurrent(ctx, row.ID)
	return nil
}

// fillPhones gives members listed by LID alone the number the account's
// LID store knows for them (learnt from WhatsApp earlier).
func (g *GroupService) fillPhones(ctx context.Context, accountID string, ps []Participant) {
	var lids []string
	for _, p := range ps {
		if p.Phone == "" && p.LID != "" {
			lids = append(lids, p.LID)
		}
	}
	if len(lids) == 0 {
		return
	}
	known, err := g.whatsapp().PhonesForLIDs(ctx, accountID, lids)
	if err != nil {
		g.log.Warn().Err(err).Str("account_id", accountID).Msg("LID store not readable; members stay without number")
		return
	}
	for i := range ps {
		if ps[i].Phone == "" {
			ps[i].Phone = known[ps[i].LID]
		}
	}
}

// memberOf reads a member's identity. A number libphonenumber refuses
// falls back to the LID alone.
func (g *GroupService) memberOf(p Participant, src Source, now time.Time) (member, error) {
	o := Observation{Phone: p.Phone, LID: p.LID, SeenAt: now, Source: src}
	id, err := g.svc.identify(o)
	if err != nil && p.LID != "" && p.Phone != "" {
		o.Phone = ""
		id, err = g.svc.identify(o)
	}
	return member{p: p, id: id, o: o}, err
}

// linkPersonas links the contacts to the personas, skipping links that
// exist and personas deleted meanwhile, one statement per persona and
// batch.
func linkPersonas(ctx context.Context, tx bun.IDB, personas, contactIDs []string, now time.Time) error {
	for _, pid := range personas {
		for start := 0; start < len(contactIDs); start += participantBatch {
			ids := contactIDs[start:min(start+participantBatch, len(contactIDs))]
			_, err := tx.NewRaw(`INSERT INTO contact_personas (persona_id, contact_id, added_at)
				SELECT p.id, c.id, ? FROM mkt_wap_contacts AS c, personas AS p
				WHERE p.id = ? AND c.id IN (?) ON CONFLICT DO NOTHING`, now, pid, bun.In(ids)).Exec(ctx)
			if err != nil {
				return fmt.Errorf("contact: link scraped contacts to persona: %w", err)
			}
		}
	}
	return nil
}
