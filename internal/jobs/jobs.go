// Package jobs runs wagraph's background work on River: it starts and stops
// the River client with the app, lets a service enqueue a job inside its own
// bun transaction (so the job exists exactly when the rows it works on do),
// and lets domain packages register their workers and periodic jobs. Workers
// live in their domain packages; this package knows no job kinds.
//
// River shares the app's database: on Postgres the same pgx pool as bun
// (riverdatabasesql), on SQLite the same modernc file and pool (riversqlite).
// Its tables are migrated with wagraph's own (internal/store).
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"wagraph/internal/store"
)

// Options tune the River client.
type Options struct {
	Logger zerolog.Logger
	// Workers is how many jobs this instance works at once (JOB_WORKERS).
	Workers int
	// Retention is how long finished jobs (completed, cancelled, discarded)
	// stay visible before River deletes them (JOB_RETENTION).
	Retention time.Duration
	// StopTimeout bounds Close: running jobs get most of it to finish, then
	// their contexts are cancelled and River releases them for a retry.
	StopTimeout time.Duration
	// RescueAfter is how long a job may stay running before River's leader
	// takes it for stuck (its process died, e.g. by kill -9) and makes it
	// available to run again (JOB_RESCUE_AFTER); 0 is River's default (1h).
	// Jobs time out after River's default of one minute, or after
	// RescueAfter when that is shorter, so a job still alive is not rescued.
	RescueAfter time.Duration
	// PollInterval is how often idle workers look for new jobs; 0 is River's
	// default (1s). Tests shorten it.
	PollInterval time.Duration
}

// Service is the app's River client and what operators and services ask of it.
type Service struct {
	db          *store.DB
	reg         *Registry
	client      *river.Client[*sql.Tx]
	log         zerolog.Logger
	stopTimeout time.Duration
	cancelStart context.CancelFunc
}

// New builds the River client for db. It can enqueue at once and works jobs
// after Start. Domain packages may register workers and periodic jobs in reg
// until Start, so a service can take the Service (to enqueue) and register
// its workers (which call the service) in either order.
func New(db *store.DB, reg *Registry, opts Options) (*Service, error) {
	if reg == nil {
		reg = NewRegistry()
	}
	log := opts.Logger.With().Str("component", "jobs").Logger()
	riverLog := log
	if riverLog.GetLevel() < zerolog.WarnLevel {
		riverLog = riverLog.Level(zerolog.WarnLevel) // River is chatty at info
	}
	stopTimeout := opts.StopTimeout
	if stopTimeout <= 0 {
		stopTimeout = 15 * time.Second
	}
	cfg := &river.Config{
		Logger:       slog.New(zerolog.NewSlogHandler(riverLog)),
		Workers:      reg.workers, // read by River when it fetches a job
		Queues:       map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: max(opts.Workers, 1)}},
		ErrorHandler: &errorLogger{log: log},
		// Running jobs get two thirds of the stop deadline to finish; then
		// their contexts are cancelled so they end and are retried later.
		SoftStopTimeout:   stopTimeout * 2 / 3,
		FetchPollInterval: opts.PollInterval,
		// A job left running by a dead process is found by River's leader
		// after this long and retried (with the job's attempt counted).
		RescueStuckJobsAfter: opts.RescueAfter,
	}
	if opts.PollInterval > 0 {
		cfg.FetchCooldown = min(opts.PollInterval, 100*time.Millisecond)
	}
	if opts.RescueAfter > 0 && opts.RescueAfter < river.JobTimeoutDefault {
		// River refuses to rescue sooner than jobs time out: a job past
		// RescueAfter is then over its deadline too, never alive and
		// rescued at once.
		cfg.JobTimeout = opts.RescueAfter
	}
	if opts.Retention > 0 {
		cfg.CompletedJobRetentionPeriod = opts.Retention
		cfg.CancelledJobRetentionPeriod = opts.Retention
		cfg.DiscardedJobRetentionPeriod = opts.Retention
	}
	client, err := river.NewClient(db.RiverDriver(), cfg)
	if err != nil {
		return nil, fmt.Errorf("jobs: build the River client: %w", err)
	}
	return &Service{db: db, reg: reg, client: client, log: log, stopTimeout: stopTimeout}, nil
}

// Start starts working jobs, and, on the instance River elects leader,
// inserting the periodic ones. Call it after the database is migrated.
// The client runs until Close, not until ctx ends: ctx only bounds starting.
// With no job kind registered it works nothing and says so.
func (s *Service) Start(ctx context.Context) error {
	kinds, queues := s.reg.seal()
	if len(kinds) == 0 {
		s.log.Info().Msg("no job kinds registered; this instance works no background jobs")
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(queues)) {
		if err := s.client.Queues().Add(name, river.QueueConfig{MaxWorkers: queues[name]}); err != nil {
			return fmt.Errorf("jobs: add queue %s: %w", name, err)
		}
	}
	s.client.PeriodicJobs().AddMany(s.reg.periodic)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if err := s.client.Start(runCtx); err != nil {
		cancel()
		return fmt.Errorf("jobs: start River: %w", err)
	}
	s.cancelStart = cancel
	s.log.Info().Strs("kinds", kinds).Int("periodic", len(s.reg.periodic)).Int("queues", 1+len(queues)).Msg("working background jobs")
	return nil
}

// Close stops working jobs: no new ones are fetched, running ones get until
// the stop deadline to finish (their contexts are cancelled after two thirds
// of it, and River releases them for a retry). Jobs still running at the
// deadline are abandoned; River rescues them later as stuck.
func (s *Service) Close() error {
	if s.cancelStart == nil {
		return nil // never started
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.stopTimeout)
	defer cancel()
	err := s.client.Stop(ctx)
	s.cancelStart()
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("jobs: jobs still running after %s; River retries them once they are found stuck: %w", s.stopTimeout, err)
	}
	return err
}

// Client is the underlying River client, for tests and for what this
// package does not wrap (e.g. Subscribe).
func (s *Service) Client() *river.Client[*sql.Tx] { return s.client }
