package message

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
	"wagraph/internal/bus"
	"wagraph/internal/contact"
	"wagraph/internal/jobs"
	"wagraph/internal/store"
)

// Limits of the input.
const (
	// MaxTextRunes is the longest message text (WhatsApp takes more; a
	// marketing message this long is a mistake).
	MaxTextRunes = 4096
	// MaxIdempotencyKey is the longest idempotency key, in bytes.
	MaxIdempotencyKey = 200
)

// Options tune the Service. Zero fields take the defaults.
type Options struct {
	Logger zerolog.Logger
	// Now defaults to time.Now; tests pass a fake clock.
	Now func() time.Time
	// DefaultRegion (ISO 3166, e.g. "DE") reads recipients written without
	// a country code; empty requires E.164.
	DefaultRegion string
	// MaxBatch is the most messages one queueMessages makes. Default 50,000.
	MaxBatch int
	// NotActiveRetry is how long a message waits before trying again while
	// its account has no live session. Default 30s.
	NotActiveRetry time.Duration
	// NotActiveGiveUp fails a message (ACCOUNT_NOT_ACTIVE) that has waited
	// this long for its account to be live. Default 24h.
	NotActiveGiveUp time.Duration
	// RefusedRetry is how long a message WhatsApp refused with a
	// time-lock (463) or rate-overlimit (429) waits before it is tried
	// again (the pause of the account usually holds it longer). Default 1h.
	RefusedRetry time.Duration
	// MaxAttempts is how often a message is handed to WhatsApp without an
	// answer (timeouts, lost connections) before it fails. Default 5.
	MaxAttempts int
	// LookupInterval paces IsOnWhatsApp per account: at most one query per
	// interval (each asks for up to LookupBatch numbers). Default 3s.
	LookupInterval time.Duration
	// LookupBatch is how many numbers of a batch one IsOnWhatsApp query
	// asks about. Default 50.
	LookupBatch int
	// LookupTTL is how long an IsOnWhatsApp answer is reused: a number on
	// WhatsApp for LookupTTL, one not on it for a tenth of it. Default 24h.
	LookupTTL time.Duration
	// LaneWorkers is how many send jobs each of the Lanes works at once
	// (SEND_LANE_WORKERS, default DefaultLaneWorkers); see lanes.go.
	LaneWorkers int
	// Jitter returns a random duration in [0, max]; tests fix it.
	Jitter func(max time.Duration) time.Duration
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 50_000
	}
	if o.NotActiveRetry <= 0 {
		o.NotActiveRetry = 30 * time.Second
	}
	if o.NotActiveGiveUp <= 0 {
		o.NotActiveGiveUp = 24 * time.Hour
	}
	if o.RefusedRetry <= 0 {
		o.RefusedRetry = time.Hour
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.LookupInterval <= 0 {
		o.LookupInterval = 3 * time.Second
	}
	if o.LookupBatch <= 0 {
		o.LookupBatch = 50
	}
	if o.LookupTTL <= 0 {
		o.LookupTTL = 24 * time.Hour
	}
	if o.LaneWorkers <= 0 {
		o.LaneWorkers = DefaultLaneWorkers
	}
	if o.Jitter == nil {
		o.Jitter = randomJitter
	}
	return o
}

// Deps are the service's collaborators.
type Deps struct {
	DB *store.DB
	// Jobs enqueues the send jobs (in the transaction that writes the
	// messages).
	Jobs     *jobs.Service
	Bus      bus.Bus
	Sender   Sender
	Admitter Admitter
	Outcomes Outcomes
	Contacts Contacts
}

// Service sends messages and runs the send queue.
type Service struct {
	Deps
	opts    Options
	log     zerolog.Logger
	lookups *lookups
	sends   *turns
	lanes   lanes
}

// New builds the service; register its worker with RegisterJobs.
func New(d Deps, opts Options) *Service {
	opts = opts.withDefaults()
	s := &Service{Deps: d, opts: opts, log: opts.Logger.With().Str("component", "message").Logger()}
	s.lookups = newLookups(opts.LookupInterval, opts.LookupTTL, opts.Now)
	s.sends = newTurns()
	s.lanes.by = map[string]int{}
	return s
}

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// newWAMessageID makes a WhatsApp message id in the form whatsmeow's
// clients use ("3EB0" and 16 upper-case hex digits).
func newWAMessageID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "3EB0" + strings.ToUpper(hex.EncodeToString(b[:]))
}

// SendInput is one message to send (sendMessage).
type SendInput struct {
	AccountID string
	// To is the recipient: a number (E.164, or national with the default
	// region) or a contact id.
	To   string
	Text string
	// IdempotencyKey, when given, makes the request safe to repeat: the
	// same key for the same account returns the first message and sends
	// nothing more.
	IdempotencyKey string
}

