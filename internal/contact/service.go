package contact

import (
	"context"
	"maps"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
	"wagraph/internal/store"
)

// Options tune the Service. Zero fields take the defaults.
type Options struct {
	Logger zerolog.Logger
	// Metrics defaults to NopMetrics.
	Metrics Metrics
	// Now defaults to time.Now; tests pass a fake clock.
	Now func() time.Time
	// DefaultRegion (ISO 3166, e.g. "DE") reads numbers written without a
	// country code; empty requires international numbers.
	DefaultRegion string
	// MaxImportBytes and MaxImportRows bound one synchronous CSV import.
	// Defaults 1 MiB and 10,000.
	MaxImportBytes int64
	MaxImportRows  int
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Metrics == nil {
		o.Metrics = NopMetrics{}
	}
	if o.MaxImportBytes <= 0 {
		o.MaxImportBytes = 1 << 20
	}
	if o.MaxImportRows <= 0 {
		o.MaxImportRows = 10_000
	}
	return o
}

// Service is the contact base: contacts, their provenance and personas.
type Service struct {
	db       *store.DB
	opts     Options
	log      zerolog.Logger
	contacts contactRepo
	personas personaRepo
}

// New builds the service.
func New(db *store.DB, opts Options) *Service {
	opts = opts.withDefaults()
	return &Service{
		db:       db,
		opts:     opts,
		log:      opts.Logger.With().Str("component", "contact").Logger(),
		contacts: contactRepo{lockRows: db.Kind == store.Postgres},
	}
}

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// Observation is what is learnt about a person at one source: a group
// member seen by a scrape, an import row, a LID↔number mapping.
type Observation struct {
	// Phone is the number as given (normalized with Region or the default
	// region); LID the hidden-user id. At least one is needed.
	Phone  string
	Region string
	LID    string
	// Names replace the stored ones when not empty.
	PushName, FullName, BusinessName string
	// Attributes are merged into the stored ones (given keys win).
	Attributes map[string]string
	// SeenAt is when the person was seen on WhatsApp; zero for sources that
	// are not a sighting (an import), which leave first/last seen alone on
	// existing contacts.
	SeenAt time.Time
	// OptOut marks the contact opted out (an observation never opts a
	// contact back in).
	OptOut bool
	Source Source
}

// identity is an observation's normalized keys.
type identity struct{ phone, lid string }

func (s *Service) identify(o Observation) (identity, error) {
	var id identity
	region := o.Region
	if region == "" {
		region = s.opts.DefaultRegion
	}
	if o.Phone != "" {
		p, err := NormalizePhone(o.Phone, region)
		if err != nil {
			return id, err
		}
		id.phone = p
	}
	if o.LID != "" {
		l, err := NormalizeLID(o.LID)
		if err != nil {
			return id, err
		}
		id.lid = l
	}
	if id.phone == "" && id.lid == "" {
		return id, apperr.Invalid("phone", "a contact needs a phone number or a LID",
			"Give the phone number in international format (+49 151 23456789) or the WhatsApp LID (…@lid).")
	}
	if !o.Source.Kind.Valid() {
		return id, apperr.Invalid("source", "unknown source kind '"+string(o.Source.Kind)+"'", "Use GROUP, IMPORT, MANUAL or WHATSAPP.")
	}
	if err := checkAttributes(o.Attributes); err != nil {
		return id, err
	}
	return id, nil
}

// Upsert records an observation: it finds the contact by number or LID,
// creates it when there is none, merges a LID-only contact into the
// number's contact when the observation carries both, and records the
// source. One transaction.
func (s *Service) Upsert(ctx context.Context, o Observation) (*Contact, Outcome, error) {
	id, err := s.identify(o)
	if err != nil {
		return nil, "", err
	}
	var (
		row     *contactRow
		outcome Outcome
	)
	err = s.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		row, outcome, err = s.upsert(ctx, tx, id, o, s.now())
		return err
	})
	if err != nil {
		return nil, "", err
	}
	s.opts.Metrics.Upserted(outcome)
	return row.toContact(), outcome, nil
}

// LinkLID records that lid belongs to the number e164 (learnt from
// WhatsApp, a scrape or an import): a LID-only contact merges into the
// number's contact, keeping both histories.
func (s *Service) LinkLID(ctx context.Context, lid, e164 string, source Source) (*Contact, Outcome, error) {
	if lid == "" || e164 == "" {
		return nil, "", apperr.Invalid("lid", "linking needs both a LID and a phone number", "Give the LID (…@lid) and the number it belongs to.")
	}
	return s.Upsert(ctx, Observation{Phone: e164, LID: lid, Source: source})
}

// upsertAttempts bounds how often upsert looks again after a concurrent
// writer created the contact between its lookup and its insert.
const upsertAttempts = 3

