// Package supervisor is the runtime of the accounts this instance runs: it
// owns their live sessions (through the Sessions port, implemented by
// internal/whatsapp), receives the sessions' events, and keeps the accounts
// going: restore on start, reconnect with backoff, ban expiry, activation
// timeouts, and the sweeps (run as River periodic jobs, RegisterJobs). What
// an event or a command means for an account is decided by
// internal/account, which returns an account.Step;
// the supervisor carries the step out (stops or starts sessions, arms or
// cancels timers). It is the only place with timers and goroutines of the
// account lifecycle.
package supervisor

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/account"
)

// Options tune the Supervisor. Zero fields take the defaults below.
type Options struct {
	Logger zerolog.Logger
	// Clock defaults to the system clock; tests pass a fake one.
	Clock Clock
	// TimeoutCheckInterval is the period of the sweep_timeouts job, which
	// checks stored activation deadlines (a backstop to the in-memory
	// timers) and ban expiries. Default 15s.
	TimeoutCheckInterval time.Duration
	// PhoneSweepInterval is the period of the sweep_phone_numbers job, which
	// repairs linked accounts without a phone number. Default 5m.
	PhoneSweepInterval time.Duration
	// ActivityInterval is how often this instance records the activity of
	// its connected sessions. Default 5m.
	ActivityInterval time.Duration
	// ReconnectBaseDelay and ReconnectMaxDelay bound the jittered exponential
	// backoff between reconnects. Defaults 2s and 5m.
	ReconnectBaseDelay time.Duration
	ReconnectMaxDelay  time.Duration
	// RestoreConcurrency bounds how many sessions connect at once on start.
	// Default 4.
	RestoreConcurrency int
	// Jitter returns a number in [0, 1) to spread reconnects; default math/rand.
	Jitter func() float64
	// SessionTimeout bounds each call that stops, unlinks or deletes a
	// session, and closing all sessions at Close. Default 30s.
	SessionTimeout time.Duration
	// Leases, when set, makes this supervisor one of several instances
	// sharing the database: it runs only the accounts whose lease it holds
	// and routes commands to the owner (lease.go). Nil: one instance runs
	// every account, as it always did.
	Leases *LeaseOptions
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.TimeoutCheckInterval, 15*time.Second)
	def(&o.PhoneSweepInterval, 5*time.Minute)
	def(&o.ActivityInterval, 5*time.Minute)
	def(&o.ReconnectBaseDelay, 2*time.Second)
	def(&o.ReconnectMaxDelay, 5*time.Minute)
	def(&o.SessionTimeout, 30*time.Second)
	if o.RestoreConcurrency <= 0 {
		o.RestoreConcurrency = 4
	}
	if o.Jitter == nil {
		o.Jitter = rand.Float64
	}
	return o
}

// Supervisor runs the live sessions of the accounts. Build it with New, call
// Start once the database is migrated, and Close at shutdown (it closes the
// sessions too).
type Supervisor struct {
	accounts *account.Service
	sessions Sessions
	opts     Options
	metrics  account.Metrics
	log      zerolog.Logger

	mu       sync.Mutex
	closed   bool
	ctx      context.Context // the supervisor's life, for timers and restore
	cancel   context.CancelFunc
	timers   map[timerKey]*timer
	wg       inflight // timers and restore running now
	restored chan struct{}

	lease    *leases                 // nil with one instance
	commands map[string]ownerCommand // by routed kind (route_commands.go)
}

var _ EventSink = (*Supervisor)(nil)

// New builds the supervisor of accounts' live sessions. newSessions builds
// the Sessions with the supervisor as their event sink, fixed for their
// life. It does nothing until Start.
func New(accounts *account.Service, newSessions func(EventSink) Sessions, opts Options) *Supervisor {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Supervisor{
		accounts: accounts,
		opts:     opts,
		metrics:  accounts.Options().Metrics,
		log:      opts.Logger.With().Str("component", "supervisor").Logger(),
		ctx:      ctx,
		cancel:   cancel,
		timers:   make(map[timerKey]*timer),
		restored: make(chan struct{}),
	}
	s.sessions = newSessions(s)
	s.commands = s.ownerCommands()
	if opts.Leases != nil {
		s.lease = newLeases(*opts.Leases, opts.Clock.Now())
		s.registerRoutes()
	}
	return s
}

