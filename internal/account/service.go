package account

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/uptrace/bun"

	"wagraph/internal/pubsub"
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
	// TimeoutCheckInterval is how often stored activation deadlines and ban
	// expiries are checked, as a backstop to the in-memory timers. Default 15s.
	TimeoutCheckInterval time.Duration
	// HealthSweepInterval is how often connected accounts without a phone
	// number are repaired and live sessions' activity is recorded. Default 5m.
	HealthSweepInterval time.Duration
	// SessionIdleLimit is how long a linked session may go without activity
	// before restore marks it EXPIRED. Default 14 days (WhatsApp unlinks
	// companion devices whose phone stays away about that long).
	SessionIdleLimit time.Duration
	// MaxReconnectAttempts is how many reconnects in a row are tried before
	// the account is marked FAILED. Default 10.
	MaxReconnectAttempts int
	// ReconnectBaseDelay and ReconnectMaxDelay bound the jittered exponential
	// backoff between reconnects. Defaults 2s and 5m.
	ReconnectBaseDelay time.Duration
	ReconnectMaxDelay  time.Duration
	// StableAfter is how long a connection must have lasted for its loss to
	// start a fresh series of reconnect attempts; shorter ones count as
	// flapping and use up the limit. Default 5m.
	StableAfter time.Duration
	// RestoreConcurrency bounds how many sessions connect at once on start.
	// Default 4.
	RestoreConcurrency int
	// PhoneRegion is the ISO country used for pairing phone numbers typed
	// without a country code; empty requires international numbers.
	PhoneRegion string
	// Jitter returns a number in [0, 1) to spread reconnects; default math/rand.
	Jitter func() float64
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
	def(&o.TimeoutCheckInterval, 15*time.Second)
	def(&o.HealthSweepInterval, 5*time.Minute)
	def(&o.SessionIdleLimit, 14*24*time.Hour)
	def(&o.ReconnectBaseDelay, 2*time.Second)
	def(&o.ReconnectMaxDelay, 5*time.Minute)
	def(&o.StableAfter, 5*time.Minute)
	if o.MaxReconnectAttempts <= 0 {
		o.MaxReconnectAttempts = 10
	}
	if o.RestoreConcurrency <= 0 {
		o.RestoreConcurrency = 4
	}
	if o.Jitter == nil {
		o.Jitter = rand.Float64
	}
	return o
}

// Service runs the account lifecycle. Build it with New, call Start once the
// database is migrated, and Close before closing the Sessions.
type Service struct {
	db       *store.DB
	bus      pubsub.Bus
	sessions Sessions
	opts     Options
	log      zerolog.Logger
	accounts accountRepo
	history  historyRepo

	mu       sync.Mutex
	closed   bool
	ctx      context.Context // the service's life, for timers and restore
	cancel   context.CancelFunc
	timers   map[timerKey]*timer
	wg       sync.WaitGroup
	restored chan struct{}
}

var _ EventSink = (*Service)(nil)

// New builds the service. It does nothing until Start.
func New(db *store.DB, bus pubsub.Bus, sessions Sessions, opts Options) *Service {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{
		db:       db,
		bus:      bus,
		sessions: sessions,
		opts:     opts,
		log:      opts.Logger.With().Str("component", "account").Logger(),
		accounts: accountRepo{lockRows: db.Kind == store.Postgres},
		ctx:      ctx,
		cancel:   cancel,
		timers:   make(map[timerKey]*timer),
		restored: make(chan struct{}),
	}
}

// Start restores the accounts that should be connected (validating their
// sessions first), runs the timeout and health sweeps once, and schedules
// them to run periodically. Connecting the restored sessions continues in the
// background; Restored tells when it is done.
func (s *Service) Start(ctx context.Context) error {
	jobs, err := s.restore(ctx)
	if err != nil {
		close(s.restored)
		return err
	}
	if err := s.SweepTimeouts(ctx); err != nil {
		s.log.Error().Err(err).Msg("activation timeout sweep failed")
	}
	if _, err := s.SweepHealth(ctx); err != nil {
		s.log.Error().Err(err).Msg("health sweep failed")
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(s.restored)
		s.connectRestored(s.ctx, jobs)
	}()
	s.every(timerTimeoutSweep, s.opts.TimeoutCheckInterval, func(ctx context.Context) {
		if err := s.SweepTimeouts(ctx); err != nil && ctx.Err() == nil {
			s.log.Error().Err(err).Msg("activation timeout sweep failed")
		}
	})
	s.every(timerHealthSweep, s.opts.HealthSweepInterval, func(ctx context.Context) {
		if _, err := s.SweepHealth(ctx); err != nil && ctx.Err() == nil {
			s.log.Error().Err(err).Msg("health sweep failed")
		}
	})
	return nil
}

// Restored is closed when the sessions restored by Start have all been
// asked to connect.
func (s *Service) Restored() <-chan struct{} { return s.restored }

