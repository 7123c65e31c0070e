package supervisor

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"wagraph/internal/account"
	"wagraph/internal/apperr"
	"wagraph/internal/store"
)

// Several instances on one database. Each account with a live session is
// run by exactly one instance: the one holding its lease (account_leases:
// owner, epoch, expiry). The owner renews all its leases in one statement
// every RenewInterval; a lease not renewed for TTL has lapsed and another
// instance takes it over with the next epoch. Session-state writes carry
// the epoch (account.WithEpoch, SessionRef.Epoch) and are refused once it is
// stale, and an instance that finds out it lost a lease stops the session
// there, without logging the device out. Each instance heartbeats in the
// instances table; new accounts go to the least-loaded live instance, and
// an instance above its fair share hands a few accounts per interval over,
// so one that joins gets its share without flapping. Close drains: it
// stops the sessions and releases the leases, for the others to take at
// once. Commands that need the live client run on the owner (route.go).
// Without LeaseOptions (one instance) none of this exists.

// LeaseOptions make the supervisor one of several instances sharing the
// database.
type LeaseOptions struct {
	// DB is the shared database holding the leases.
	DB *store.DB
	// InstanceID names this instance; NewInstanceID when empty. Keep it
	// stable across restarts (a pod name) to take the leases of the
	// previous process back at once instead of after TTL.
	InstanceID string
	// TTL is how long a lease lasts without renewal, and how long an
	// instance counts as live after its last heartbeat. Default 15s.
	TTL time.Duration
	// RenewInterval is how often leases are renewed, lapsed ones taken
	// over and the load balanced. Default TTL/5.
	RenewInterval time.Duration
	// RebalanceBatch is how many accounts an instance above its fair share
	// hands over per interval. Default 10.
	RebalanceBatch int
	// Router carries commands to the owner of an account (required).
	Router Router
	// RouteTimeout bounds the wait for the owner's answer. Default 20s.
	RouteTimeout time.Duration
	// Metrics defaults to NopLeaseMetrics.
	Metrics LeaseMetrics
}

func (o LeaseOptions) withDefaults() LeaseOptions {
	if o.InstanceID == "" {
		o.InstanceID = NewInstanceID()
	}
	if o.TTL <= 0 {
		o.TTL = 15 * time.Second
	}
	if o.RenewInterval <= 0 {
		o.RenewInterval = o.TTL / 5
	}
	if o.RebalanceBatch <= 0 {
		o.RebalanceBatch = 10
	}
	if o.RouteTimeout <= 0 {
		o.RouteTimeout = 20 * time.Second
	}
	if o.Metrics == nil {
		o.Metrics = NopLeaseMetrics{}
	}
	return o
}

// LeaseMetrics counts ownership and routing. Labels stay bounded: kinds
// are the routed commands, outcomes a fixed few.
type LeaseMetrics interface {
	// Owned reports how many leases this instance holds now.
	Owned(n int)
	// TakenOver counts a lease this instance took from no owner, by why it
	// was free: "lapsed" (its owner stopped renewing), "released" (handed
	// over by a drain or a rebalance), "unowned" (never owned).
	TakenOver(reason string)
	// Routed counts a command sent to its owner on another instance, by
	// kind and outcome ("ok", "error": the owner answered with an error,
	// "timeout", "failed": it could not be sent), with its latency.
	Routed(kind, outcome string, d time.Duration)
}

// NopLeaseMetrics counts nothing.
type NopLeaseMetrics struct{}

func (NopLeaseMetrics) Owned(int)                            {}
func (NopLeaseMetrics) TakenOver(string)                     {}
func (NopLeaseMetrics) Routed(string, string, time.Duration) {}

// NewInstanceID is hostname-pid-random: unique per process.
func NewInstanceID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "wagraph"
	}
	var b [3]byte
	_, _ = crand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// leases is this instance's side of ownership.
