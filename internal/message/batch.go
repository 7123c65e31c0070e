package message

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
	"wagraph/internal/contact"
	"wagraph/internal/paging"
)

// Bounds of a batch's timing.
const (
	// MaxJitterSeconds bounds the random gap between a batch's sends.
	MaxJitterSeconds = 3600
	// MaxStartDelay is how far ahead a batch may be scheduled.
	MaxStartDelay = 30 * 24 * time.Hour
	// insertChunk is how many messages (and jobs) one statement inserts.
	insertChunk = 500
)

// QueueInput is a batch to queue (queueMessages).
type QueueInput struct {
	AccountID string
	// Recipients are contacts: by ids, or a filter (a persona is
	// Filter{PersonaID}).
	Recipients contact.Selection
	// Text is the template: see template for the placeholders.
	Text string
	// StartAt is when the first message may go; zero (or past) is now.
	StartAt time.Time
	// JitterSeconds: each message is scheduled a random 0 to JitterSeconds
	// after the one before it, and a message the limits held back waits a
	// random 0 to JitterSeconds more, so the sends do not come at even
	// intervals.
	JitterSeconds int
}

// Batch is a set of messages queued together.
type Batch struct {
	ID            string
	AccountID     string
	Text          string
	StartAt       time.Time
	JitterSeconds int
	// Total is how many messages were queued.
	Total int
	// SkippedOptedOut and SkippedNoPhone count selected contacts that got
	// no message.
	SkippedOptedOut int
	SkippedNoPhone  int
	Sent            int
	Failed          int
	Canceled        int
	// Version increases with every change of the counts.
	Version    int64
	CreatedAt  time.Time
	CanceledAt time.Time
}

// Pending is how many messages are not finished yet.
func (b *Batch) Pending() int { return b.Total - b.Sent - b.Failed - b.Canceled }

// Done reports that every message is finished.
func (b *Batch) Done() bool { return b.Pending() == 0 }

func (r *batchRow) toBatch() *Batch {
	return &Batch{
		ID: r.ID, AccountID: r.AccountID, Text: r.Template, StartAt: r.StartAt, JitterSeconds: r.JitterSeconds,
		Total: r.Total, SkippedOptedOut: r.SkippedOptedOut, SkippedNoPhone: r.SkippedNoPhone,
		Sent: r.Sent, Failed: r.Failed, Canceled: r.Canceled, Version: r.Version,
		CreatedAt: r.CreatedAt, CanceledAt: r.CanceledAt,
	}
}

func randomJitter(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(max) + 1))
}

