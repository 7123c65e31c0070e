package message

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
	"wagraph/internal/ratelimit"
	"wagraph/internal/sending"
	"wagraph/internal/store"
)

// waitCode names why the limits refused a send, for Message.Wait.
func waitCode(a sending.Admission) string {
	if a.Pause != nil {
		return string(apperr.SendingPaused)
	}
	return string(apperr.RateLimited)
}

// hold records why a queued message waits and until when.
func (s *Service) hold(ctx context.Context, id, code string, until time.Time) error {
	_, err := s.DB.NewUpdate().Model((*messageRow)(nil)).
		Set("wait_code = ?", code).Set("wait_until = ?", until.UTC()).Set("updated_at = ?", s.now()).
		Where("id = ? AND status = ?", id, string(Queued)).Exec(ctx)
	if err != nil {
		return fmt.Errorf("message %s: hold: %w", id, err)
	}
	return nil
}

// markSending moves a queued message to SENDING under m.WAMessageID; false
// when it is no longer queued (canceled meanwhile).
func (s *Service) markSending(ctx context.Context, m *messageRow) (bool, error) {
	res, err := s.DB.NewUpdate().Model((*messageRow)(nil)).
		Set("status = ?", string(Sending)).Set("wa_message_id = ?", m.WAMessageID).
		Set("attempts = attempts + 1").Set("wait_code = NULL").Set("wait_until = NULL").Set("updated_at = ?", s.now()).
		Where("id = ? AND status = ?", m.ID, string(Queued)).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("message %s: mark sending: %w", m.ID, err)
	}
	n, _ := res.RowsAffected()
	if n == 1 {
		m.Status = Sending
		m.Attempts++
	}
	return n == 1, nil
}

// resume counts one more attempt of a message left SENDING by an attempt
// that got no answer (or a process that died).
func (s *Service) resume(ctx context.Context, m *messageRow) error {
	_, err := s.DB.NewUpdate().Model((*messageRow)(nil)).
		Set("attempts = attempts + 1").Set("updated_at = ?", s.now()).
		Where("id = ? AND status = ?", m.ID, string(Sending)).Exec(ctx)
	if err != nil {
		return fmt.Errorf("message %s: resume: %w", m.ID, err)
	}
	m.Attempts++
	return nil
}

// requeue puts a SENDING message that WhatsApp did not take back in the
// queue, waiting for code until until.
func (s *Service) requeue(ctx context.Context, m *messageRow, code string, until time.Time) error {
	_, err := s.DB.NewUpdate().Model((*messageRow)(nil)).
		Set("status = ?", string(Queued)).Set("wait_code = ?", code).Set("wait_until = ?", until.UTC()).Set("updated_at = ?", s.now()).
		Where("id = ? AND status = ?", m.ID, string(Sending)).Exec(ctx)
	if err != nil {
		return fmt.Errorf("message %s: requeue: %w", m.ID, err)
	}
	return nil
}

// markSent records WhatsApp's acceptance.
func (s *Service) markSent(ctx context.Context, m *messageRow, at time.Time) error {
	if at.IsZero() {
		at = s.opts.Now()
	}
	return s.finish(ctx, m, Sent, func(q *bun.UpdateQuery) *bun.UpdateQuery {
		return q.Set("sent_at = ?", at.UTC().Truncate(time.Microsecond))
	}, Sending)
}

// fail finishes a message as FAILED with a coded reason (suggestion ""
// takes the catalog's).
func (s *Service) fail(ctx context.Context, m *messageRow, code apperr.Code, msg, suggestion string) error {
	if suggestion == "" {
		suggestion = apperr.Suggestion(code)
	}
	s.log.Info().Str("message_id", m.ID).Str("account_id", m.AccountID).Str("code", string(code)).Str("error", msg).Msg("message failed")
	return s.finish(ctx, m, Failed, func(q *bun.UpdateQuery) *bun.UpdateQuery {
		return q.Set("error_code = ?", string(code)).Set("error_message = ?", msg).Set("error_suggestion = ?", suggestion)
	}, Queued, Sending)
}

// finish moves a message from one of the statuses from to the final
// status to, counts it in its batch in the same transaction, and publishes
// the batch's progress. A message no longer in from is left alone.
func (s *Service) finish(ctx context.Context, m *messageRow, to Status, set func(*bun.UpdateQuery) *bun.UpdateQuery, from ...Status) error {
	var progress *batchRow
	err := s.DB.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewUpdate().Model((*messageRow)(nil)).
			Set("status = ?", string(to)).Set("wait_code = NULL").Set("wait_until = NULL").Set("updated_at = ?", s.now()).
			Where("id = ?", m.ID).Where("status IN (?)", bun.In(from))
		res, err := set(q).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 || m.BatchID == "" {
			return nil
		}
		progress, err = countInBatch(ctx, s.DB, tx, m.BatchID, to, 1)
		return err
	})
	if err != nil {
		return fmt.Errorf("message %s: mark %s: %w", m.ID, to, err)
	}
	m.Status = to
	if progress != nil {
		s.publishProgress(ctx, progress)
	}
	return nil
}

// countInBatch adds n messages that reached status to to the batch's
// counts and returns the batch as it is now.
func countInBatch(ctx context.Context, db *store.DB, tx bun.IDB, batchID string, to Status, n int) (*batchRow, error) {
	col := map[Status]string{Sent: "sent", Failed: "failed", Canceled: "canceled"}[to]
	b := new(batchRow)
	err := db.Get(ctx, tx, b, "UPDATE message_batches SET "+col+" = "+col+" + $1, version = version + 1 WHERE id = $2 RETURNING *", n, batchID)
	if err != nil {
		return nil, fmt.Errorf("count in batch %s: %w", batchID, err)
	}
	return b, nil
}

// maxSpread bounds backlogSpread.
const maxSpread = 7 * 24 * time.Hour

// backlogSpread is how long the account's queued messages take to go at
// the pace of limit (its window over its maximum per message).
func (s *Service) backlogSpread(ctx context.Context, accountID string, limit ratelimit.Limit) (time.Duration, error) {
	if limit.Max <= 0 || limit.Window <= 0 {
		return 0, nil
	}
	n, err := s.DB.NewSelect().Model((*messageRow)(nil)).Where("m.account_id = ? AND m.status = ?", accountID, string(Queued)).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("message: count the account's queue: %w", err)
	}
	per := limit.Window / time.Duration(limit.Max)
	if n > 0 && per > maxSpread/time.Duration(n) {
		return maxSpread, nil
	}
	return time.Duration(n) * per, nil
}

// batchJitter is the jitter of m's batch (0 for a single message).
func (s *Service) batchJitter(ctx context.Context, m *messageRow) time.Duration {
	if m.BatchID == "" {
		return 0
	}
	var secs int
	if err := s.DB.NewSelect().Model((*batchRow)(nil)).Column("jitter_seconds").Where("b.id = ?", m.BatchID).Scan(ctx, &secs); err != nil {
		return 0
	}
	return time.Duration(secs) * time.Second
}
