package account

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/uptrace/bun"

	"wagraph/internal/bus"
	"wagraph/internal/store"
)

// Options tune the Service. Zero fields take the defaults below.
type Options struct {
	// Logger is the service's logger; each account gets a sub-logger with its id.
	Logger zerolog.Logger
	// Clock defaults to the system clock; tests pass a fake one.
	Clock Clock
	// Metrics defaults to NopMetrics.
	Metrics Metrics
	// ActivationTimeout is how long an activation may take before the account
	// is reset to PENDING (reason ACTIVATION_TIMEOUT). Default 5m.
	ActivationTimeout time.Duration
	// SessionIdleLimit is how long a linked session may go without activity
	// before restore marks it EXPIRED. Default 14 days (WhatsApp unlinks
	// companion devices whose phone stays away about that long).
	SessionIdleLimit time.Duration
	// MaxReconnectAttempts is how many reconnects in a row are tried before
	// the account is marked FAILED. Default 10.
	MaxReconnectAttempts int
	// StableAfter is how long a connection must have lasted for its loss to
	// start a fresh series of reconnect attempts; shorter ones count as
	// flapping and use up the limit. Default 5m.
	StableAfter time.Duration
	// FirstCodeWait is how long a started activation may wait for its first
	// code; while it waits, a second start of the same activation (a double
	// click) gets the one in progress instead of replacing it. Default 30s.
	FirstCodeWait time.Duration
	// PhoneRegion is the ISO country used for pairing phone numbers typed
	// without a country code; empty requires international numbers.
	PhoneRegion string
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Metrics == nil {
		o.Metrics = NopMetrics{}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ActivationTimeout, 5*time.Minute)
	def(&o.SessionIdleLimit, 14*24*time.Hour)
	def(&o.StableAfter, 5*time.Minute)
	def(&o.FirstCodeWait, 30*time.Second)
	if o.MaxReconnectAttempts <= 0 {
		o.MaxReconnectAttempts = 10
	}
	return o
}

// Service is the account lifecycle as data: it checks every change against
// the transition table, records it (row and history in one transaction) and
// publishes it after commit. It runs nothing by itself: what a change asks
// of the live session (stop it, connect it, retry later) comes back as a
// Step for the runtime (internal/supervisor) to carry out.
type Service struct {
	db       *store.DB
	bus      bus.Bus
	opts     Options
	log      zerolog.Logger
	accounts accountRepo
	history  historyRepo
}

// New builds the service.
func New(db *store.DB, eventBus bus.Bus, opts Options) *Service {
	opts = opts.withDefaults()
	return &Service{
		db:       db,
		bus:      eventBus,
		opts:     opts,
		log:      opts.Logger.With().Str("component", "account").Logger(),
		accounts: accountRepo{lockRows: db.Kind == store.Postgres},
	}
}

// Options returns the options the service runs with, defaults filled in.
func (s *Service) Options() Options { return s.opts }

func (s *Service) now() time.Time { return s.opts.Clock.Now().UTC().Truncate(time.Microsecond) }

func (s *Service) accountLog(id string) *zerolog.Logger {
	l := s.log.With().Str("account_id", id).Logger()
	return &l
}

// NewSessionID returns a fresh session id (time-ordered UUIDv7).
func NewSessionID() string { return newID() }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// errSkip abandons a modify without error: the account is no longer in a
// state the caller cares about (typically an event from a replaced session).
var errSkip = errors.New("account: update not applicable")

// update is one modification of an account inside its transaction. The
// function given to modify edits row in place and calls move to change the
// status.
type update struct {
	row    *accountRow
	from   Status
	now    time.Time
	to     Status // empty: the status stays
	reason Reason
	qr     *QREvent // published after commit
	// publish announces the change to live views although the status stays
	// (a rename, a new push name or phone number).
	publish bool
}

func (u *update) move(to Status, r Reason) { u.to, u.reason = to, r }

func (u *update) in(statuses ...Status) bool {
	for _, st := range statuses {
		if u.row.Status == st {
			return true
		}
	}
	return false
}

// modified is what modify did.
type modified struct {
	row     *accountRow
	change  *StatusChange // nil when the status did not change
	updated bool          // published as an update without a status change
	skipped bool
}