type leases struct {
	opts    LeaseOptions
	repo    leaseRepo
	self    string
	started time.Time

	mu       sync.Mutex
	held     map[string]held
	gen      uint64 // grows with every renewal
	renewed  time.Time
	draining bool
	// takeovers counts connects of taken-over accounts still running.
	takeovers inflight
	// claimMu makes claim passes (renewals, notices, lapses) one at a time.
	claimMu sync.Mutex
}

type held struct {
	epoch int64
	gen   uint64 // the renewal generation it was taken in
}

func newLeases(o LeaseOptions, now time.Time) *leases {
	o = o.withDefaults()
	return &leases{opts: o, repo: leaseRepo{db: o.DB}, self: o.InstanceID, started: now, renewed: now, held: map[string]held{}}
}

// notOwnerError says a command reached an instance that does not hold the
// account's lease (it moved meanwhile); the caller looks the owner up again.
type notOwnerError struct{ accountID, owner string }

func (e *notOwnerError) Error() string {
	return fmt.Sprintf("supervisor: account %s is run by instance %q, not here", e.accountID, e.owner)
}

// InstanceID is this instance's id; empty with one instance (no leases).
func (s *Supervisor) InstanceID() string {
	if s.lease == nil {
		return ""
	}
	return s.lease.self
}

// Owned lists the accounts whose lease this instance holds (nil without
// leases).
func (s *Supervisor) Owned() []string {
	if s.lease == nil {
		return nil
	}
	l := s.lease
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.held))
	for id := range l.held {
		out = append(out, id)
	}
	return out
}

// heldEpoch is the epoch this instance holds the account's lease with.
func (l *leases) heldEpoch(id string) (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.held[id]
	return h.epoch, ok
}

func (l *leases) hold(id string, epoch int64) {
	l.mu.Lock()
	l.held[id] = held{epoch: epoch, gen: l.gen}
	n := len(l.held)
	l.mu.Unlock()
	l.opts.Metrics.Owned(n)
}

// drop forgets the lease of id if it is still held with epoch (any epoch
// when 0), and reports whether it did.
func (l *leases) drop(id string, epoch int64) bool {
	l.mu.Lock()
	h, ok := l.held[id]
	if ok && (epoch == 0 || h.epoch == epoch) {
		delete(l.held, id)
	} else {
		ok = false
	}
	n := len(l.held)
	l.mu.Unlock()
	l.opts.Metrics.Owned(n)
	return ok
}

func (s *Supervisor) expiry(now time.Time) time.Time { return now.Add(s.lease.opts.TTL) }

// startLeases registers the instance, takes back what a previous process
// with the same id held, and claims its share of the unheld accounts; it
// returns the accounts to restore.
func (s *Supervisor) startLeases(ctx context.Context) ([]string, error) {
	l := s.lease
	now := s.opts.Clock.Now()
	if err := l.repo.heartbeat(ctx, l.self, l.started, now, false); err != nil {
		return nil, err
	}
	mine, err := l.repo.rebirth(ctx, l.self, now, s.expiry(now))
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(mine))
	for _, h := range mine {
		l.hold(h.AccountID, h.Epoch)
		ids = append(ids, h.AccountID)
	}
	// Unheld leases wait for the first renewal (claimPass), one interval
	// away: instances started together (a deploy of all, a restart after
	// an outage) have all registered by then and each claims its share,
	// where the first to start would otherwise claim every account.
	s.log.Info().Str("instance", l.self).Int("own", len(mine)).Msg("leases taken at start; unheld ones are claimed at the first renewal")
	s.listenForReleases()
	return ids, nil
}

