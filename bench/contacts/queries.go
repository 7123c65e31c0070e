package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/contact"
	"wagraph/internal/store"
)

// seedContacts tops the database up to n contacts, in SQL: every 20th
// without a number (LID only), every 50th opted out, each seen in one of
// 1,000 groups of 10 accounts; one persona holds a tenth of them, another
// a thousandth.
func seedContacts(ctx context.Context, db *store.DB, svc *contact.Service, n int) (big, small string, err error) {
	var have int
	if err := db.NewRaw("SELECT count(*) FROM mkt_wap_contacts").Scan(ctx, &have); err != nil {
		return "", "", err
	}
	if add := n - have; add > 0 {
		_, err := db.ExecContext(ctx, `INSERT INTO mkt_wap_contacts (id, phone_e164, lid, push_name, full_name, first_seen_at, last_seen_at, opted_out, opted_out_at, attributes, created_at, updated_at)
			SELECT gen_random_uuid()::text,
				CASE WHEN g % 20 = 0 THEN NULL ELSE '+4917' || lpad(g::text, 9, '0') END,
				CASE WHEN g % 20 = 0 THEN (100000000 + g)::text || '@lid' END,
				'Push ' || g, 'Seeded Name ' || g, now() - g * interval '1 second', now(),
				g % 50 = 0, CASE WHEN g % 50 = 0 THEN now() END, '{}', now() - g * interval '1 second', now()
			FROM generate_series(1, ?) AS g`, add)
		if err != nil {
			return "", "", fmt.Errorf("seed contacts: %w", err)
		}
		_, err = db.ExecContext(ctx, `INSERT INTO contact_sources (contact_id, kind, account_id, group_jid, import_id, first_seen_at, last_seen_at)
			SELECT id, 'GROUP', 'acc-' || (abs(hashtext(id)) % 10), 'g' || (abs(hashtext(id)) % 1000) || '@g.us', '', created_at, created_at
			FROM mkt_wap_contacts ON CONFLICT DO NOTHING`)
		if err != nil {
			return "", "", fmt.Errorf("seed sources: %w", err)
		}
	}
	p1, err := svc.CreatePersona(ctx, fmt.Sprintf("Tenth %d", time.Now().UnixNano()), "")
	if err != nil {
		return "", "", err
	}
	p2, err := svc.CreatePersona(ctx, fmt.Sprintf("Thousandth %d", time.Now().UnixNano()), "")
	if err != nil {
		return "", "", err
	}
	for _, p := range []struct {
		id  string
		mod int
	}{{p1.ID, 10}, {p2.ID, 1000}} {
		_, err := db.ExecContext(ctx, `INSERT INTO contact_personas (persona_id, contact_id, added_at)
			SELECT ?, id, now() FROM mkt_wap_contacts WHERE abs(hashtext(id || 'p')) % ? = 0 ON CONFLICT DO NOTHING`, p.id, p.mod)
		if err != nil {
			return "", "", fmt.Errorf("seed persona: %w", err)
		}
	}
	// As autovacuum would after a bulk load: statistics for the planner, the
	// visibility map for index-only scans, and the trigram indexes' pending
	// lists merged into the indexes.
	_, err = db.ExecContext(ctx, "VACUUM ANALYZE")
	return p1.ID, p2.ID, err
}

func ptr[T any](v T) *T { return &v }

