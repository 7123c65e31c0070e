package contact

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
	"wagraph/internal/jobs"
)

// RegisterJobs registers the scrape worker.
func (g *GroupService) RegisterJobs(r *jobs.Registry) {
	jobs.AddWorker(r, &scrapeWorker{g: g})
}

type scrapeWorker struct {
	river.WorkerDefaults[ScrapeArgs]
	g *GroupService
}

// Timeout implements river.Worker: a run may take GroupOptions.JobTimeout
// rather than River's one minute, which the listing step of an account in
// hundreds of big groups outlasts (and then starts over on every retry).
func (w *scrapeWorker) Timeout(*river.Job[ScrapeArgs]) time.Duration { return w.g.opts.JobTimeout }

// errScrapeCanceled ends the River job of a scrape canceled meanwhile.
var errScrapeCanceled = errors.New("contact: scrape canceled")

// Work runs a slice of the scrape: each group is read from WhatsApp and
// written (members as contacts, provenance, persona links, the progress
// counters and the group's checkpoint) in one transaction, so a run killed
// at any point resumes after the last committed group and writes nothing
// twice. A rate-overlimit answer snoozes the job (not an attempt); after
// Slice the job snoozes itself to continue in its next run.
func (w *scrapeWorker) Work(ctx context.Context, job *river.Job[ScrapeArgs]) error {
	err := w.g.work(ctx, job.ID, job.Args.AccountID)
	var snooze *river.JobSnoozeError
	var cancel *river.JobCancelError
	if err == nil || errors.As(err, &snooze) || errors.As(err, &cancel) || ctx.Err() != nil {
		return err
	}
	w.g.noteError(context.WithoutCancel(ctx), job.ID, err, job.Attempt >= job.MaxAttempts)
	return err
}

func (g *GroupService) work(ctx context.Context, id int64, accountID string) error {
	row, err := g.loadScrape(ctx, g.db, id)
	if err != nil {
		var e *apperr.Error
		if errors.As(err, &e) && e.Code == apperr.NotFound {
			return river.JobCancel(err)
		}
		return err
	}
	switch ScrapeState(row.State) {
	case ScrapeCanceled:
		return river.JobCancel(errScrapeCanceled)
	case ScrapeDone, ScrapeFailed:
		return nil
	}
	deadline := time.Now().Add(g.opts.Slice)
	if err := g.markRunning(ctx, row); err != nil {
		return err
	}
	if !row.TargetsReady {
		if err := g.resolveTargets(ctx, row); err != nil {
			return err
		}
	}
	for {
		jid, ok, err := g.nextGroup(ctx, row)
		if err != nil || !ok {
			if err != nil {
				return err
			}
			return g.finish(ctx, id)
		}
		if time.Now().After(deadline) {
			return river.JobSnooze(0) // the rest in the next run
		}
		if err := g.pacer.wait(ctx, accountID); err != nil {
			return err
		}
		info, err := g.whatsapp().GroupInfo(ctx, accountID, jid)
		g.opts.Metrics.WhatsAppCall("group_info", err)
		switch {
		case errors.Is(err, ErrRateLimited):
			return g.backOff(ctx, id)
		case errors.Is(err, ErrGroupNotFound):
			if err := g.skipGroup(ctx, id, jid, "WhatsApp does not know the group or the account is not in it"); err != nil {
				return err
			}
			continue
		case err != nil:
			return fmt.Errorf("read group %s: %w", jid, err)
		}
		info.AccountID, info.JID = accountID, jid
		if err := g.scrapeGroup(ctx, row, info); err != nil {
			return err
		}
	}
}