// leaseTick is one interval's work: heartbeat, renew (and notice leases
// lost), take over unheld accounts up to the fair share, hand over above it.
func (s *Supervisor) leaseTick(ctx context.Context) {
	if err := s.renewLeases(ctx); err != nil {
		if ctx.Err() != nil {
			return
		}
		s.log.Error().Err(err).Msg("lease renewal failed")
		// Before the leases can lapse and be taken over, stop the
		// sessions here: two instances must not run one account.
		l := s.lease
		l.mu.Lock()
		since := l.renewed
		var ids []string
		if s.opts.Clock.Now().Sub(since) >= l.opts.TTL-l.opts.RenewInterval {
			for id := range l.held {
				ids = append(ids, id)
			}
		}
		l.mu.Unlock()
		for _, id := range ids {
			s.loseLease(id, 0, "leases could not be renewed since "+since.Format(time.RFC3339))
		}
		return
	}
	s.claimPass(ctx)
	if err := s.rebalance(ctx); err != nil && ctx.Err() == nil {
		s.log.Error().Err(err).Msg("lease rebalance failed")
	}
}

// renewLeases heartbeats and extends every lease held in one statement;
// a lease held locally that the statement did not extend was taken over:
// its session stops here.
func (s *Supervisor) renewLeases(ctx context.Context) error {
	l := s.lease
	now := s.opts.Clock.Now()
	l.mu.Lock()
	l.gen++
	gen := l.gen
	draining := l.draining
	l.mu.Unlock()
	if err := l.repo.heartbeat(ctx, l.self, l.started, now, draining); err != nil {
		return err
	}
	renewed, err := l.repo.renew(ctx, l.self, s.expiry(now))
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.renewed = now
	l.mu.Unlock()
	still := make(map[string]int64, len(renewed))
	for _, h := range renewed {
		still[h.AccountID] = h.Epoch
	}
	var lost []string
	l.mu.Lock()
	for id, h := range l.held {
		// Leases taken during this renewal may not be in its result.
		if e, ok := still[id]; h.gen < gen && (!ok || e != h.epoch) {
			lost = append(lost, id)
		}
	}
	l.mu.Unlock()
	for _, id := range lost {
		s.loseLease(id, 0, "taken over by another instance")
	}
	return nil
}

// loseLease forgets a lease this instance no longer holds (held with
// epoch, or any when 0) and stops the account's session here, keeping its
// device: the new owner connects it.
func (s *Supervisor) loseLease(id string, epoch int64, why string) {
	if !s.lease.drop(id, epoch) {
		return
	}
	s.accountLog(id).Warn().Str("why", why).Msg("lease lost; stopping the session here")
	s.cancelTimers(id)
	// Not in the caller's goroutine: it may be the session's own.
	s.spawn(func(ctx context.Context) { s.stopSession(ctx, id) })
}

// fenced handles a write refused as stale (account.ErrStaleEpoch) for the
// session ref: the lease is gone, so is the session here.
func (s *Supervisor) fenced(ref account.SessionRef, err error) bool {
	if s.lease == nil || !errors.Is(err, account.ErrStaleEpoch) {
		return false
	}
	s.loseLease(ref.AccountID, ref.Epoch, "a write was refused: the lease epoch is stale")
	return true
}

// fairShare reads the live instances and the load: the number of accounts
// each should run (rounded up), how many this one runs, and how many are
// unheld.
func (s *Supervisor) fairShare(ctx context.Context, now time.Time) (target, owned, unheld int, err error) {
	l := s.lease
	live, err := l.repo.live(ctx, now.Add(-l.opts.TTL), now.Add(-10*l.opts.TTL))
	if err != nil {
		return 0, 0, 0, err
	}
	n := len(live)
	found := false
	for _, id := range live {
		found = found || id == l.self
	}
	if !found {
		n++
	}
	load, err := l.repo.load(ctx, now)
	if err != nil {
		return 0, 0, 0, err
	}
	total := 0
	for _, c := range load {
		total += c
	}
	return (total + n - 1) / n, load[l.self], load[""], nil
}

