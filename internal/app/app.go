// Package app assembles a wagraph server from its configuration: database,
// event bus, services, GraphQL and HTTP routes. server.go runs one; tests
// start several in one process.
package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"wagraph/graph"
	"wagraph/internal/account"
	"wagraph/internal/auth"
	"wagraph/internal/bus"
	"wagraph/internal/config"
	"wagraph/internal/contact"
	"wagraph/internal/jobs"
	"wagraph/internal/message"
	"wagraph/internal/observe"
	"wagraph/internal/pubsub"
	"wagraph/internal/ratelimit"
	"wagraph/internal/sending"
	"wagraph/internal/simserver"
	"wagraph/internal/store"
	"wagraph/internal/supervisor"
	"wagraph/internal/wasim"
	"wagraph/internal/whatsapp"
)

// Version is wagraph's version, reported by health.
var Version = "0.1.0-dev"

// App is one running wagraph instance's parts.
type App struct {
	Config config.Config
	Log    zerolog.Logger
	DB     *store.DB
	Redis  *redis.Client // nil without REDIS_URL
	Bus    pubsub.Bus
	Auth   *auth.Service
	// Accounts is the lifecycle domain; Supervisor runs the live sessions.
	Accounts   *account.Service
	Supervisor *supervisor.Supervisor
	// Contacts is the contact base: contacts, personas, import and export.
	Contacts *contact.Service
	// Imports runs job-backed CSV imports (importContactsCsv).
	Imports *contact.Importer
	// Groups holds the accounts' groups and scrapes them (River jobs).
	Groups *contact.GroupService
	// Limiter decides sends per account: in-process, or on Redis (shared by
	// every instance) when REDIS_URL is set. Sending knows each account's
	// limits (defaults, overrides, warm-up).
	Limiter ratelimit.Limiter
	Sending *sending.Policy
	// Messages sends messages: sendMessage, the send queue, batches.
	Messages *message.Service
	// sessions is the live WhatsApp session manager (the supervisor's);
	// inbound hands it the message service's known-chats record.
	sessions *whatsapp.Manager
	inbound  *inboundRelay
	// Simulator is the in-process WhatsApp simulator (simulate mode only).
	Simulator *wasim.Simulator
	Metrics   *observe.Metrics
	Health    *observe.Health
	// Handler serves every route.
	Handler http.Handler

	// SharedSimulator is the simulator process SIMULATE=<address> names.
	SharedSimulator *simserver.Client

	// redisBus is the Redis bus under Bus's background retries (nil
	// without REDIS_URL): readiness pings it, and revocations are announced
	// on it directly (see announceBus).
	redisBus *pubsub.Redis

	// Jobs runs background work on River; domain packages register their
	// workers and periodic jobs in JobRegistry before it starts (in New).
	Jobs        *jobs.Service
	JobRegistry *jobs.Registry

	closers []func() error
}

// Option adds to what New builds.
type Option func(*options)

type options struct {
	registerJobs []func(*jobs.Registry)
}

// WithJobs registers workers or periodic jobs before the jobs service
// starts, e.g. a test's own job kind.
func WithJobs(register func(*jobs.Registry)) Option {
	return func(o *options) { o.registerJobs = append(o.registerJobs, register) }
}