// Send queues one message and returns it QUEUED; its job sends it as soon
// as the account's limits allow. A repeated idempotency key returns the
// message it made first (CONFLICT when the recipient or text differ).
// An opted-out contact is OPTED_OUT; nothing is queued for it.
func (s *Service) Send(ctx context.Context, in SendInput) (*Message, error) {
	text, err := checkText("text", in.Text)
	if err != nil {
		return nil, err
	}
	if len(in.IdempotencyKey) > MaxIdempotencyKey || !utf8.ValidString(in.IdempotencyKey) {
		return nil, apperr.Invalid("idempotencyKey", fmt.Sprintf("the idempotency key must be text of at most %d bytes", MaxIdempotencyKey),
			"Use a UUID or another unique string per message you mean to send.")
	}
	if err := accountExists(ctx, s.DB, in.AccountID); err != nil {
		return nil, err
	}
	if in.IdempotencyKey != "" {
		if m, err := s.byKey(ctx, in); m != nil || err != nil {
			return m, err
		}
	}
	to, c, err := s.recipient(ctx, in.To)
	if err != nil {
		return nil, err
	}
	now := s.now()
	row := &messageRow{
		ID: newID(), AccountID: in.AccountID, Recipient: to, Body: text, Status: Queued,
		IdempotencyKey: in.IdempotencyKey, CreatedAt: now, UpdatedAt: now,
	}
	if c != nil {
		row.ContactID = c.ID
	}
	laneOpts, err := s.laneOpts(ctx, in.AccountID)
	if err != nil {
		return nil, err
	}
	err = s.DB.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
			return err
		}
		_, err := s.Jobs.Enqueue(ctx, tx, SendArgs{MessageID: row.ID}, laneOpts)
		return err
	})
	if err != nil {
		if in.IdempotencyKey != "" && store.IsUniqueViolation(err) {
			// The same key at the same moment from elsewhere: theirs won.
			if m, kerr := s.byKey(ctx, in); m != nil || kerr != nil {
				return m, kerr
			}
		}
		return nil, fmt.Errorf("message: queue: %w", err)
	}
	s.log.Info().Str("message_id", row.ID).Str("account_id", row.AccountID).Msg("message queued")
	return row.toMessage(), nil
}

// byKey returns the message an earlier request with the same idempotency
// key made, or nil.
func (s *Service) byKey(ctx context.Context, in SendInput) (*Message, error) {
	r := new(messageRow)
	err := s.DB.NewSelect().Model(r).Where("m.account_id = ? AND m.idempotency_key = ?", in.AccountID, in.IdempotencyKey).Scan(ctx)
	if err != nil {
		if errors.Is(err, errNoRows) {
			return nil, nil
		}
		return nil, fmt.Errorf("message: look up idempotency key: %w", err)
	}
	to, _, terr := s.recipient(ctx, in.To)
	if r.Body != strings.TrimSpace(in.Text) || (terr == nil && to != r.Recipient) {
		return nil, apperr.Newf(apperr.Conflict, "idempotency key %q was used for another message (id %s)", in.IdempotencyKey, r.ID).
			WithSuggestion("Use a new idempotency key for a different message; repeat a key only to repeat the same request.")
	}
	return r.toMessage(), nil
}

// recipient reads a recipient given as a number or a contact id: its
// number in E.164 and the contact, when there is one.
func (s *Service) recipient(ctx context.Context, to string) (string, *contact.Contact, error) {
	to = strings.TrimSpace(to)
	if to == "" {
		return "", nil, apperr.Invalid("to", "no recipient given", "Give the recipient's number in E.164 (+4915123456789) or a contact id.")
	}
	var c *contact.Contact
	var err error
	if looksLikeNumber(to) {
		phone, perr := contact.NormalizePhone(to, s.opts.DefaultRegion)
		if perr != nil {
			// A number written in full international form that the
			// numbering plan does not know (new ranges, test numbers) goes
			// as written: WhatsApp's own lookup decides whether it exists.
			var ok bool
			if phone, ok = plainE164(to); !ok {
				return "", nil, apperr.Invalid("to", fmt.Sprintf("%q is not a phone number", clip(to)),
					"Give the number in E.164 with its country code, e.g. +4915123456789, or a contact id.")
			}
		}
		if c, err = s.Contacts.ByPhone(ctx, phone); err != nil {
			return "", nil, err
		}
		if c == nil {
			return phone, nil, nil
		}
	} else {
		if c, err = s.Contacts.Get(ctx, to); err != nil {
			if apperr.CodeOf(err) == apperr.NotFound {
				return "", nil, apperr.Invalid("to", fmt.Sprintf("no contact with id %q", clip(to)),
					"Give the recipient's number in E.164 or the id of an existing contact.")
			}
			return "", nil, err
		}
		if c.Phone == "" {
			return "", nil, apperr.Invalid("to", "the contact has no phone number (only its LID is known)",
				"Send to a contact whose number is known, or give the number itself.")
		}
	}
	if c.OptedOut {
		return "", nil, apperr.Newf(apperr.OptedOut, "the contact %s opted out of messages", c.ID)
	}
	return c.Phone, c, nil
}

// looksLikeNumber tells a number from a contact id: digits with the usual
// punctuation, at least five digits.
func looksLikeNumber(s string) bool {
	n := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			n++
		case strings.ContainsRune("+ -().", r):
		default:
			return false
		}
	}
	return n >= 5
}

// plainE164 reads "+" and 8 to 15 digits (separators allowed) as E.164.
func plainE164(s string) (string, bool) {
	if !strings.HasPrefix(s, "+") {
		return "", false
	}
	var b strings.Builder
	b.WriteByte('+')
	for _, r := range s[1:] {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case strings.ContainsRune(" -().", r):
		default:
			return "", false
		}
	}
	n := b.Len() - 1
	return b.String(), n >= 8 && n <= 15 && b.String()[1] != '0'
}

func checkText(field, text string) (string, error) {
	text = strings.TrimSpace(text)
	switch {
	case text == "":
		return "", apperr.Invalid(field, "the text is empty", "Write the message text.")
	case !utf8.ValidString(text):
		return "", apperr.Invalid(field, "the text is not valid UTF-8", "Send the text as UTF-8.")
	case utf8.RuneCountInString(text) > MaxTextRunes:
		return "", apperr.Invalid(field, fmt.Sprintf("the text is longer than %d characters", MaxTextRunes), "Shorten the message.")
	}
	return text, nil
}

func clip(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strings.ToValidUTF8(s, "")
}

// Get returns one message.
func (s *Service) Get(ctx context.Context, id string) (*Message, error) {
	r, err := getMessage(ctx, s.DB, id)
	if err != nil {
		return nil, err
	}
	return r.toMessage(), nil
}