// claimShare takes over unheld leases of accounts with a live session:
// up to this instance's fair share, and besides its part of those unheld
// for over two intervals (so none is left behind when the shares are
// uneven). It returns the accounts it took.
func (s *Supervisor) claimShare(ctx context.Context) ([]string, error) {
	l := s.lease
	l.mu.Lock()
	draining := l.draining
	l.mu.Unlock()
	if draining {
		return nil, nil
	}
	if err := l.repo.ensureRows(ctx); err != nil {
		return nil, err
	}
	now := s.opts.Clock.Now()
	target, owned, unheld, err := s.fairShare(ctx, now)
	if err != nil || unheld == 0 {
		return nil, err
	}
	cands, err := l.repo.claimables(ctx, now, unheld)
	if err != nil {
		return nil, err
	}
	live, _ := l.repo.live(ctx, now.Add(-l.opts.TTL), now.Add(-10*l.opts.TTL))
	n := max(len(live), 1)
	staleBefore := ms(now.Add(-2 * l.opts.RenewInterval))
	stale := 0
	for _, c := range cands {
		if c.ExpiresAt <= staleBefore {
			stale++
		}
	}
	take := min(len(cands), max(target-owned, (stale+n-1)/n))
	// Stale ones first (they are sorted by expiry), in random order among
	// themselves and the rest, so instances claiming at once collide less.
	rand.Shuffle(stale, func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	rest := cands[stale:]
	rand.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	var got []string
	for _, c := range cands {
		if len(got) >= take || ctx.Err() != nil {
			break
		}
		won, err := l.repo.claim(ctx, c.AccountID, l.self, c.Epoch, now, s.expiry(now))
		if err != nil {
			return got, err
		}
		if !won {
			continue
		}
		l.hold(c.AccountID, c.Epoch+1)
		got = append(got, c.AccountID)
		switch {
		case c.Owner.Valid:
			l.opts.Metrics.TakenOver("lapsed")
		case c.Epoch == 0:
			l.opts.Metrics.TakenOver("unowned")
		default:
			l.opts.Metrics.TakenOver("released")
		}
	}
	if len(got) > 0 {
		s.log.Info().Int("accounts", len(got)).Int("fair_share", target).Msg("leases taken over")
	}
	return got, nil
}

// restoreTaken restores accounts just taken over, as a start does, and
// connects them in the background so renewals go on meanwhile.
func (s *Supervisor) restoreTaken(ctx context.Context, ids []string) {
	cands, err := s.accounts.RestoreCandidatesOf(ctx, ids)
	if err != nil {
		s.log.Error().Err(err).Msg("restore taken-over accounts")
		return
	}
	jobs := s.restoreCandidates(ctx, cands)
	l := s.lease
	l.takeovers.Add(1)
	if !s.spawn(func(ctx context.Context) {
		defer l.takeovers.Done()
		s.connectRestored(ctx, jobs)
	}) {
		l.takeovers.Done()
	}
}

// rebalance hands over a few accounts when this instance runs more than
// its fair share plus a margin: their sessions stop here and their leases
// are released, for instances under their share to take. Activations in
// progress stay (moving them would cost their QR code).
func (s *Supervisor) rebalance(ctx context.Context) error {
	l := s.lease
	now := s.opts.Clock.Now()
	target, owned, _, err := s.fairShare(ctx, now)
	if err != nil {
		return err
	}
	slack := max(1, target/10)
	if owned <= target+slack {
		return nil
	}
	ids, err := l.repo.movable(ctx, l.self, min(l.opts.RebalanceBatch, owned-target))
	if err != nil {
		return err
	}
	s.handOver(ctx, ids)
	s.log.Info().Int("accounts", len(ids)).Int("owned", owned).Int("fair_share", target).Msg("handing accounts over to balance the load")
	return nil
}

// handOver stops the sessions of ids here (keeping their devices) and
// releases their leases; nil hands over every lease held.
func (s *Supervisor) handOver(ctx context.Context, ids []string) {
	l := s.lease
	all := ids == nil
	if all {
		l.mu.Lock()
		for id := range l.held {
			ids = append(ids, id)
		}
		l.mu.Unlock()
	}
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, id := range ids {
		l.drop(id, 0)
		s.cancelTimers(id)
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s.stopSession(ctx, id)
		}()
	}
	wg.Wait()
	rel := ids
	if all {
		rel = nil // and any the map missed
	}
	if _, err := l.repo.release(ctx, l.self, rel, s.opts.Clock.Now()); err != nil {
		s.log.Error().Err(err).Msg("release leases")
		return
	}
	s.notifyReleased(ctx)
}