// New opens the database (migrating it when configured), connects Redis when
// configured, and builds the services and routes. Close releases them.
func New(ctx context.Context, cfg config.Config, log zerolog.Logger, opts ...Option) (_ *App, err error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	a := &App{Config: cfg, Log: log, Metrics: observe.NewMetrics()}
	defer func() { // not on the named result: a failed New returns nil
		if err != nil {
			a.Close()
		}
	}()
	if err := a.openDatabase(ctx); err != nil {
		return nil, err
	}
	if err := a.openBus(ctx); err != nil {
		return nil, err
	}
	if err := a.newJobs(); err != nil {
		return nil, err
	}
	a.Auth = auth.NewService(a.DB.DB, cfg.AuthDisabled, auth.WithRevocationFeed(revocationFeed{a.announceBus()}))
	if err := a.guardAuth(); err != nil {
		return nil, err
	}
	if err := a.listenRevocations(ctx); err != nil {
		return nil, err
	}
	a.Health = observe.NewHealth(Version, 3*time.Second, a.checks()...)
	a.Health.LogChanges(a.Log)
	a.Metrics.RegisterHealth(a.Health)
	if cfg.Simulate {
		if err := a.startSimulator(ctx); err != nil {
			return nil, err
		}
	}
	if cfg.SimulatorURL != "" {
		if err := a.connectSimulator(ctx); err != nil {
			return nil, err
		}
	}
	// Sending before the accounts: ban signals from the sessions pause it.
	if err := a.newSending(); err != nil {
		return nil, err
	}
	if err := contact.ValidRegion(cfg.ContactDefaultRegion); err != nil {
		return nil, fmt.Errorf("CONTACT_DEFAULT_REGION: %w", err)
	}
	// The contacts gauge counts through the service, built right after.
	contactMetrics := a.Metrics.Contacts(func(ctx context.Context) (int, error) { return a.Contacts.Count(ctx) })
	a.Contacts = contact.New(a.DB, contact.Options{Logger: a.Log, DefaultRegion: cfg.ContactDefaultRegion, Metrics: contactMetrics})
	// Groups before the sessions (they report LID mappings to it) and
	// before the jobs start (its scrape worker).
	a.newGroups()
	if err := a.startAccounts(ctx); err != nil {
		return nil, err
	}
	// Job-backed imports: built before the jobs start, which run them.
	a.Imports = contact.NewImporter(a.Contacts, a.Jobs, a.Bus, contact.ImportOptions{MaxUploadBytes: cfg.ImportUploadMaxBytes, Metrics: a.Metrics.Imports()})
	a.Imports.RegisterJobs(a.JobRegistry)
	// The send queue's worker is registered before the jobs start.
	a.newMessages()
	a.connectGroups()
	for _, register := range o.registerJobs {
		register(a.JobRegistry)
	}
	if err := a.startJobs(ctx); err != nil {
		return nil, err
	}
	if cfg.Simulate {
		a.startDemoPhone()
	}
	resolver := &graph.Resolver{Auth: a.Auth, Readiness: a.Health, AccountService: a.Accounts, Supervisor: a.Supervisor, ContactService: a.Contacts, Importer: a.Imports, JobService: a.Jobs, Sending: a.Sending, MessageService: a.Messages}
	resolver.GroupService = a.Groups
	a.Handler = a.routes(resolver)
	return a, nil
}

// newSending builds the send limiter and the accounts' limits policy from
// the RATE_LIMIT_* settings.
func (a *App) newSending() error {
	if a.Redis != nil {
		a.Limiter = ratelimit.NewRedis(a.Redis)
	} else {
		a.Limiter = ratelimit.NewMemory()
	}
	c := a.Config
	defaults := sending.Defaults{
		Limits: []ratelimit.Limit{
			{Max: c.RateLimitPerMinute, Window: time.Minute},
			{Max: c.RateLimitPerHour, Window: time.Hour},
			{Max: c.RateLimitPerDay, Window: sending.Day},
		},
		NewChatsPerDay: c.RateLimitNewChatsPerDay,
		Warmup:         c.RateLimitWarmup,
	}
	burst := c.RateLimitFailureBurst
	if burst == 0 {
		burst = -1 // off
	}
	// The paused-accounts gauge counts through the policy, built right after.
	metrics := a.Metrics.Sending(func(ctx context.Context) (map[sending.PauseReason]int, error) { return a.Sending.PausedCounts(ctx) })
	p, err := sending.New(a.DB, a.Limiter, defaults, sending.Options{
		Bus: a.Bus, Logger: a.Log, Metrics: metrics,
		Pauses: sending.PauseOptions{Recheck: c.RateLimitPauseRecheck, Refused463: c.RateLimitPause463,
			FailureBurst: burst, FailureWindow: c.RateLimitFailureWindow, FailurePause: c.RateLimitFailurePause},
	})
	if err != nil {
		return fmt.Errorf("RATE_LIMIT_*: %w", err)
	}
	p.RegisterJobs(a.JobRegistry, c.SendPauseSweepInterval)
	a.closers = append(a.closers, p.Close)
	a.Sending = p
	return nil
}

