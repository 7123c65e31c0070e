package supervisor

import (
	"context"
	"time"

	"wagraph/internal/account"
)

// Timers: one per account and purpose, plus recording this instance's
// session activity. The sweeps are River jobs (sweepjobs.go).

type timerKind string

const (
	timerActivation timerKind = "activation"
	timerReconnect  timerKind = "reconnect"
	timerActivity   timerKind = "activity"
	timerLease      timerKind = "lease"
	timerClaim      timerKind = "claim"
)

type timerKey struct {
	accountID string
	kind      timerKind
}

type timer struct{ stop func() bool }

// schedule runs fn with the supervisor's context after d, replacing any
// timer with the same key. Nothing runs after Close, and Close waits for
// what runs.
func (s *Supervisor) schedule(key timerKey, d time.Duration, fn func(ctx context.Context)) {
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

func (s *Supervisor) cancelTimer(accountID string, kind timerKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := timerKey{accountID, kind}
	if t := s.timers[key]; t != nil {
		t.stop()
		delete(s.timers, key)
	}
}

func (s *Supervisor) cancelTimers(accountID string) {
	s.cancelTimer(accountID, timerActivation)
	s.cancelTimer(accountID, timerReconnect)
}

// every runs fn every interval until Close.
func (s *Supervisor) every(kind timerKind, interval time.Duration, fn func(ctx context.Context)) {
	var tick func(ctx context.Context)
	tick = func(ctx context.Context) {
		fn(ctx)
		s.schedule(timerKey{kind: kind}, interval, tick)
	}
	s.schedule(timerKey{kind: kind}, interval, tick)
}

// scheduleActivationTimeout resets the activation of ref at its deadline,
// unless it reached ACTIVE (or moved on) by then.
func (s *Supervisor) scheduleActivationTimeout(ref account.SessionRef, at time.Time) {
	s.schedule(timerKey{ref.AccountID, timerActivation}, at.Sub(s.opts.Clock.Now()), func(ctx context.Context) {
		step, err := s.accounts.ExpireActivation(account.WithEpoch(ctx, ref.Epoch), ref.AccountID, ref.SessionID)
		if err != nil {
			if !s.fenced(ref, err) && ctx.Err() == nil {
				s.accountLog(ref.AccountID).Error().Err(err).Msg("activation timeout")
			}
			return
		}
		s.apply(ctx, ref.AccountID, step)
	})
}

// scheduleReconnect starts reconnect attempt n of the session ref after
// its backoff.
func (s *Supervisor) scheduleReconnect(ref account.SessionRef, n int) {
	delay := s.backoff(n)
	s.metrics.ReconnectScheduled()
	s.accountLog(ref.AccountID).Info().Int("attempt", n).Dur("delay", delay).Msg("reconnect scheduled")
	s.schedule(timerKey{ref.AccountID, timerReconnect}, delay, func(ctx context.Context) {
		step, err := s.accounts.RenewSession(ctx, ref)
		if err != nil {
			if s.fenced(ref, err) {
				return
			}
			s.accountLog(ref.AccountID).Error().Err(err).Msg("scheduled reconnect")
			return
		}
		s.apply(ctx, ref.AccountID, step)
	})
}

// backoff is the delay before reconnect attempt n (1-based): exponential from
// the base delay, capped, with "equal jitter" (half fixed, half random) so
// many accounts dropped together do not reconnect in lockstep.
func (s *Supervisor) backoff(n int) time.Duration {
	d := s.opts.ReconnectBaseDelay
	for i := 1; i < n && d < s.opts.ReconnectMaxDelay; i++ {
		d *= 2
	}
	d = min(d, s.opts.ReconnectMaxDelay)
	return d/2 + time.Duration(s.opts.Jitter()*float64(d/2))
}