// Sessions returns the live sessions the supervisor runs.
func (s *Supervisor) Sessions() Sessions { return s.sessions }

// Start restores the accounts that should be connected (validating their
// sessions first) and schedules recording their activity. Connecting the
// restored sessions continues in the background; Restored tells when it is
// done. The sweeps are not started here: they are River jobs (RegisterJobs).
func (s *Supervisor) Start(ctx context.Context) error {
	jobs, err := s.restore(ctx)
	if err != nil {
		close(s.restored)
		return err
	}
	if !s.spawn(func(ctx context.Context) {
		defer close(s.restored)
		s.connectRestored(ctx, jobs)
	}) {
		close(s.restored)
	}
	s.scheduleActivity()
	if s.lease != nil {
		s.every(timerLease, s.lease.opts.RenewInterval, s.leaseTick)
	}
	return nil
}

// Restored is closed when the sessions restored by Start have all been
// asked to connect.
func (s *Supervisor) Restored() <-chan struct{} { return s.restored }

// Close records the activity of live sessions, stops timers,
// waits for running ones, then closes the sessions, each step bounded by
// SessionTimeout.
func (s *Supervisor) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.SessionTimeout)
	defer cancel()
	if _, err := s.RecordActivity(ctx); err != nil {
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
	waited := make(chan struct{})
	go func() { // ends when the timers and restore have returned
		s.wg.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-ctx.Done():
		s.log.Warn().Msg("timers still running at close; closing the sessions anyway")
	}
	closeCtx, cancelClose := context.WithTimeout(context.Background(), s.opts.SessionTimeout)
	defer cancelClose()
	if s.lease != nil {
		s.drain(closeCtx)
	}
	return s.sessions.Close(closeCtx)
}

// spawn runs fn in a goroutine under the supervisor's context, unless it is
// closed; Close waits for it.
func (s *Supervisor) spawn(fn func(ctx context.Context)) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		fn(s.ctx)
	}()
	return true
}

func (s *Supervisor) accountLog(id string) *zerolog.Logger {
	l := s.log.With().Str("account_id", id).Logger()
	return &l
}

// apply carries out what a committed lifecycle step asks for.
func (s *Supervisor) apply(ctx context.Context, id string, st account.Step) {
	if st.Skipped {
		return
	}
	if st.CancelRetry {
		s.cancelTimer(id, timerReconnect)
	}
	if st.ActivationDone {
		s.cancelTimer(id, timerActivation)
	}
	switch {
	case st.DropSession:
		s.cancelTimers(id)
		s.dropSession(ctx, id, st.DropJID)
	case st.StopSession:
		s.cancelTimers(id)
		s.stopSession(ctx, id)
	}
	if !st.ActivationDeadline.IsZero() {
		s.scheduleActivationTimeout(st.ActivationRef, st.ActivationDeadline)
	}
	if st.Retry != nil {
		s.scheduleReconnect(*st.Retry, st.RetryAttempt)
	}
	if st.Connect != nil {
		s.connect(ctx, *st.Connect, st.ConnectJID)
	}
}

// dropSession ends an account's session and removes its stored device (after
// unlinking it from WhatsApp if it is connected). Failures are logged: the
// status is already committed and the device store is only a leftover then.
func (s *Supervisor) dropSession(ctx context.Context, id, jid string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.SessionTimeout)
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

// stopSession ends an account's session, keeping its stored device.
func (s *Supervisor) stopSession(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.SessionTimeout)
	defer cancel()
	if err := s.sessions.Stop(ctx, id); err != nil {
		s.accountLog(id).Warn().Err(err).Msg("could not stop the session")
	}
}