// drain hands every lease over and leaves the instances table: Close does
// it, so a rolling restart moves the sessions without a QR code.
func (s *Supervisor) drain(ctx context.Context) {
	l := s.lease
	l.mu.Lock()
	l.draining = true
	n := len(l.held)
	l.mu.Unlock()
	now := s.opts.Clock.Now()
	if err := l.repo.heartbeat(ctx, l.self, l.started, now, true); err != nil {
		s.log.Warn().Err(err).Msg("mark the instance draining")
	}
	s.handOver(ctx, nil)
	if err := l.repo.forget(ctx, l.self); err != nil {
		s.log.Warn().Err(err).Msg("remove the instance")
	}
	s.log.Info().Int("accounts", n).Msg("drained: leases released for the other instances")
}

// ownerFor names the instance that runs the account: its lease's owner
// while valid, else the least-loaded live instance (placement).
func (s *Supervisor) ownerFor(ctx context.Context, id string) (string, error) {
	l := s.lease
	now := s.opts.Clock.Now()
	row, err := l.repo.get(ctx, id)
	if err != nil {
		return "", err
	}
	if row != nil && row.Owner.Valid && row.ExpiresAt > ms(now) {
		return row.Owner.String, nil
	}
	if row == nil {
		// A lease is made only for an existing account; a missing one
		// gets the same NOT_FOUND as with one instance.
		if _, err := s.accounts.Get(ctx, id); err != nil {
			return "", err
		}
	}
	live, err := l.repo.live(ctx, now.Add(-l.opts.TTL), now.Add(-10*l.opts.TTL))
	if err != nil {
		return "", err
	}
	load, err := l.repo.load(ctx, now)
	if err != nil {
		return "", err
	}
	best, bestLoad := "", 0
	for _, inst := range live {
		if c := load[inst]; best == "" || c < bestLoad || (c == bestLoad && inst == l.self) {
			best, bestLoad = inst, c
		}
	}
	if best == "" {
		return l.self, nil
	}
	return best, nil
}

// acquire makes sure this instance holds the account's lease, taking it
// when nobody holds it, and returns its epoch; a lease held elsewhere is a
// notOwnerError.
func (s *Supervisor) acquire(ctx context.Context, id string) (int64, error) {
	l := s.lease
	l.mu.Lock()
	draining := l.draining
	l.mu.Unlock()
	if draining {
		return 0, apperr.Newf(apperr.Unavailable, "instance %s is shutting down and hands its accounts over", l.self).
			WithSuggestion("Try again in a few seconds; another instance takes the account over.")
	}
	if e, ok := l.heldEpoch(id); ok {
		return e, nil
	}
	now := s.opts.Clock.Now()
	created, err := l.repo.create(ctx, id, l.self, now, s.expiry(now))
	if err != nil {
		return 0, err
	}
	if created {
		l.hold(id, 1)
		return 1, nil
	}
	row, err := l.repo.get(ctx, id)
	if err != nil {
		return 0, err
	}
	if row == nil { // deleted meanwhile
		return 0, &notOwnerError{accountID: id}
	}
	valid := row.Owner.Valid && row.ExpiresAt > ms(now)
	switch {
	case valid && row.Owner.String == l.self:
		l.hold(id, row.Epoch)
		return row.Epoch, nil
	case valid:
		return 0, &notOwnerError{accountID: id, owner: row.Owner.String}
	}
	won, err := l.repo.claim(ctx, id, l.self, row.Epoch, now, s.expiry(now))
	if err != nil {
		return 0, err
	}
	if !won {
		return 0, &notOwnerError{accountID: id}
	}
	if row.Owner.Valid {
		l.opts.Metrics.TakenOver("lapsed")
	}
	l.hold(id, row.Epoch+1)
	return row.Epoch + 1, nil
}