// markRunning records that a run started (or resumed after waiting).
func (g *GroupService) markRunning(ctx context.Context, row *scrapeRow) error {
	if row.State == string(ScrapeRunning) {
		return nil
	}
	now := g.svc.now()
	q := g.db.NewUpdate().Model((*scrapeRow)(nil))
	if row.State == string(ScrapeWaiting) {
		q = q.Set("last_error = ''") // the rate limit it waited for is over
	}
	res, err := q.
		Set("state = ?", ScrapeRunning).Set("resume_at = NULL").Set("updated_at = ?", now).
		Set("started_at = COALESCE(started_at, ?)", now).Set("version = version + 1").
		Where("id = ? AND state IN (?)", row.ID, bun.In([]string{string(ScrapeQueued), string(ScrapeWaiting)})).Exec(ctx)
	if err != nil {
		return fmt.Errorf("contact: start scrape: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return river.JobCancel(errScrapeCanceled) // canceled meanwhile
	}
	g.publishCurrent(ctx, row.ID)
	return nil
}

// resolveTargets lists the account's groups (one call) for a scrape of all
// of them, storing them as refreshGroups does, and makes them the job's.
func (g *GroupService) resolveTargets(ctx context.Context, row *scrapeRow) error {
	if err := g.pacer.wait(ctx, row.AccountID); err != nil {
		return err
	}
	began := time.Now()
	groups, err := g.whatsapp().JoinedGroups(ctx, row.AccountID)
	g.opts.Metrics.WhatsAppCall("joined_groups", err)
	listed := time.Since(began)
	if errors.Is(err, ErrRateLimited) {
		return g.backOff(ctx, row.ID)
	}
	if err != nil {
		return fmt.Errorf("list groups: %w", err)
	}
	// The groups alone: each group's members are written when it is
	// scraped, which keeps this step short for accounts in many groups.
	if err := g.storeJoined(ctx, row.AccountID, groups, false); err != nil {
		return err
	}
	jids := make([]string, 0, len(groups))
	for _, wg := range groups {
		jids = append(jids, wg.JID)
	}
	err = g.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := insertScrapeGroups(ctx, tx, row.ID, jids); err != nil {
			return err
		}
		_, err := tx.NewUpdate().Model((*scrapeRow)(nil)).
			Set("targets_ready = TRUE").Set("groups_total = ?", len(jids)).Set("version = version + 1").
			Set("updated_at = ?", g.svc.now()).Where("id = ?", row.ID).Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("contact: save scrape targets: %w", err)
	}
	row.TargetsReady = true
	g.log.Info().Int64("scrape_id", row.ID).Str("account_id", row.AccountID).Int("groups", len(jids)).
		Dur("list", listed).Dur("store", time.Since(began)-listed).Msg("scrape listed the account's groups")
	g.publishCurrent(ctx, row.ID)
	return nil
}

// nextGroup is the job's next group not done, in JID order; it also sees
// a cancel that came meanwhile.
func (g *GroupService) nextGroup(ctx context.Context, row *scrapeRow) (string, bool, error) {
	var state string
	if err := g.db.NewSelect().Table("scrape_jobs").Column("state").Where("id = ?", row.ID).Scan(ctx, &state); err != nil {
		return "", false, fmt.Errorf("contact: load scrape state: %w", err)
	}
	if state == string(ScrapeCanceled) {
		return "", false, river.JobCancel(errScrapeCanceled)
	}
	var jids []string
	err := g.db.NewSelect().Table("scrape_job_groups").Column("group_jid").
		Where("scrape_id = ? AND done_at IS NULL", row.ID).OrderExpr("group_jid ASC").Limit(1).Scan(ctx, &jids)
	if err != nil {
		return "", false, fmt.Errorf("contact: next scrape group: %w", err)
	}
	if len(jids) == 0 {
		return "", false, nil
	}
	return jids[0], true, nil
}