// Queue makes a batch: one message per selected contact with the template
// filled in, each its own send job, all inserted in one transaction.
// Opted-out contacts and contacts without a number are skipped and
// counted. The selection may name at most Options.MaxBatch contacts.
func (s *Service) Queue(ctx context.Context, in QueueInput) (*Batch, error) {
	if _, err := checkText("text", in.Text); err != nil {
		return nil, err
	}
	tmpl, err := parseTemplate("text", in.Text)
	if err != nil {
		return nil, err
	}
	if in.JitterSeconds < 0 || in.JitterSeconds > MaxJitterSeconds {
		return nil, apperr.Invalid("jitterSeconds", fmt.Sprintf("jitterSeconds must be between 0 and %d", MaxJitterSeconds),
			"Give the most seconds to wait at random between two sends, e.g. 30.")
	}
	now := s.now()
	start := in.StartAt.UTC().Truncate(time.Microsecond)
	if start.Before(now) {
		start = now
	}
	if start.Sub(now) > MaxStartDelay {
		return nil, apperr.Invalid("startAt", "startAt is more than 30 days ahead", "Schedule the batch at most 30 days ahead.")
	}
	if err := accountExists(ctx, s.DB, in.AccountID); err != nil {
		return nil, err
	}
	contacts, err := s.Contacts.Recipients(ctx, in.Recipients, s.opts.MaxBatch)
	if err != nil {
		return nil, err
	}
	if len(contacts) > s.opts.MaxBatch {
		return nil, apperr.Invalid("recipients", fmt.Sprintf("the selection has more than %d contacts, the most one batch takes", s.opts.MaxBatch),
			"Split the recipients, e.g. into several personas, and queue one batch each.")
	}
	if len(contacts) == 0 {
		return nil, apperr.Invalid("recipients", "the selection has no contacts", "Select contacts by ids, a persona or a filter that matches some.")
	}
	laneOpts, err := s.laneOpts(ctx, in.AccountID)
	if err != nil {
		return nil, err
	}
	b := &batchRow{ID: newID(), AccountID: in.AccountID, Template: in.Text, StartAt: start, JitterSeconds: in.JitterSeconds, CreatedAt: now}
	rows := make([]*messageRow, 0, len(contacts))
	at := start
	var jobs []river.InsertManyParams
	for _, c := range contacts {
		switch {
		case c.OptedOut:
			b.SkippedOptedOut++
			continue
		case c.Phone == "":
			b.SkippedNoPhone++
			continue
		}
		text := tmpl.render(c)
		if text == "" {
			text = in.Text // a template of placeholders only, all empty: say it as written rather than nothing
		}
		r := &messageRow{ID: newID(), AccountID: in.AccountID, BatchID: b.ID, Recipient: c.Phone, ContactID: c.ID,
			Body: text, Status: Queued, CreatedAt: now, UpdatedAt: now}
		rows = append(rows, r)
		opts := *laneOpts
		if at.After(now) {
			opts.ScheduledAt = at
		}
		jobs = append(jobs, river.InsertManyParams{Args: SendArgs{MessageID: r.ID}, InsertOpts: &opts})
		at = at.Add(s.opts.Jitter(time.Duration(in.JitterSeconds) * time.Second))
	}
	b.Total = len(rows)
	err = s.DB.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(b).Exec(ctx); err != nil {
			return err
		}
		for i := 0; i < len(rows); i += insertChunk {
			chunk := rows[i:min(i+insertChunk, len(rows))]
			if _, err := tx.NewInsert().Model(&chunk).Exec(ctx); err != nil {
				return err
			}
			if _, err := s.Jobs.EnqueueMany(ctx, tx, jobs[i:min(i+insertChunk, len(jobs))]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("message: queue batch: %w", err)
	}
	s.log.Info().Str("batch_id", b.ID).Str("account_id", b.AccountID).Int("queued", b.Total).
		Int("skipped_opted_out", b.SkippedOptedOut).Int("skipped_no_phone", b.SkippedNoPhone).Msg("batch queued")
	return b.toBatch(), nil
}

// GetBatch returns one batch with its counts.
func (s *Service) GetBatch(ctx context.Context, id string) (*Batch, error) {
	r, err := getBatch(ctx, s.DB, id)
	if err != nil {
		return nil, err
	}
	return r.toBatch(), nil
}

// BatchPage is one page of batches.
type BatchPage struct {
	Batches     []*Batch
	HasNextPage bool
	TotalCount  int
}

// ListBatches returns an account's batches, newest first.
func (s *Service) ListBatches(ctx context.Context, accountID string, first *int, after string) (*BatchPage, error) {
	n, err := paging.Size(first)
	if err != nil {
		return nil, err
	}
	total, err := s.DB.NewSelect().Model((*batchRow)(nil)).Where("b.account_id = ?", accountID).Count(ctx)
	if err != nil {
		return nil, fmt.Errorf("message: count batches: %w", err)
	}
	page := &BatchPage{TotalCount: int(total)}
	var rows []*batchRow
	q := s.DB.NewSelect().Model(&rows).Where("b.account_id = ?", accountID).OrderExpr("b.id DESC").Limit(int64(n) + 1)
	if after != "" {
		id, err := parseCursor(after)
		if err != nil {
			return nil, err
		}
		q = q.Where("b.id < ?", id)
	}
	if n > 0 {
		if err := q.Scan(ctx); err != nil {
			return nil, fmt.Errorf("message: list batches: %w", err)
		}
	}
	if len(rows) > n {
		rows, page.HasNextPage = rows[:n], true
	}
	for _, r := range rows {
		page.Batches = append(page.Batches, r.toBatch())
	}
	return page, nil
}

// CancelBatch cancels every message of the batch that has not gone to
// WhatsApp yet (QUEUED); a message being sent at that moment finishes.
// Canceling a batch again changes nothing.
func (s *Service) CancelBatch(ctx context.Context, id string) (*Batch, error) {
	var b *batchRow
	err := s.DB.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if b, err = getBatch(ctx, tx, id); err != nil {
			return err
		}
		res, err := tx.NewUpdate().Model((*messageRow)(nil)).
			Set("status = ?", string(Canceled)).Set("wait_code = NULL").Set("wait_until = NULL").Set("updated_at = ?", s.now()).
			Where("batch_id = ? AND status = ?", id, string(Queued)).Exec(ctx)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		if _, err := tx.NewUpdate().Model((*batchRow)(nil)).Set("canceled_at = ?", s.now()).
			Where("id = ? AND canceled_at IS NULL", id).Exec(ctx); err != nil {
			return err
		}
		if n == 0 {
			b, err = getBatch(ctx, tx, id)
			return err
		}
		b, err = countInBatch(ctx, s.DB, tx, id, Canceled, int(n))
		return err
	})
	if err != nil {
		if _, coded := apperr.As(err); coded {
			return nil, err
		}
		return nil, fmt.Errorf("message: cancel batch %s: %w", id, err)
	}
	s.log.Info().Str("batch_id", id).Int("canceled", b.Canceled).Msg("batch canceled")
	s.publishProgress(ctx, b)
	return b.toBatch(), nil
}
