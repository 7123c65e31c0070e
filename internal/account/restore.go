package account

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// restoreJob is a session to connect after start.
type restoreJob struct {
	ref SessionRef
	jid string
}

// restore looks at every account that was connected, connecting or linking
// when wagraph stopped, and decides, before anything connects: activations
// whose codes died with the process go back to PENDING, sessions whose
// stored device is gone become LOGGED_OUT (SESSION_MISSING), sessions idle
// past the limit become EXPIRED (SESSION_EXPIRED), and the rest are returned
// as jobs for connectRestored.
func (s *Service) restore(ctx context.Context) ([]restoreJob, error) {
	rows, err := s.accounts.inStatus(ctx, s.db.DB,
		StatusAwaitingScan, StatusAuthenticating, StatusWarming,
		StatusActive, StatusDisconnected, StatusReconnecting, StatusBanned)
	if err != nil {
		return nil, fmt.Errorf("account: restore: %w", err)
	}
	var jobs []restoreJob
	for _, r := range rows {
		job, result, err := s.restoreOne(ctx, r)
		if err != nil {
			result = "error"
			s.accountLog(r.ID).Error().Err(err).Msg("restore failed; the account stays as it was")
		}
		s.opts.Metrics.Restored(result)
		if job != nil {
			jobs = append(jobs, *job)
		}
	}
	s.log.Info().Int("accounts", len(rows)).Int("connecting", len(jobs)).Msg("accounts restored")
	return jobs, nil
}

// unchanged guards a restore decision against the account having moved since
// it was read.
func unchanged(r *accountRow) func(u *update) bool {
	return func(u *update) bool { return u.row.Status == r.Status && u.row.SessionID == r.SessionID }
}

func (s *Service) restoreOne(ctx context.Context, r *accountRow) (*restoreJob, string, error) {
	now := s.now()
	switch {
	case r.Status.Activating() && !r.ActivationExpiresAt.IsZero() && !now.Before(r.ActivationExpiresAt):
		err := s.expireActivation(ctx, r.ID, "")
		return nil, "timed_out", err
	case r.Status == StatusAwaitingScan:
		_, err := s.reset(ctx, r.ID, NewReason(ReasonActivationStopped, "wagraph restarted during the activation, so its codes are gone."), unchanged(r))
		return nil, "interrupted", err
	case r.Status == StatusDisconnected && r.ReasonCode == string(ReasonWAStreamReplaced):
		return nil, "left_disconnected", nil
	case r.Status == StatusBanned && now.Before(r.BannedUntil):
		return nil, "banned", nil
	}
	activating := r.Status.Activating()
	present := false
	if r.JID != "" {
		var err error
		if present, err = s.sessions.HasDevice(ctx, r.JID); err != nil {
			return nil, "", fmt.Errorf("look up device %s: %w", r.JID, err)
		}
	}
	if !present {
		if activating {
			_, err := s.reset(ctx, r.ID, NewReason(ReasonActivationStopped, "wagraph restarted during the activation and no paired device was saved."), unchanged(r))
			return nil, "interrupted", err
		}
		_, err := s.modify(ctx, r.ID, func(u *update) error {
			if !unchanged(r)(u) {
				return errSkip
			}
			u.move(StatusLoggedOut, reason(ReasonSessionMissing))
			u.row.clearDevice()
			u.row.SessionID = ""
			return nil
		})
		return nil, "session_missing", err
	}
	if !activating {
		last := lastActivity(r)
		if idle := now.Sub(last); idle >= s.opts.SessionIdleLimit {
			_, err := s.modify(ctx, r.ID, func(u *update) error {
				if !unchanged(r)(u) {
					return errSkip
				}
				msg := fmt.Sprintf("No activity since %s (%s); WhatsApp has most likely unlinked this device.", last.Format(time.DateOnly), describeDuration(idle))
				u.move(StatusExpired, NewReason(ReasonSessionExpired, msg))
				u.row.SessionID = ""
				u.row.BannedUntil = time.Time{}
				return nil
			})
			return nil, "session_expired", err
		}
	}
	ref := SessionRef{AccountID: r.ID, SessionID: newID()}
	res, err := s.modify(ctx, r.ID, func(u *update) error {
		if !unchanged(r)(u) {
			return errSkip
		}
		u.row.SessionID = ref.SessionID
		switch u.row.Status {
		case StatusBanned:
			u.move(StatusReconnecting, reason(ReasonBanExpired))
			u.row.BannedUntil = time.Time{}
			u.row.ReconnectAttempts = 0
		case StatusActive, StatusDisconnected:
			u.move(StatusReconnecting, reason(ReasonRestoring))
		}
		return nil
	})
	if err != nil || res.skipped {
		return nil, "skipped", err
	}
	if activating {
		s.scheduleActivationTimeout(r.ID, ref.SessionID, r.ActivationExpiresAt)
	}
	return &restoreJob{ref: ref, jid: r.JID}, "connecting", nil
}

// lastActivity is the last time the account's session was known to be alive.
func lastActivity(r *accountRow) time.Time {
	for _, t := range []time.Time{r.LastActiveAt, r.LastConnectedAt} {
		if !t.IsZero() {
			return t
		}
	}
	return r.UpdatedAt
}

// connectRestored connects the restored sessions, at most RestoreConcurrency
// at a time, so a restart with many accounts does not storm WhatsApp.
func (s *Service) connectRestored(ctx context.Context, jobs []restoreJob) {
	sem := make(chan struct{}, s.opts.RestoreConcurrency)
	var wg sync.WaitGroup
	for _, job := range jobs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s.connect(ctx, job.ref, job.jid)
		}()
	}
	wg.Wait()
}