func (a *App) openDatabase(ctx context.Context) error {
	db, err := store.Open(ctx, a.Config.DatabaseURL, store.Options{Debug: a.Config.DBDebug, Logger: a.Log})
	if err != nil {
		return err
	}
	a.DB = db
	a.closers = append(a.closers, db.Close)
	if a.Config.MigrateOnStart {
		applied, err := db.Migrate(ctx)
		if err != nil {
			return err
		}
		if len(applied) > 0 {
			a.Log.Info().Strs("migrations", applied).Msg("database migrated")
		}
	}
	return db.CheckSchema(ctx)
}

func (a *App) openBus(ctx context.Context) error {
	opts := pubsub.Options{BufferSize: a.Config.PubSubBuffer, PublishTimeout: a.Config.PubSubPublishTimeout}
	if a.Config.RedisURL == "" {
		bus := pubsub.NewMemory(opts)
		a.Bus = bus
		a.closers = append(a.closers, bus.Close)
		a.Metrics.RegisterBus(bus.Stats)
		return nil
	}
	ropts, err := redis.ParseURL(a.Config.RedisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	// Without it, go-redis bounds commands by its ReadTimeout only, and the
	// bus's publish deadline would not reach the socket.
	ropts.ContextTimeoutEnabled = true
	a.Redis = redis.NewClient(ropts)
	a.closers = append(a.closers, a.Redis.Close)
	// A Redis that is down at start does not stop the server: the bus
	// connects when Redis comes, /readyz reports it DOWN until then, and
	// the database stays the source of truth. Refusing to start would turn
	// a Redis outage into an outage of every instance restarted during it.
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.Redis.Ping(pingCtx).Err(); err != nil {
		a.Log.Warn().Err(err).Str("redis", config.Redact(a.Config.RedisURL)).
			Msg("Redis is unreachable; starting anyway: /readyz reports redis DOWN, live updates from other instances and subscriptions wait until it is back")
	}
	rbus := pubsub.NewRedis(a.Redis, opts)
	a.redisBus = rbus
	// A publish that fails (Redis away for a moment) is retried rather than
	// lost: the change it announces is already committed.
	retrying := pubsub.NewRetrying(rbus, pubsub.RetryOptions{Logger: a.Log.With().Str("component", "pubsub").Logger()})
	// The bus closes before the client it uses (closers run in reverse).
	a.Bus = retrying
	a.closers = append(a.closers, retrying.Close)
	a.Metrics.RegisterBus(retrying.Stats)
	return nil
}

// startAccounts opens whatsmeow's device store in the same database, builds
// the account service and the supervisor with its session manager, and
// restores the accounts that should be connected; the supervisor's sweeps
// are registered as periodic jobs. The supervisor's Close
// records which sessions were live, then closes the session manager.
func (a *App) startAccounts(ctx context.Context) error {
	container, err := whatsapp.OpenDeviceStore(ctx, a.DB, a.Log)
	if err != nil {
		return err
	}
	a.Accounts = account.New(a.DB, a.Bus, account.Options{
		Logger:               a.Log,
		Metrics:              a.Metrics.Accounts(),
		ActivationTimeout:    a.Config.ActivationTimeout,
		SessionIdleLimit:     a.Config.SessionIdleExpiry,
		MaxReconnectAttempts: a.Config.ReconnectMaxTries,
	})
	a.inbound = &inboundRelay{}
	wopts := whatsapp.Options{Logger: a.Log, Inbound: a.inbound, Pauses: a.Sending, LIDsLearned: a.lidsLearned,
		LIDMap: whatsapp.NewLIDMap(a.DB)}
	if a.Simulator != nil {
		wopts.Simulator = a.Simulator
	}
	if a.SharedSimulator != nil {
		wopts.Simulator = a.SharedSimulator
	}
	leases, err := a.leaseOptions(ctx)
	if err != nil {
		return err
	}
	a.Supervisor = supervisor.New(a.Accounts, func(sink supervisor.EventSink) supervisor.Sessions {
		a.sessions = whatsapp.NewManager(container, sink, wopts)
		return a.sessions
	}, supervisor.Options{
		Logger:               a.Log,
		RestoreConcurrency:   a.Config.RestoreConcurrency,
		TimeoutCheckInterval: a.Config.TimeoutSweepInterval,
		PhoneSweepInterval:   a.Config.PhoneSweepInterval,
		Leases:               leases,
	})
	a.Metrics.AccountStatuses(a.Accounts.CountByStatus)
	// The sweeps are River periodic jobs, run by the elected leader.
	a.Supervisor.RegisterJobs(a.JobRegistry)
	if err := a.Supervisor.Start(ctx); err != nil {
		_ = a.Supervisor.Close()
		return err
	}
	a.closers = append(a.closers, a.Supervisor.Close)
	return nil
}

// newJobs builds the River client on the migrated database. Services may
// take a.Jobs to enqueue, and register workers in a.JobRegistry, until
// startJobs.
func (a *App) newJobs() error {
	a.JobRegistry = jobs.NewRegistry()
	svc, err := jobs.New(a.DB, a.JobRegistry, jobs.Options{
		Logger:      a.Log,
		Workers:     a.Config.JobWorkers,
		Retention:   a.Config.JobRetention,
		StopTimeout: a.Config.ShutdownTimeout,
		RescueAfter: a.Config.JobRescueAfter,
	})
	if err != nil {
		return err
	}
	a.Jobs = svc
	a.Metrics.RegisterJobs(a.jobCounts, jobs.States())
	return nil
}

// startJobs starts working jobs once every service is built. Its closer
// comes last, so it runs first: running jobs finish (or are released)
// before the services and the database they use close.
func (a *App) startJobs(ctx context.Context) error {
	if err := a.Jobs.Start(ctx); err != nil {
		return err
	}
	a.closers = append(a.closers, a.Jobs.Close)
	return nil
}

func (a *App) jobCounts(ctx context.Context) ([]observe.JobCount, error) {
	counts, err := a.Jobs.Counts(ctx)
	out := make([]observe.JobCount, 0, len(counts))
	for _, c := range counts {
		out = append(out, observe.JobCount(c))
	}
	return out, err
}

// checks are what /readyz and the health query report.
func (a *App) checks() []observe.Check {
	cs := []observe.Check{
		{Name: "database", Check: a.DB.Ping},
		{Name: "migrations", Check: a.DB.CheckSchema},
	}
	if a.redisBus != nil {
		// Both ways: commands (publish) and the subscription connection.
		cs = append(cs, observe.Check{Name: "redis", Check: a.redisBus.Ping})
	}
	// The bus itself: a message published comes back to a subscriber (over
	// Redis, through the shared subscription connection).
	cs = append(cs, observe.Check{Name: "bus", Check: func(ctx context.Context) error { return bus.RoundTrip(ctx, a.Bus) }})
	return cs
}

// guardAuth makes repeated failed authentications from one client address
// wait (AUTH_FREE_FAILURES, AUTH_BACKOFF_MAX; TRUSTED_PROXIES says where the
// address is read behind a proxy).
func (a *App) guardAuth() error {
	clients, err := auth.ParseTrustedProxies(a.Config.TrustedProxies)
	if err != nil {
		return fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}
	a.Auth.UseGuard(auth.NewGuard(auth.GuardOptions{
		FreeFailures: a.Config.AuthFreeFailures,
		MaxDelay:     a.Config.AuthBackoffMax,
		Log:          a.Log,
	}), clients)
	return nil
}

// Close releases everything New opened, last opened first.
func (a *App) Close() {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	a.closers = nil
	if err := errors.Join(errs...); err != nil {
		a.Log.Warn().Err(err).Msg("closing resources")
	}
}
