package supervisor

import "context"

// Recording activity stays with the instance: it is about the live sessions
// this process runs, which no other instance (and so no leader-only job)
// can see. Connected events stamp last_active_at already; this timer keeps
// it current for sessions that stay connected for days, so restore can tell
// a long-lived session from an idle one, and Close stamps it once more.

// scheduleActivity records the activity of this instance's connected
// sessions every ActivityInterval until Close.
func (s *Supervisor) scheduleActivity() {
	s.every(timerActivity, s.opts.ActivityInterval, func(ctx context.Context) {
		if _, err := s.RecordActivity(ctx); err != nil && ctx.Err() == nil {
			s.log.Error().Err(err).Msg("record session activity failed")
		}
	})
}

// RecordActivity stamps last_active_at on ACTIVE accounts whose session on
// this instance is connected right now, and returns how many there were.
func (s *Supervisor) RecordActivity(ctx context.Context) (int, error) {
	ids, err := s.accounts.ActiveAccountIDs(ctx)
	if err != nil {
		return 0, err
	}
	var live []string
	for _, id := range ids {
		if _, connected := s.sessions.Live(id); connected {
			live = append(live, id)
		}
	}
	s.log.Debug().Int("active", len(live)).Msg("session activity recorded")
	return len(live), s.accounts.RecordActivity(ctx, live)
}