// measureQueries seeds the contacts and times the contacts query under each
// filter (first page, then the page after it) and the export.
func measureQueries(ctx context.Context, db *store.DB, o options, w io.Writer) ([]string, error) {
	svc := contact.New(db, contact.Options{Logger: zerolog.Nop(), DefaultRegion: "DE"})
	started := time.Now()
	big, small, err := seedContacts(ctx, db, svc, o.Contacts)
	if err != nil {
		return nil, err
	}
	total, err := svc.Count(ctx)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "queries on %d contacts in Postgres (seeded in %.1fs), contacts(first: 100) with totalCount, %d runs each:\n", total, time.Since(started).Seconds(), o.Queries)
	fmt.Fprintf(w, "  %-34s %9s %9s %9s %9s %9s\n", "filter", "matches", "p50", "p99", "next p50", "next p99")
	deep, err := deepPosition(ctx, svc, big, 9)
	if err != nil {
		return nil, err
	}
	var failures []string
	for _, c := range []struct {
		name    string
		f       contact.Filter
		o       contact.Order
		after   string
		noCount bool
	}{
		{name: "none"},
		{name: "none, LAST_SEEN_AT desc", o: contact.Order{Field: contact.OrderLastSeen, Desc: true}},
		{name: "personaId (a tenth)", f: contact.Filter{PersonaID: big}},
		{name: "personaId (a tenth), 9/10 deep", f: contact.Filter{PersonaID: big}, after: deep},
		{name: "personaId (a tenth), no totalCount", f: contact.Filter{PersonaID: big}, noCount: true},
		{name: "personaId (a thousandth)", f: contact.Filter{PersonaID: small}},
		{name: "accountId", f: contact.Filter{AccountID: "acc-3"}},
		{name: "groupJid", f: contact.Filter{GroupJID: "g42@g.us"}},
		{name: "accountId + groupJid", f: contact.Filter{AccountID: "acc-3", GroupJID: "g42@g.us"}},
		{name: "source IMPORT", f: contact.Filter{Source: contact.SourceImport}},
		{name: "search name", f: contact.Filter{Search: "name 4242"}},
		{name: "search number", f: contact.Filter{Search: "0151 0004242"}},
		{name: "search number (a match)", f: contact.Filter{Search: "0170 0000 4242"}},
		{name: "hasPhone false", f: contact.Filter{HasPhone: ptr(false)}},
		{name: "optedOut true", f: contact.Filter{OptedOut: ptr(true)}},
		{name: "personaId + optedOut false", f: contact.Filter{PersonaID: big, OptedOut: ptr(false)}},
	} {
		var first, next []time.Duration
		var matches int
		for range o.Queries {
			t0 := time.Now()
			page, err := svc.List(ctx, contact.ListInput{Filter: c.f, Order: c.o, First: ptr(100), After: c.after, SkipCount: c.noCount})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.name, err)
			}
			first = append(first, time.Since(t0))
			if !c.noCount {
				matches = page.TotalCount
			}
			if len(page.Positions) == 0 {
				continue
			}
			t0 = time.Now()
			if _, err := svc.List(ctx, contact.ListInput{Filter: c.f, Order: c.o, First: ptr(100), After: page.Positions[len(page.Positions)-1], SkipCount: c.noCount}); err != nil {
				return nil, fmt.Errorf("%s, next page: %w", c.name, err)
			}
			next = append(next, time.Since(t0))
		}
		p99 := pct(first, 99)
		shown := "-" // not counted
		if !c.noCount {
			shown = fmt.Sprint(matches)
		}
		fmt.Fprintf(w, "  %-34s %9s %9s %9s %9s %9s\n", c.name, shown, ms(pct(first, 50)), ms(p99), ms(pct(next, 50)), ms(pct(next, 99)))
		if c.f.PersonaID != "" && c.f.OptedOut == nil && p99 > 50*time.Millisecond {
			failures = append(failures, fmt.Sprintf("%s p99 %s over 50ms", c.name, ms(p99)))
		}
	}
	for _, c := range []struct {
		name string
		f    contact.Filter
	}{{"all", contact.Filter{}}, {"personaId (a tenth)", contact.Filter{PersonaID: big}}} {
		t0 := time.Now()
		n, err := svc.ExportCSV(ctx, io.Discard, c.f)
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		took := time.Since(t0)
		fmt.Fprintf(w, "export  %-26s %d contacts in %.2fs  %9.0f contacts/s\n", c.name, n, took.Seconds(), float64(n)/took.Seconds())
	}
	return failures, nil
}

// deepPosition pages through the persona's contacts (100 at a time,
// without counting) to tenths/10 of its members and returns the position
// there, for timing a deep page.
func deepPosition(ctx context.Context, svc *contact.Service, persona string, tenths int) (string, error) {
	p, err := svc.GetPersona(ctx, persona)
	if err != nil {
		return "", err
	}
	after := ""
	for seen := 0; seen < p.ContactCount*tenths/10; {
		page, err := svc.List(ctx, contact.ListInput{Filter: contact.Filter{PersonaID: persona}, First: ptr(100), After: after, SkipCount: true})
		if err != nil {
			return "", err
		}
		if len(page.Positions) == 0 {
			break
		}
		seen += len(page.Positions)
		after = page.Positions[len(page.Positions)-1]
	}
	return after, nil
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}