func (s *Service) upsert(ctx context.Context, tx bun.IDB, id identity, o Observation, now time.Time) (*contactRow, Outcome, error) {
	for range upsertAttempts {
		byPhone, err := s.contacts.findBy(ctx, tx, "phone_e164", id.phone)
		if err != nil {
			return nil, "", err
		}
		byLID, err := s.contacts.findBy(ctx, tx, "lid", id.lid)
		if err != nil {
			return nil, "", err
		}
		seen := o.SeenAt.UTC().Truncate(time.Microsecond)
		if o.SeenAt.IsZero() {
			seen = now
		}
		var (
			row     *contactRow
			outcome = Unchanged
		)
		switch {
		case byPhone == nil && byLID == nil:
			row = &contactRow{ID: newID(), Phone: id.phone, LID: id.lid, FirstSeenAt: seen, LastSeenAt: seen, CreatedAt: now, UpdatedAt: now}
			applyObservation(row, o, time.Time{}, now)
			ok, err := s.contacts.insertIgnore(ctx, tx, row)
			if err != nil {
				return nil, "", err
			}
			if !ok {
				continue // created meanwhile: look again
			}
			if err := s.contacts.addSource(ctx, tx, row.ID, o.Source, seen); err != nil {
				return nil, "", err
			}
			return row, Created, nil
		case byPhone != nil && byLID != nil && byPhone.ID != byLID.ID:
			if byLID.Phone != "" {
				return nil, "", lidTaken(id.lid, byLID.Phone)
			}
			if byPhone.LID != "" {
				return nil, "", phoneHasOtherLID(id.phone, byPhone.LID)
			}
			if err := s.merge(ctx, tx, byLID, byPhone); err != nil {
				return nil, "", err
			}
			byPhone.LID = id.lid
			row, outcome = byPhone, Merged
		default:
			row = byPhone
			if row == nil {
				row = byLID
			}
			if id.phone != "" && row.Phone != "" && row.Phone != id.phone {
				return nil, "", lidTaken(id.lid, row.Phone)
			}
			if id.lid != "" && row.LID != "" && row.LID != id.lid {
				return nil, "", phoneHasOtherLID(id.phone, row.LID)
			}
			if row.Phone == "" && id.phone != "" {
				row.Phone, outcome = id.phone, Updated
			}
			if row.LID == "" && id.lid != "" {
				row.LID, outcome = id.lid, Updated
			}
		}
		var sighting time.Time
		if !o.SeenAt.IsZero() {
			sighting = seen
		}
		if applyObservation(row, o, sighting, now) && outcome == Unchanged {
			outcome = Updated
		}
		if outcome != Unchanged {
			row.UpdatedAt = now
			if err := s.contacts.update(ctx, tx, row); err != nil {
				return nil, "", err
			}
		}
		if err := s.contacts.addSource(ctx, tx, row.ID, o.Source, seen); err != nil {
			return nil, "", err
		}
		return row, outcome, nil
	}
	return nil, "", apperr.New(apperr.Conflict, "the contact changed while it was being saved; try again")
}

// merge folds the LID-only contact from into target: its sources and
// persona links move, names fill target's gaps, seen times widen, an
// opt-out sticks. from is deleted; the caller writes target.
func (s *Service) merge(ctx context.Context, tx bun.IDB, from, target *contactRow) error {
	if err := s.contacts.moveHistory(ctx, tx, from.ID, target.ID); err != nil {
		return err
	}
	// Deleting first frees from's LID for target.
	if _, err := tx.NewDelete().Model((*contactRow)(nil)).Where("id = ?", from.ID).Exec(ctx); err != nil {
		return err
	}
	fill := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	fill(&target.PushName, from.PushName)
	fill(&target.FullName, from.FullName)
	fill(&target.BusinessName, from.BusinessName)
	if from.FirstSeenAt.Before(target.FirstSeenAt) {
		target.FirstSeenAt = from.FirstSeenAt
	}
	if from.LastSeenAt.After(target.LastSeenAt) {
		target.LastSeenAt = from.LastSeenAt
	}
	if from.CreatedAt.Before(target.CreatedAt) {
		target.CreatedAt = from.CreatedAt
	}
	if from.OptedOut && (!target.OptedOut || from.OptedOutAt.Before(target.OptedOutAt)) {
		target.OptedOut, target.OptedOutAt = true, from.OptedOutAt
	}
	attrs := from.attributes()
	maps.Copy(attrs, target.attributes())
	target.setAttributes(attrs)
	s.log.Info().Str("contact_id", target.ID).Str("merged_id", from.ID).Msg("LID-only contact merged into its phone number's contact")
	return nil
}

// applyObservation writes what o says into row and reports whether
// anything changed. sighting, when not zero, widens first and last seen.
func applyObservation(row *contactRow, o Observation, sighting, now time.Time) bool {
	changed := false
	if o.OptOut && !row.OptedOut {
		row.OptedOut, row.OptedOutAt, changed = true, now, true
	}
	set := func(dst *string, v string) {
		if v = cleanName(v); v != "" && *dst != v {
			*dst, changed = v, true
		}
	}
	set(&row.PushName, o.PushName)
	set(&row.FullName, o.FullName)
	set(&row.BusinessName, o.BusinessName)
	if len(o.Attributes) > 0 {
		attrs := row.attributes()
		for k, v := range o.Attributes {
			if old, ok := attrs[k]; !ok || old != v {
				attrs[k], changed = v, true
			}
		}
		row.setAttributes(attrs)
	} else if row.Attributes == "" {
		row.setAttributes(nil)
	}
	if !sighting.IsZero() {
		if sighting.Before(row.FirstSeenAt) {
			row.FirstSeenAt, changed = sighting, true
		}
		if sighting.After(row.LastSeenAt) {
			row.LastSeenAt, changed = sighting, true
		}
	}
	return changed
}

func lidTaken(lid, phone string) error {
	return apperr.Newf(apperr.Conflict, "the LID %s already belongs to the contact with number %s", lid, phone).
		WithSuggestion("A LID belongs to one number; check which number is right, correct or delete the other contact, then try again.")
}

func phoneHasOtherLID(phone, lid string) error {
	return apperr.Newf(apperr.Conflict, "the number %s already has the LID %s", phone, lid).
		WithSuggestion("A number has one LID; check which LID is right, correct or delete the other contact, then try again.")
}
