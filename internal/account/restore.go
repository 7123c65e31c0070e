package account

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// RestoreCandidate is an account that was connected, connecting or linking
// when wagraph stopped, as read at start.
type RestoreCandidate struct {
	AccountID string
	// JID is its stored device, if any; the runtime says whether the device
	// still exists.
	JID string
	row *accountRow
}

// SessionStatuses are the statuses of accounts that have (or are to get) a
// live session: the ones a start restores, and the ones an instance of
// several must own (internal/supervisor, lease.go).
var SessionStatuses = []Status{
	StatusAwaitingScan, StatusAuthenticating, StatusWarming,
	StatusActive, StatusDisconnected, StatusReconnecting, StatusBanned,
}

// RestoreCandidates lists the accounts a start has to look at.
func (s *Service) RestoreCandidates(ctx context.Context) ([]RestoreCandidate, error) {
	rows, err := s.accounts.inStatus(ctx, s.db.DB, SessionStatuses...)
	if err != nil {
		return nil, fmt.Errorf("account: restore: %w", err)
	}
	return candidates(rows), nil
}

// RestoreCandidatesOf is RestoreCandidates limited to the accounts ids: the
// ones an instance of several owns or has just taken over.
func (s *Service) RestoreCandidatesOf(ctx context.Context, ids []string) ([]RestoreCandidate, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []*accountRow
	err := s.db.NewSelect().Model(&rows).
		Where("status IN (?)", bun.In(SessionStatuses)).
		Where("id IN (?)", bun.In(ids)).
		OrderExpr("id ASC").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("account: restore: %w", err)
	}
	return candidates(rows), nil
}

func candidates(rows []*accountRow) []RestoreCandidate {
	out := make([]RestoreCandidate, len(rows))
	for i, r := range rows {
		out[i] = RestoreCandidate{AccountID: r.ID, JID: r.JID, row: r}
	}
	return out
}

// unchanged guards a restore decision against the account having moved since
// it was read.
func unchanged(r *accountRow) func(u *update) bool {
	return func(u *update) bool { return u.row.Status == r.Status && u.row.SessionID == r.SessionID }
}

// Restore decides what becomes of a candidate, before anything connects:
// activations whose codes died with the process go back to PENDING,
// sessions whose stored device is gone (devicePresent false) become
// LOGGED_OUT (SESSION_MISSING), sessions idle past the limit become EXPIRED
// (SESSION_EXPIRED), and the rest get a new session that the step connects
// (with the activation deadline re-armed for an activation). result names
// the outcome for the metrics.
func (s *Service) Restore(ctx context.Context, c RestoreCandidate, devicePresent bool) (step Step, result string, err error) {
	r := c.row
	now := s.now()
	switch {
	case r.Status.Activating() && !r.ActivationExpiresAt.IsZero() && !now.Before(r.ActivationExpiresAt):
		step, err := s.ExpireActivation(ctx, r.ID, "")
		return step, "timed_out", err
	case r.Status == StatusAwaitingScan:
		step, err := s.reset(ctx, r.ID, NewReason(ReasonActivationStopped, "wagraph restarted during the activation, so its codes are gone."), unchanged(r))
		return step, "interrupted", err
	case r.Status == StatusDisconnected && r.ReasonCode == string(ReasonWAStreamReplaced):
		return Step{Skipped: true}, "left_disconnected", nil
	case r.Status == StatusBanned && now.Before(r.BannedUntil):
		return Step{Skipped: true}, "banned", nil
	}
	activating := r.Status.Activating()
	if r.JID == "" || !devicePresent {
		if activating {
			step, err := s.reset(ctx, r.ID, NewReason(ReasonActivationStopped, "wagraph restarted during the activation and no paired device was saved."), unchanged(r))
			return step, "interrupted", err
		}
		res, err := s.modify(ctx, r.ID, func(u *update) error {
			if !unchanged(r)(u) {
				return errSkip
			}
			u.move(StatusLoggedOut, reason(ReasonSessionMissing))
			u.row.clearDevice()
			u.row.SessionID = ""
			return nil
		})
		if err != nil {
			return Step{}, "session_missing", err
		}
		return s.stepOf(res), "session_missing", nil
	}
	if !activating {
		last := lastActivity(r)
		if idle := now.Sub(last); idle >= s.opts.SessionIdleLimit {
			res, err := s.modify(ctx, r.ID, func(u *update) error {
				if !unchanged(r)(u) {
					return errSkip
				}
				msg := fmt.Sprintf("No activity since %s (%s); WhatsApp has most likely unlinked this device.", last.Format(time.DateOnly), describeDuration(idle))
				u.move(StatusExpired, NewReason(ReasonSessionExpired, msg))
				u.row.SessionID = ""
				u.row.BannedUntil = time.Time{}
				return nil
			})
			if err != nil {
				return Step{}, "session_expired", err
			}
			return s.stepOf(res), "session_expired", nil
		}
	}
	ref := newRef(ctx, r.ID)
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
	if err != nil {
		return Step{}, "skipped", err
	}
	step = s.stepOf(res)
	if step.Skipped {
		return step, "skipped", nil
	}
	if activating {
		step.ActivationDeadline, step.ActivationRef = r.ActivationExpiresAt, ref
	}
	step.Connect, step.ConnectJID = &ref, r.JID
	return step, "connecting", nil
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
