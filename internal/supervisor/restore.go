package supervisor

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"wagraph/internal/account"
)

// restoreJob is a session to connect after start.
type restoreJob struct {
	ref account.SessionRef
	jid string
}

// restore looks at every account that was connected, connecting or linking
// when wagraph stopped, and lets the account service decide, before
// anything connects, what becomes of it (account.Service.Restore); the
// sessions to connect are returned as jobs for connectRestored.
// With several instances (leases) it looks only at the accounts this
// instance owns or has just taken (startLeases).
func (s *Supervisor) restore(ctx context.Context) ([]restoreJob, error) {
	var (
		cands []account.RestoreCandidate
		err   error
	)
	if s.lease != nil {
		var ids []string
		if ids, err = s.startLeases(ctx); err != nil {
			return nil, err
		}
		cands, err = s.accounts.RestoreCandidatesOf(ctx, ids)
	} else {
		cands, err = s.accounts.RestoreCandidates(ctx)
	}
	if err != nil {
		return nil, err
	}
	return s.restoreCandidates(ctx, cands), nil
}

// restoreCandidates restores each candidate and returns the sessions to
// connect.
func (s *Supervisor) restoreCandidates(ctx context.Context, cands []account.RestoreCandidate) []restoreJob {
	var jobs []restoreJob
	for _, c := range cands {
		job, result, err := s.restoreOne(ctx, c)
		if err != nil {
			result = "error"
			s.accountLog(c.AccountID).Error().Err(err).Msg("restore failed; the account stays as it was")
		}
		s.metrics.Restored(result)
		if job != nil {
			jobs = append(jobs, *job)
		}
	}
	s.log.Info().Int("accounts", len(cands)).Int("connecting", len(jobs)).Msg("accounts restored")
	return jobs
}

func (s *Supervisor) restoreOne(ctx context.Context, c account.RestoreCandidate) (*restoreJob, string, error) {
	if s.lease != nil {
		epoch, ok := s.lease.heldEpoch(c.AccountID)
		if !ok {
			return nil, "skipped", nil // lost again meanwhile
		}
		ctx = account.WithEpoch(ctx, epoch)
	}
	present := false
	if c.JID != "" {
		var err error
		if present, err = s.sessions.HasDevice(ctx, c.JID); err != nil {
			return nil, "", fmt.Errorf("look up device %s: %w", c.JID, err)
		}
	}
	step, result, err := s.accounts.Restore(ctx, c, present)
	if err != nil {
		if errors.Is(err, account.ErrStaleEpoch) {
			s.loseLease(c.AccountID, account.EpochFrom(ctx), "restore was refused: the lease epoch is stale")
			return nil, "skipped", nil
		}
		return nil, result, err
	}
	var job *restoreJob
	if step.Connect != nil {
		job = &restoreJob{ref: *step.Connect, jid: step.ConnectJID}
		step.Connect = nil // connectRestored connects, a few at a time
	}
	s.apply(ctx, c.AccountID, step)
	return job, result, nil
}

// connectRestored connects the restored sessions, at most RestoreConcurrency
// at a time, so a restart with many accounts does not storm WhatsApp.
func (s *Supervisor) connectRestored(ctx context.Context, jobs []restoreJob) {
	sem := make(chan struct{}, s.opts.RestoreConcurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, job := range jobs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s.connect(ctx, job.ref, job.jid)
		}()
	}
}