// modify is the one way an account changes: it locks the row, lets fn edit
// it, checks any status move against the transition table, writes the row
// and (for a move) the history row in the same transaction, and publishes
// the events after commit.
func (s *Service) modify(ctx context.Context, id string, fn func(u *update) error) (modified, error) {
	var (
		res      modified
		u        *update
		progress *QREvent
	)
	err := s.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		row, err := s.accounts.lock(ctx, tx, id)
		if err != nil {
			return err
		}
		u = &update{row: row, from: row.Status, now: s.now()}
		if err := fn(u); err != nil {
			if errors.Is(err, errSkip) {
				// A replaced session of a stale owner learns it here.
				if ferr := checkEpoch(ctx, tx, id); ferr != nil {
					return ferr
				}
			}
			return err
		}
		res.row = row
		if u.to != "" {
			if err := checkTransition(u.from, u.to); err != nil {
				return err
			}
			if u.from == StatusAwaitingScan && u.to != StatusAwaitingScan {
				row.clearCodes()
			}
			if u.from.Activating() && u.to != u.from {
				// The page showing the codes follows the activation to its
				// end: ACTIVE, or out of it by timeout, reset or failure.
				row.QRSeq++
				progress = &QREvent{AccountID: id, Version: row.QRSeq, Status: u.to, Done: !u.to.Activating()}
			}
			if !u.to.Activating() {
				row.clearActivation()
			}
			row.Status = u.to
			row.ReasonCode, row.ReasonMessage = string(u.reason.Code), u.reason.Message
			row.Version++
			res.change = &StatusChange{AccountID: id, Version: row.Version, From: u.from, To: u.to, Reason: NewReason(u.reason.Code, u.reason.Message), At: u.now}
			if err := s.history.insert(ctx, tx, *res.change); err != nil {
				return err
			}
		}
		if res.change != nil || u.publish {
			row.Revision++
			res.updated = res.change == nil
		}
		if u.qr != nil {
			row.QRSeq++
			u.qr.AccountID, u.qr.Version = id, row.QRSeq
		}
		row.UpdatedAt = u.now
		return s.accounts.update(ctx, tx, row, EpochFrom(ctx))
	})
	if errors.Is(err, errSkip) {
		return modified{skipped: true}, nil
	}
	if err != nil {
		return modified{}, err
	}
	s.afterCommit(ctx, res, u.qr, progress)
	return res, nil
}

// afterCommit publishes what a committed modify changed and counts it.
func (s *Service) afterCommit(ctx context.Context, res modified, qrs ...*QREvent) {
	ctx = context.WithoutCancel(ctx)
	if c := res.change; c != nil {
		s.opts.Metrics.Transition(c.From, c.To, c.Reason.Code)
		s.accountLog(c.AccountID).Info().
			Str("from", string(c.From)).Str("to", string(c.To)).
			Str("reason", string(c.Reason.Code)).Int64("version", c.Version).
			Msg("account status changed")
		s.publishStatus(ctx, StatusEvent{StatusChange: *c, Revision: res.row.Revision, PhoneNumber: res.row.PhoneNumber, Account: res.row.toAccount(s.opts.SessionIdleLimit)})
	} else if res.updated {
		r := res.row
		s.publishStatus(ctx, StatusEvent{
			StatusChange: StatusChange{AccountID: r.ID, Version: r.Version, From: r.Status, To: r.Status, Reason: r.reason(), At: r.UpdatedAt},
			Revision:     r.Revision,
			Updated:      true,
			PhoneNumber:  r.PhoneNumber,
			Account:      r.toAccount(s.opts.SessionIdleLimit),
		})
	}
	for _, qr := range qrs {
		if qr != nil {
			qr.StatusVersion, qr.Status = res.row.Version, res.row.Status
			qr.ActivationExpiresAt = res.row.ActivationExpiresAt
			s.publishQR(ctx, *qr)
		}
	}
}

func (s *Service) publishStatus(ctx context.Context, ev StatusEvent) {
	for _, topic := range []bus.Topic[StatusEvent]{StatusTopic(ev.AccountID), AllStatusTopic} {
		if err := bus.Publish(ctx, s.bus, topic, ev); err != nil {
			s.accountLog(ev.AccountID).Warn().Err(err).Str("topic", string(topic)).Msg("publish status event")
		}
	}
}

func (s *Service) publishQR(ctx context.Context, ev QREvent) {
	if err := bus.Publish(ctx, s.bus, QRTopic(ev.AccountID), ev); err != nil {
		s.accountLog(ev.AccountID).Warn().Err(err).Msg("publish QR event")
	}
}

func describeDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d/time.Hour))
	default:
		return d.Round(time.Second).String()
	}
}