// Close records the activity of live sessions, stops timers and sweeps and
// waits for running ones. It leaves the sessions to their owner's Close.
func (s *Service) Close() error {
	if _, err := s.recordActivity(context.Background()); err != nil {
		s.log.Warn().Err(err).Msg("record session activity on close")
	}
	s.mu.Lock()
	s.closed = true
	for k, t := range s.timers {
		t.stop()
		delete(s.timers, k)
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

func (s *Service) now() time.Time { return s.opts.Clock.Now().UTC().Truncate(time.Microsecond) }

func (s *Service) accountLog(id string) *zerolog.Logger {
	l := s.log.With().Str("account_id", id).Logger()
	return &l
}

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
		if u.qr != nil {
			row.QRSeq++
			u.qr.AccountID, u.qr.Version = id, row.QRSeq
		}
		row.UpdatedAt = u.now
		return s.accounts.update(ctx, tx, row)
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
		s.publishStatus(ctx, StatusEvent{StatusChange: *c, PhoneNumber: res.row.PhoneNumber, Account: res.row.toAccount(s.opts.SessionIdleLimit)})
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
	for _, topic := range []pubsub.Topic[StatusEvent]{StatusTopic(ev.AccountID), AllStatusTopic} {
		if err := pubsub.Publish(ctx, s.bus, topic, ev); err != nil {
			s.accountLog(ev.AccountID).Warn().Err(err).Str("topic", string(topic)).Msg("publish status event")
		}
	}
}

func (s *Service) publishQR(ctx context.Context, ev QREvent) {
	if err := pubsub.Publish(ctx, s.bus, QRTopic(ev.AccountID), ev); err != nil {
		s.accountLog(ev.AccountID).Warn().Err(err).Msg("publish QR event")
	}
}

// dropSession ends an account's session and removes its stored device (after
// unlinking it from WhatsApp if it is connected). Failures are logged: the
// status is already committed and the device store is only a leftover then.
func (s *Service) dropSession(ctx context.Context, id, jid string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var err error
	if jid != "" {
		err = s.sessions.Logout(ctx, id, jid)
	} else {
		err = s.sessions.Stop(ctx, id)
	}
	if err != nil {
		s.accountLog(id).Warn().Err(err).Str("jid", jid).Msg("could not fully remove the session")
	}
}

// stopAfter ends the account's timers and session once a change that takes
// it offline has been committed (not when the change was skipped or failed).
func (s *Service) stopAfter(ctx context.Context, id string, res modified, err error) error {
	if err == nil && !res.skipped {
		s.cancelTimers(id)
		s.stopSession(ctx, id)
	}
	return err
}

// stopSession ends an account's session, keeping its stored device.
func (s *Service) stopSession(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.sessions.Stop(ctx, id); err != nil {
		s.accountLog(id).Warn().Err(err).Msg("could not stop the session")
	}
}

// Timers: one per account and purpose, plus the periodic sweeps.

type timerKind string

const (
	timerActivation   timerKind = "activation"
	timerReconnect    timerKind = "reconnect"
	timerTimeoutSweep timerKind = "timeout-sweep"
	timerHealthSweep  timerKind = "health-sweep"
)

type timerKey struct {
	accountID string
	kind      timerKind
}

type timer struct{ stop func() bool }

// schedule runs fn with the service's context after d, replacing any timer
// with the same key. Nothing runs after Close.
func (s *Service) schedule(key timerKey, d time.Duration, fn func(ctx context.Context)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if old := s.timers[key]; old != nil {
		old.stop()
	}
	t := &timer{}
	s.timers[key] = t
	t.stop = s.opts.Clock.AfterFunc(d, func() {
		s.mu.Lock()
		if s.closed || s.timers[key] != t {
			s.mu.Unlock()
			return
		}
		delete(s.timers, key)
		s.wg.Add(1)
		s.mu.Unlock()
		defer s.wg.Done()
		fn(s.ctx)
	})
}

func (s *Service) cancelTimer(accountID string, kind timerKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := timerKey{accountID, kind}
	if t := s.timers[key]; t != nil {
		t.stop()
		delete(s.timers, key)
	}
}

func (s *Service) cancelTimers(accountID string) {
	s.cancelTimer(accountID, timerActivation)
	s.cancelTimer(accountID, timerReconnect)
}

// every runs fn every interval until Close.
func (s *Service) every(kind timerKind, interval time.Duration, fn func(ctx context.Context)) {
	var tick func(ctx context.Context)
	tick = func(ctx context.Context) {
		fn(ctx)
		s.schedule(timerKey{kind: kind}, interval, tick)
	}
	s.schedule(timerKey{kind: kind}, interval, tick)
}

// backoff is the delay before reconnect attempt n (1-based): exponential from
// the base delay, capped, with "equal jitter" (half fixed, half random) so
// many accounts dropped together do not reconnect in lockstep.
func (s *Service) backoff(n int) time.Duration {
	d := s.opts.ReconnectBaseDelay
	for i := 1; i < n && d < s.opts.ReconnectMaxDelay; i++ {
		d *= 2
	}
	d = min(d, s.opts.ReconnectMaxDelay)
	return d/2 + time.Duration(s.opts.Jitter()*float64(d/2))
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