// backOff records a rate-overlimit answer and snoozes the job: the wait
// doubles with each answer in a row, up to MaxBackoff.
func (g *GroupService) backOff(ctx context.Context, id int64) error {
	row, err := g.loadScrape(ctx, g.db, id)
	if err != nil {
		return err
	}
	d := g.opts.Backoff
	for i := 0; i < row.RateLimited && d < g.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, g.opts.MaxBackoff)
	now := g.svc.now()
	resume := now.Add(d)
	_, err = g.db.NewUpdate().Model((*scrapeRow)(nil)).
		Set("state = ?", ScrapeWaiting).Set("rate_limited = rate_limited + 1").Set("resume_at = ?", resume).
		Set("last_error = ?", "WhatsApp answered rate-overlimit (429); resuming at "+resume.Format(time.RFC3339)).
		Set("version = version + 1").Set("updated_at = ?", now).
		Where("id = ? AND state = ?", id, ScrapeRunning).Exec(ctx)
	if err != nil {
		return fmt.Errorf("contact: record rate limit: %w", err)
	}
	g.pacer.holdOff(row.AccountID, d)
	g.log.Warn().Int64("scrape_id", id).Str("account_id", row.AccountID).Dur("wait", d).Msg("WhatsApp rate-overlimit; scrape waits")
	g.publishCurrent(ctx, id)
	return river.JobSnooze(d)
}

// skipGroup marks a group done with an error (the job goes on).
func (g *GroupService) skipGroup(ctx context.Context, id int64, jid, reason string) error {
	now := g.svc.now()
	err := g.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewUpdate().Model((*scrapeGroupRow)(nil)).Set("done_at = ?", now).Set("error = ?", reason).
			Where("scrape_id = ? AND group_jid = ?", id, jid).Exec(ctx); err != nil {
			return err
		}
		_, err := tx.NewUpdate().Model((*scrapeRow)(nil)).
			Set("groups_done = groups_done + 1").Set("errors = errors + 1").Set("last_error = ?", jid+": "+reason).
			Set("version = version + 1").Set("updated_at = ?", now).Where("id = ?", id).Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("contact: skip scrape group: %w", err)
	}
	g.publishCurrent(ctx, id)
	return nil
}

// finish marks the job DONE.
func (g *GroupService) finish(ctx context.Context, id int64) error {
	now := g.svc.now()
	res, err := g.db.NewUpdate().Model((*scrapeRow)(nil)).
		Set("state = ?", ScrapeDone).Set("finished_at = ?", now).Set("resume_at = NULL").
		Set("version = version + 1").Set("updated_at = ?", now).
		Where("id = ? AND state = ?", id, ScrapeRunning).Exec(ctx)
	if err != nil {
		return fmt.Errorf("contact: finish scrape: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return river.JobCancel(errScrapeCanceled)
	}
	g.opts.Metrics.ScrapeFinished(ScrapeDone)
	job := g.publishCurrent(ctx, id)
	if job != nil {
		g.log.Info().Int64("scrape_id", id).Int("groups", job.GroupsDone).Int("members", job.MembersSeen).
			Int("created", job.ContactsCreated).Int("merged", job.ContactsMerged).Int("errors", job.Errors).Msg("scrape done")
	}
	return nil
}

// noteError records a failed run; on the last attempt the job is FAILED.
func (g *GroupService) noteError(ctx context.Context, id int64, cause error, last bool) {
	now := g.svc.now()
	q := g.db.NewUpdate().Model((*scrapeRow)(nil)).Set("last_error = ?", cause.Error()).
		Set("version = version + 1").Set("updated_at = ?", now).
		Where("id = ? AND state IN (?)", id, bun.In([]string{string(ScrapeQueued), string(ScrapeRunning), string(ScrapeWaiting)}))
	if last {
		q = q.Set("state = ?", ScrapeFailed).Set("finished_at = ?", now).Set("errors = errors + 1")
	}
	res, err := q.Exec(ctx)
	if err != nil {
		g.log.Warn().Err(err).Int64("scrape_id", id).Msg("scrape error not recorded")
		return
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return
	}
	if last {
		g.opts.Metrics.ScrapeFinished(ScrapeFailed)
	}
	g.publishCurrent(ctx, id)
}

// publishCurrent publishes the job as stored and returns it.
func (g *GroupService) publishCurrent(ctx context.Context, id int64) *ScrapeJob {
	job, err := g.GetScrape(context.WithoutCancel(ctx), id)
	if err != nil {
		g.log.Warn().Err(err).Int64("scrape_id", id).Msg("scrape progress not loaded")
		return nil
	}
	g.publish(ctx, job)
	return job
}
